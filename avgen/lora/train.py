"""LoRA fine-tuning (Hu et al., arXiv 2106.09685) of a text-to-audio denoiser on a captioned folder.

``avgen finetune audio --data DIR --base models/audio --rank 8 --out adapter/`` trains only
low-rank matrices added to the denoiser's attention and MLP Linear layers (peft); the VAE, the
vocoder, the text encoders and every base weight stay frozen. Two kinds of base:

- an avgen audio model folder (``pipeline.json``; default the shipped ``avgen/models/audio``):
  LoRA on the AudioDenoiser's self-attention, cross-attention and MLP layers
  (``avgen.lora.AVGEN_TARGETS``), trained exactly as ``avgen.train.audio`` trains the
  denoiser: rectified flow on the base VAE's latents of ``--seconds`` windows, frozen MiniLM
  text, 10 % condition dropout to the null condition, 30 % tempo dropout;
- a diffusers pipeline folder (``model_index.json``) of AudioLDM (arXiv 2301.12503) or
  AudioLDM 2 (arXiv 2308.05734): LoRA on the UNet's attention projections and feed-forward
  layers (``UNET_TARGETS``), trained as ``avgen.lora.unet`` describes (latents from the
  pipeline's own VAE, text from its own encoders, DDPM noising and the objective of its
  scheduler config).

The loop is ``avgen.train.common.ComponentLoop`` under Accelerate (``accelerate launch`` for
several processes): resumable checkpoints of the LoRA tensors and optimizer in
``OUT/checkpoints/lora/``, a loss log ``OUT/train_log.jsonl``, a progress bar, SIGTERM stops
and saves. The adapter (``avgen.lora.adapter`` layout: peft's ``adapter_config.json`` +
``adapter_model.safetensors``, ``avgen_adapter.json``, ``MODEL_CARD.md``) is written to OUT at
every checkpoint and at the end (its card from ``avgen.lora.card``); ``OUT/cache/`` holds
latents and text encodings. ``python -m avgen.train.lora`` still runs this trainer.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shlex
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file
from torch import nn

from avgen.audio.mel import MelFrontEnd
from avgen.errors import AvgenError
from avgen.files import temp_path
from avgen.lora.adapter import (
    ADAPTER_FILES,
    AVGEN_TARGETS,
    UNET_TARGETS,
    base_signature,
    inject_lora,
    write_adapter,
)
from avgen.lora.card import adapter_card, hardware, last_loss, phrases
from avgen.train.audio import AudioData, denoiser_loss
from avgen.train.captions import caption_vocabulary, text_cache
from avgen.train.common import (
    STOP,
    Checkpointer,
    ComponentLoop,
    LossLog,
    make_accelerator,
    request_stop,
)
from avgen.train.options import add_loop_options, loop_options
from avgen.train.streams import seed_init

NAME = "lora"
RUN_FILE = "run.json"


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="avgen finetune audio",
        description="LoRA fine-tuning of a text-to-audio denoiser (avgen or AudioLDM / 2).",
    )
    p.add_argument("--data", required=True, type=Path, help="folder: metadata.jsonl + audio")
    p.add_argument("--base", default=None, help="avgen model folder (default: the shipped one) "
                   "or a diffusers AudioLDM / AudioLDM 2 folder")  # fmt: skip
    p.add_argument("--out", required=True, type=Path, help="adapter folder to write")
    p.add_argument("--prior-data", default=None, type=Path, help="optional folder of clips "
                   "the base already knows: prior-preservation batches (DreamBooth)")  # fmt: skip
    p.add_argument("--prior-weight", type=float, default=1.0, help="weight of the prior loss")
    p.add_argument("--prior-batch-size", type=int, default=None, help="default: --batch-size")
    p.add_argument("--rank", type=int, default=8, help="LoRA rank r (default 8)")
    p.add_argument("--alpha", type=float, default=None, help="LoRA alpha (default: the rank)")
    p.add_argument("--dropout", type=float, default=0.0, help="LoRA dropout (default 0)")
    p.add_argument("--targets", default=None, help="comma-separated module names or one regex")
    p.add_argument("--steps", type=int, default=1000, help="optimizer steps (default 1000)")
    p.add_argument("--batch-size", type=int, default=8, help="clips per step and process")
    p.add_argument("--lr", type=float, default=1e-3, help="peak learning rate (default 1e-3)")
    p.add_argument("--max-minutes", type=float, default=None, help="stop (and save) after M min")
    p.add_argument("--seconds", type=float, default=4.0, help="training window (s), default 4")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads per process")
    p.add_argument("--ema", action=argparse.BooleanOptionalAction, default=False,
                   help="save an EMA of the LoRA weights (default off)")  # fmt: skip
    p.add_argument("--checkpoint-every", type=int, default=100, help="steps between checkpoints")
    p.add_argument("--log-every", type=int, default=10, help="steps between loss-log lines")
    p.add_argument("--resume", action=argparse.BooleanOptionalAction, default=True)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    add_loop_options(p)
    return p


class LoraModule(nn.Module):
    """A base model with LoRA layers injected, seen by the loop as its LoRA tensors only:
    ``parameters()`` (optimizer, EMA, gradient clipping) and ``state_dict()`` (checkpoints)
    hold the trainable LoRA matrices and nothing of the frozen base."""

    def __init__(self, base: nn.Module) -> None:
        super().__init__()
        self.base = base

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        return self.base(*args, **kwargs)

    def named_parameters(self, *args: Any, **kwargs: Any):  # type: ignore[override]
        for name, p in super().named_parameters(*args, **kwargs):
            if p.requires_grad:
                yield name, p

    def state_dict(self, *args: Any, **kwargs: Any) -> dict[str, Any]:  # type: ignore[override]
        full = super().state_dict(*args, **kwargs)
        return {k: v for k, v in full.items() if ".lora_" in k}

    def load_state_dict(self, state: Any, strict: bool = True, assign: bool = False) -> Any:
        result = super().load_state_dict(state, strict=False, assign=assign)
        missing = [k for k in result.missing_keys if ".lora_" in k]
        if strict and (missing or result.unexpected_keys):
            raise AvgenError(
                f"the checkpoint does not fit these LoRA layers ({len(missing)} missing, "
                f"{len(result.unexpected_keys)} unexpected tensors); use --no-resume."
            )
        return result


def _targets(value: str | None, default: Any) -> Any:
    if not value:
        return default
    parts = [v.strip() for v in value.split(",") if v.strip()]
    return parts[0] if len(parts) == 1 and any(c in parts[0] for c in "\\()[]|*+?") else parts


def data_key(folder: Path, *extra: Any) -> str:
    """Cache key of a data folder's latents: its metadata, its path and ``extra`` settings."""
    h = hashlib.sha256((folder / "metadata.jsonl").read_bytes())
    h.update(repr((str(folder.resolve()), *extra)).encode())
    return h.hexdigest()[:16]


def save_tensors(path: Path, tensors: dict[str, torch.Tensor]) -> None:
    """Write a safetensors cache file atomically (temporary name, then rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_path(path)
    save_file(tensors, str(tmp))
    os.replace(tmp, path)


def base_kind(base_dir: Path) -> str:
    """The kind of base: "diffusers" (a pipeline folder) or "avgen" (an audio model folder)."""
    if (base_dir / "model_index.json").is_file():
        return "diffusers"
    if (base_dir / "pipeline.json").is_file():
        return "avgen"
    raise AvgenError(
        f"--base {base_dir} is neither an avgen audio model folder (pipeline.json) "
        "nor a diffusers pipeline folder (model_index.json)."
    )


def run_record(base: dict[str, Any], config: Any) -> dict[str, Any]:
    """What a resumed run must share with the stored one: base kind and architecture, rank,
    alpha and targets."""
    targets = config.target_modules
    return {
        "kind": base["kind"],
        "rank": config.r,
        "alpha": config.lora_alpha,
        "targets": targets if isinstance(targets, str) else sorted(targets),
        "architecture": base["architecture"],
    }


class LoraTrainer(ComponentLoop):
    """One LoRA run: load the base, cache latents and text, train, write the adapter."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.options = loop_options(args)
        self.acc = make_accelerator(self.options.mixed_precision)
        self.main = self.acc.is_main_process
        self.out: Path = args.out
        self.steps = {NAME: args.steps}
        self.lr = {NAME: args.lr}
        self.batch = {NAME: args.batch_size}
        self.minutes = {NAME: args.max_minutes}
        self.log = LossLog(self.out / "train_log.jsonl", enabled=self.main)
        self.quiet = args.quiet or not self.main
        self.started = time.time()
        self.data = _load_data(args.data, args.seconds, self.acc, self.quiet)
        self.prior = None
        if args.prior_data is not None:
            self.prior = _load_data(args.prior_data, args.seconds, self.acc, self.quiet)
        base = args.base
        if base is None:
            from avgen.pipelines.text_to_audio import default_audio_model_dir

            base = default_audio_model_dir()
        self.base_dir = Path(base)
        self.kind = base_kind(self.base_dir)
        self.base_label = str(args.base) if args.base is not None else "avgen/models/audio"

    # ------------------------------------------------------------------ data sets

    def datasets(self) -> list[tuple[str, AudioData]]:
        """("data", the fine-tuning clips) and, with --prior-data, ("prior", that folder)."""
        return [("data", self.data)] + ([("prior", self.prior)] if self.prior else [])

    def combine(self, losses: dict[str, Callable]) -> Callable:
        """The data loss plus --prior-weight times the loss on a random batch of the prior
        folder (DreamBooth's prior preservation, arXiv 2208.12242: it keeps the base model's
        behaviour on what it already knew while the LoRA learns the new domain)."""
        prior_batch = self.args.prior_batch_size or self.args.batch_size

        def loss_fn(m: nn.Module, idx: torch.Tensor, gen: torch.Generator) -> dict:
            out = {"data": losses["data"](m, idx, gen)}
            total = out["data"]
            if "prior" in losses:
                pidx = torch.randint(self.prior.n, (prior_batch,), generator=gen)
                out["prior"] = losses["prior"](m, pidx, gen)
                total = total + self.args.prior_weight * out["prior"]
            return {"total": total, **out} if "prior" in losses else {"total": total}

        return loss_fn

    # ------------------------------------------------------------------ avgen base

    def setup_avgen(self) -> tuple[nn.Module, Callable, dict[str, Any], set[str]]:
        """The shipped-style base: LoRA on AudioDenoiser, rectified flow on its VAE's latents."""
        from avgen.pipelines.text_to_audio import PIPELINE_CLASS, TextToAudioPipeline
        from avgen.prompts import read_model_vocabulary

        pipe = TextToAudioPipeline.from_pretrained(self.args.base)
        vae, denoiser = pipe.vae, pipe.denoiser
        losses = {}
        for name, ds in self.datasets():
            lat, frames = self.avgen_latents(vae, pipe.front_end, ds)
            cache = text_cache(ds, self.out, self.acc, self.quiet)
            losses[name] = denoiser_loss(ds, lat, frames, cache, self.acc.device)
        base = {
            "kind": "avgen",
            "pipeline_class": PIPELINE_CLASS,
            "component": "denoiser",
            "path": self.base_label,
            "model_id": pipe.model_id,
            **base_signature(denoiser),
        }
        try:
            vocab = read_model_vocabulary(self.base_dir)
        except AvgenError:
            vocab = set()
        return denoiser, self.combine(losses), base, vocab

    @torch.no_grad()
    def avgen_latents(
        self, vae: nn.Module, fe: MelFrontEnd, data: AudioData
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Scaled VAE posterior means of every window (N, C, 16, T') and real frames (N,)."""
        weights = hashlib.sha256(
            json.dumps(vae.config.to_dict(), sort_keys=True).encode()
            + b"".join(p.detach().cpu().float().numpy().tobytes() for p in vae.parameters())
        ).hexdigest()[:16]
        key = data_key(data.folder, data.n, self.args.seconds, weights)
        path = self.out / "cache" / f"latents_{key}.safetensors"
        with self.acc.main_process_first():
            if not path.is_file():
                from tqdm import tqdm

                vae.eval()
                chunks = []
                for s in tqdm(range(0, data.n, 32), desc="latents", disable=self.quiet):
                    wave, _ = data.waves(torch.arange(s, min(s + 32, data.n)))
                    chunks.append(vae.to_diffusion(fe(wave)))
                frames = vae.latent_frames(data.length // fe.hop)
                save_tensors(path, {"latents": torch.cat(chunks).contiguous(), "frames": frames})
        stored = load_file(str(path))
        return stored["latents"], stored["frames"]

    # ------------------------------------------------------------------ diffusers base

    def setup_diffusers(self) -> tuple[nn.Module, Callable, dict[str, Any], set[str]]:
        """AudioLDM / AudioLDM 2: LoRA on the UNet (``avgen.lora.unet``)."""
        from avgen.lora.unet import setup_diffusers

        return setup_diffusers(self)

    # ------------------------------------------------------------------ run

    def lora_config(self, default_targets: Any) -> Any:
        from peft import LoraConfig

        args = self.args
        return LoraConfig(
            r=args.rank,
            lora_alpha=float(args.alpha if args.alpha is not None else args.rank),
            lora_dropout=args.dropout,
            target_modules=_targets(args.targets, default_targets),
            init_lora_weights=True,
        )

    def check_resume(self, run: dict[str, Any]) -> dict[str, Any]:
        """A resumed run must have the same base and LoRA shape; returns the stored record."""
        path = self.out / "checkpoints" / NAME / RUN_FILE
        if not (self.args.resume and path.is_file()):
            return {"train_s": 0.0}
        stored = json.loads(path.read_text())
        for key in ("rank", "alpha", "targets", "architecture", "kind"):
            if stored.get(key) != run.get(key):
                raise AvgenError(
                    f"{self.out} holds a LoRA run with {key}={stored.get(key)!r}, not "
                    f"{run.get(key)!r}; use --no-resume or another --out."
                )
        return stored

    def already_finished(self) -> bool:
        """Resume skips a run whose adapter is written and whose steps are all done."""
        done = Checkpointer(self.out / "checkpoints" / NAME).done()
        finished = all((self.out / f).is_file() for f in ADAPTER_FILES)
        return bool(
            self.args.resume and done and int(done.get("step", 0)) >= self.args.steps and finished
        )

    def prepare_model(self) -> tuple[LoraModule, Callable, dict[str, Any]]:
        """The base with LoRA layers injected (seen as its LoRA tensors), the loss, and what
        the adapter's record and card need (``info``)."""
        if self.kind == "avgen":
            module, loss_fn, base, vocab = self.setup_avgen()
            default_targets: Any = AVGEN_TARGETS
        else:
            module, loss_fn, base, vocab = self.setup_diffusers()
            default_targets = UNET_TARGETS
        config = self.lora_config(default_targets)
        base_params = sum(p.numel() for p in module.parameters())
        seed_init(self.args.seed, NAME)  # the LoRA matrices' initial values
        inject_lora(module, config)
        model = LoraModule(module)
        stored = self.check_resume(run_record(base, config))
        prepared_s = time.time() - self.started
        info = {
            "base": base,
            "base_parameters": base_params,
            "trainable": sum(p.numel() for p in model.parameters()),
            "prepared_s": prepared_s,
            "previous_train_s": float(stored.get("train_s", 0.0)),
            "vocab": sorted(phrases(vocab) | set(caption_vocabulary(self.data.unique_captions))),
            "loop_started": time.time(),
            "config": config,
        }
        return model, loss_fn, info

    def run(self) -> int:
        if self.already_finished():
            if self.main and not self.quiet:
                print(f"[lora] already fine-tuned in {self.out}; skipped", file=sys.stderr)
            return 0
        model, loss_fn, info = self.prepare_model()

        def on_save(inner: nn.Module, averager: Any, step: int) -> None:
            self.export(inner, averager, step, info)

        if self.main:
            (self.out / "checkpoints" / NAME).mkdir(parents=True, exist_ok=True)
        model, averager, step = self.run_loop(
            NAME, model, loss_fn, ema=self.args.ema, on_save=on_save
        )
        if self.main:
            Checkpointer(self.out / "checkpoints" / NAME).mark_done(step)
            self.log.write({"component": NAME, "done": True, "step": step})
        self.acc.wait_for_everyone()
        return 0

    def export(self, model: nn.Module, averager: Any, step: int, info: dict[str, Any]) -> None:
        """Write the adapter (EMA weights if --ema), its record, its card and run.json."""
        backup = None
        if averager is not None:
            backup = {n: p.detach().clone() for n, p in model.named_parameters()}
            averager.copy_to(model)
        train_s = info["previous_train_s"] + time.time() - info["loop_started"]
        record = {"base": info["base"], "training": self.training_record(step, train_s, info)}
        card = adapter_card(record, info["config"].target_modules, info["vocab"])
        write_adapter(self.out, model.base, info["config"], record, card)
        if backup is not None:
            with torch.no_grad():
                for n, p in model.named_parameters():
                    p.copy_(backup[n])
        run = {**run_record(info["base"], info["config"]), "train_s": train_s, "step": step}
        path = self.out / "checkpoints" / NAME / RUN_FILE
        tmp = temp_path(path)
        tmp.write_text(json.dumps(run, indent=2) + "\n")
        os.replace(tmp, path)

    def training_record(self, step: int, train_s: float, info: dict[str, Any]) -> dict[str, Any]:
        """How the adapter was trained, for its avgen_adapter.json and its card."""
        args = self.args
        return {
            "data": str(args.data),
            "clips": self.data.n,
            "captions": len(self.data.unique_captions),
            "window_s": args.seconds,
            "prior_data": None if self.prior is None else str(args.prior_data),
            "prior_clips": 0 if self.prior is None else self.prior.n,
            "prior_weight": args.prior_weight if self.prior is not None else None,
            "prior_batch_size": (args.prior_batch_size or args.batch_size) if self.prior else None,
            "steps": step,
            "steps_asked": args.steps,
            "batch_size": args.batch_size,
            "processes": self.acc.num_processes,
            "lr": args.lr,
            "lr_schedule": self.options.schedule,
            "min_lr_ratio": self.options.min_lr_ratio,
            "warmup_steps": self.options.warmup_steps(args.steps),
            "mixed_precision": self.acc.mixed_precision,
            "rank": info["config"].r,
            "alpha": info["config"].lora_alpha,
            "dropout": args.dropout,
            "ema": bool(args.ema),
            "seed": args.seed,
            "trainable_parameters": info["trainable"],
            "base_parameters": info["base_parameters"],
            "train_wall_s": round(train_s, 1),
            "prepare_wall_s": round(info["prepared_s"], 1),
            "last_loss": last_loss(self.out / "train_log.jsonl", NAME),
            "hardware": hardware(self.acc.device),
            "command": "avgen finetune audio " + " ".join(shlex.quote(a) for a in args.argv),
        }


def _load_data(folder: Path, seconds: float, accelerator: Any, quiet: bool) -> AudioData:
    data = AudioData(folder, seconds, accelerator, quiet)
    data.folder = folder  # the cache keys name it
    return data


def check_args(args: argparse.Namespace) -> None:
    """One AvgenError for the first bad value of the parsed command line."""
    if not (args.data / "metadata.jsonl").is_file():
        raise AvgenError(f"{args.data} has no metadata.jsonl; give a folder in the world layout.")
    if args.prior_data is not None and not (args.prior_data / "metadata.jsonl").is_file():
        raise AvgenError(f"--prior-data {args.prior_data} has no metadata.jsonl.")
    small_prior = args.prior_batch_size is not None and args.prior_batch_size < 1
    if not args.prior_weight >= 0 or small_prior:
        raise AvgenError("--prior-weight must be >= 0 and --prior-batch-size at least 1.")
    if not 1 <= args.rank <= 256:
        raise AvgenError(f"--rank must be from 1 to 256, got {args.rank}.")
    if args.alpha is not None and not args.alpha > 0:
        raise AvgenError(f"--alpha must be positive, got {args.alpha:g}.")
    if not 0.0 <= args.dropout < 1.0:
        raise AvgenError(f"--dropout must be in [0, 1), got {args.dropout:g}.")
    if args.steps < 1 or args.batch_size < 1 or not args.lr > 0:
        raise AvgenError("--steps, --batch-size and --lr must be positive.")
    if not 1.0 <= args.seconds <= 60.0:
        raise AvgenError(f"--seconds {args.seconds:g} is outside 1 to 60.")
    if args.checkpoint_every < 1 or args.log_every < 1:
        raise AvgenError("--checkpoint-every and --log-every must be at least 1.")
    if args.max_minutes is not None and not args.max_minutes > 0:
        raise AvgenError(f"--max-minutes must be positive, got {args.max_minutes:g}.")
    if args.threads is not None and not 1 <= args.threads <= 256:
        raise AvgenError(f"--threads must be from 1 to 256, got {args.threads}.")
    loop_options(args)


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``avgen finetune audio`` (and ``python -m avgen.train.lora``)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    args.argv = argv
    check_args(args)
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    args.out.mkdir(parents=True, exist_ok=True)
    signal.signal(signal.SIGTERM, request_stop)
    STOP["requested"] = False
    return LoraTrainer(args).run()


def run_main() -> int:
    """``main`` as a script: an AvgenError becomes one line on stderr and exit status 2."""
    try:
        return main()
    except AvgenError as exc:
        sys.stderr.write(f"avgen: {exc}\n")
        return 2


if __name__ == "__main__":
    raise SystemExit(run_main())
