"""LoRA fine-tuning (Hu et al., arXiv 2106.09685) of a text-to-audio denoiser on a captioned folder.

``avgen finetune audio --data DIR --base models/audio --rank 8 --out adapter/`` trains only
low-rank matrices added to the denoiser's attention and MLP Linear layers (peft); the VAE, the
vocoder, the text encoders and every base weight stay frozen. Two kinds of base:

- an avgen audio model folder (``pipeline.json``; default the shipped ``avgen/models/audio``):
  LoRA on the AudioDenoiser's self-attention, cross-attention and MLP layers
  (``avgen.finetune.AVGEN_TARGETS``), trained exactly as ``avgen.train.audio`` trains the
  denoiser: rectified flow on the base VAE's latents of ``--seconds`` windows, frozen MiniLM
  text, 10 % condition dropout to the null condition, 30 % tempo dropout;
- a diffusers pipeline folder (``model_index.json``) of AudioLDM (arXiv 2301.12503) or
  AudioLDM 2 (arXiv 2308.05734): LoRA on the UNet's attention projections and feed-forward
  layers (``UNET_TARGETS``); latents from the pipeline's own VAE on log-mels made with its
  vocoder's settings (for the released checkpoints 64 bins, 16 kHz, hop 160: avgen's
  ``MelFrontEnd`` exactly, natural-log magnitudes, (B, 1, T, 64) time-major as AudioLDM's VAE
  takes them); text from the pipeline's own encoders (AudioLDM: the CLAP text embedding as the
  UNet's class label; AudioLDM 2: CLAP + T5 -> GPT-2 states and T5 states); DDPM noising and
  the objective (epsilon, v or sample) from its scheduler config; 10 % of captions dropped to
  the empty prompt that its classifier-free guidance uses.

The loop is ``avgen.train.common.ComponentLoop`` under Accelerate (``accelerate launch`` for
several processes): resumable checkpoints of the LoRA tensors and optimizer in
``OUT/checkpoints/lora/``, a loss log ``OUT/train_log.jsonl``, a progress bar, SIGTERM stops
and saves. The adapter (``avgen.finetune`` layout: peft's ``adapter_config.json`` +
``adapter_model.safetensors``, ``avgen_adapter.json``, ``MODEL_CARD.md``) is written to OUT at
every checkpoint and at the end; ``OUT/cache/`` holds latents and text encodings.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import platform
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
from torch.utils.data import DataLoader, TensorDataset

from avgen.audio.mel import MelFrontEnd, denormalize
from avgen.errors import AvgenError
from avgen.finetune import (
    ADAPTER_FILES,
    AVGEN_TARGETS,
    UNET_TARGETS,
    base_signature,
    inject_lora,
    write_adapter,
)
from avgen.train.audio import (
    COND_DROPOUT,
    AudioData,
    denoiser_loss,
)
from avgen.train.common import (
    STOP,
    Checkpointer,
    ComponentLoop,
    LossLog,
    caption_vocabulary,
    cycle,
    request_stop,
    text_cache,
)

NAME = "lora"
DIFFUSERS_PIPELINES = ("AudioLDMPipeline", "AudioLDM2Pipeline")
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


def _data_key(folder: Path, *extra: Any) -> str:
    h = hashlib.sha256((folder / "metadata.jsonl").read_bytes())
    h.update(repr((str(folder.resolve()), *extra)).encode())
    return h.hexdigest()[:16]


class LoraTrainer(ComponentLoop):
    """One LoRA run: load the base, cache latents and text, train, write the adapter."""

    def __init__(self, args: argparse.Namespace) -> None:
        from accelerate import Accelerator

        self.args = args
        self.acc = Accelerator(cpu=not torch.cuda.is_available())
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
        if (self.base_dir / "model_index.json").is_file():
            self.kind = "diffusers"
        elif (self.base_dir / "pipeline.json").is_file():
            self.kind = "avgen"
        else:
            raise AvgenError(
                f"--base {self.base_dir} is neither an avgen audio model folder (pipeline.json) "
                "nor a diffusers pipeline folder (model_index.json)."
            )
        self.base_label = str(args.base) if args.base is not None else "avgen/models/audio"

    def index_batches(self, name: str, start: int) -> Any:
        """Endless shuffled index batches through a prepared DataLoader (DDP shards it)."""
        ds = TensorDataset(torch.arange(self.data.n))
        gen = torch.Generator().manual_seed(self.args.seed)
        loader = DataLoader(
            ds, batch_size=self.batch[name], shuffle=True, drop_last=False, generator=gen
        )
        loader = self.acc.prepare(loader)
        for (idx,) in cycle(loader, getattr(getattr(loader, "sampler", None), "set_epoch", None)):
            yield idx.cpu()

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
            losses[name] = self.avgen_loss(ds, lat, frames, cache)
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

    def avgen_loss(
        self, data: AudioData, lat: torch.Tensor, lat_frames: torch.Tensor, cache: dict
    ) -> Callable:
        """``avgen.train.audio``'s denoiser loss on one data set's cached latents and text."""

        return denoiser_loss(data, lat, lat_frames, cache, self.acc.device)

    @torch.no_grad()
    def avgen_latents(
        self, vae: nn.Module, fe: MelFrontEnd, data: AudioData
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Scaled VAE posterior means of every window (N, C, 16, T') and real frames (N,)."""
        weights = hashlib.sha256(
            json.dumps(vae.config, sort_keys=True).encode()
            + b"".join(p.detach().cpu().float().numpy().tobytes() for p in vae.parameters())
        ).hexdigest()[:16]
        key = _data_key(data.folder, data.n, self.args.seconds, weights)
        path = self.out / "cache" / f"latents_{key}.safetensors"
        with self.acc.main_process_first():
            if not path.is_file():
                from tqdm import tqdm

                vae.eval()
                chunks = []
                for s in tqdm(range(0, data.n, 32), desc="latents", disable=self.quiet):
                    wave, _ = data.waves(torch.arange(s, min(s + 32, data.n)))
                    chunks.append(vae.to_diffusion(fe(wave)))
                frames = (data.length // fe.hop + 3) // 4
                _save(path, {"latents": torch.cat(chunks).contiguous(), "frames": frames})
        stored = load_file(str(path))
        return stored["latents"], stored["frames"]

    # ------------------------------------------------------------------ diffusers base

    def setup_diffusers(self) -> tuple[nn.Module, Callable, dict[str, Any], set[str]]:
        """AudioLDM / AudioLDM 2: LoRA on the UNet; epsilon / v / sample from the scheduler."""
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        import diffusers

        index_path = self.base_dir / "model_index.json"
        try:
            cls_name = json.loads(index_path.read_text()).get("_class_name")
        except (json.JSONDecodeError, UnicodeDecodeError, AttributeError) as exc:
            raise AvgenError(f"{index_path} is not valid JSON.") from exc
        if cls_name not in DIFFUSERS_PIPELINES:
            raise AvgenError(
                f"--base {self.base_dir} holds a {cls_name}; avgen fine-tunes "
                f"{' and '.join(DIFFUSERS_PIPELINES)} UNets."
            )
        try:
            pipe = getattr(diffusers, cls_name).from_pretrained(
                self.base_dir, local_files_only=True
            )
        except Exception as exc:  # missing or corrupt component files
            msg = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
            raise AvgenError(
                f"cannot load the {cls_name} in {self.base_dir} ({exc.__class__.__name__}: "
                f"{msg[:200]})."
            ) from exc
        dev = self.acc.device
        pipe.to(dev)
        for part in pipe.components.values():
            if isinstance(part, nn.Module):
                part.requires_grad_(False).eval()
        voc = pipe.vocoder.config
        sr, hop, n_mels = (
            int(voc.sampling_rate),
            int(math.prod(voc.upsample_rates)),
            voc.model_in_dim,
        )
        if sr != 16000:
            raise AvgenError(
                f"{cls_name} in {self.base_dir} runs at {sr} Hz; avgen fine-tunes 16 kHz models."
            )
        fe = MelFrontEnd(sample_rate=sr, hop=hop, n_mels=int(n_mels)).to(dev)
        sched = diffusers.DDPMScheduler.from_config(pipe.scheduler.config)
        if sched.config.prediction_type not in ("epsilon", "v_prediction", "sample"):
            raise AvgenError(
                f"scheduler prediction_type {sched.config.prediction_type!r} is not supported."
            )
        losses = {}
        for name, ds in self.datasets():
            lat, frames = self.diffusers_latents(pipe, fe, ds)
            text, null = self.diffusers_text(pipe, cls_name, ds)
            losses[name] = self.diffusers_loss(ds, lat, frames, text, null, sched, cls_name)
        base = {
            "kind": "diffusers",
            "pipeline_class": cls_name,
            "component": "unet",
            "path": self.base_label,
            "prediction_type": sched.config.prediction_type,
            **base_signature(pipe.unet),
        }
        return pipe.unet, self.combine(losses), base, set()

    def diffusers_loss(
        self,
        data: AudioData,
        lat: torch.Tensor,
        lat_frames: torch.Tensor,
        text: dict[str, torch.Tensor],
        null: dict[str, torch.Tensor],
        sched: Any,
        cls_name: str,
    ) -> Callable:
        """DDPM noising of cached latents; MSE to noise / velocity / sample on real frames."""
        dev = self.acc.device
        prediction = sched.config.prediction_type
        n_train = int(sched.config.num_train_timesteps)

        def loss(m: nn.Module, idx: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
            b = len(idx)
            x0 = lat[idx].to(dev)  # (B, C, T', F')
            noise = torch.randn(x0.shape, generator=gen).to(dev)
            t = torch.randint(0, n_train, (b,), generator=gen)
            noisy = sched.add_noise(x0, noise, t).to(dev)
            if prediction == "epsilon":
                target = noise
            elif prediction == "v_prediction":
                target = sched.get_velocity(x0, noise, t)
            else:
                target = x0
            ids = data.random_captions(idx, gen)
            drop = torch.rand(b, generator=gen) < COND_DROPOUT  # -> the empty prompt
            cond = {}
            for k, v in text.items():
                rows = v[ids].clone()
                rows[drop] = null[k]
                cond[k] = rows.to(dev)
            if cls_name == "AudioLDMPipeline":
                kwargs = {"encoder_hidden_states": None, "class_labels": cond["embeds"]}
            else:
                kwargs = {
                    "encoder_hidden_states": cond["generated"],
                    "encoder_hidden_states_1": cond["embeds"],
                    "encoder_attention_mask_1": cond["mask"],
                }
            pred = m(noisy, t.to(dev), return_dict=False, **kwargs)[0]
            err = (pred.float() - target.float()).pow(2)  # (B, C, T', F')
            keep = (torch.arange(x0.shape[2])[None] < lat_frames[idx][:, None]).to(dev)
            keep = keep[:, None, :, None].to(err.dtype)  # (B, 1, T', 1)
            return (err * keep).sum() / (keep.sum() * err.shape[1] * err.shape[3]).clamp_min(1)

        return loss

    @torch.no_grad()
    def diffusers_latents(
        self, pipe: Any, fe: MelFrontEnd, data: AudioData
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """VAE means (N, C, T', F') of time-major natural-log mels, and real latent frames."""
        vae = pipe.vae
        factor = 2 ** (len(vae.config.block_out_channels) - 1)
        scale = float(vae.config.scaling_factor)
        sig = base_signature(vae)
        key = _data_key(
            data.folder, data.n, self.args.seconds, fe.hop, fe.n_mels, sig["architecture"],
            sig["probe"][:16],
        )  # fmt: skip
        path = self.out / "cache" / f"latents_diffusers_{key}.safetensors"
        with self.acc.main_process_first():
            if not path.is_file():
                chunks = []
                for s in range(0, data.n, 8):
                    wave, _ = data.waves(torch.arange(s, min(s + 8, data.n)))
                    mel = denormalize(fe(wave.to(fe.fb.device)))  # (B, 1, n_mels, T) ln |mel|
                    frames = mel.shape[-1] // factor * factor
                    mel = mel[..., :frames].transpose(2, 3)  # (B, 1, T, n_mels) as AudioLDM
                    dist = vae.encode(mel.to(vae.dtype)).latent_dist
                    chunks.append((dist.mean * scale).float().cpu())
                real = (data.length // fe.hop + factor - 1) // factor
                _save(path, {"latents": torch.cat(chunks).contiguous(), "frames": real})
        stored = load_file(str(path))
        return stored["latents"], stored["frames"]

    @torch.no_grad()
    def diffusers_text(
        self, pipe: Any, cls_name: str, data: AudioData
    ) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
        """Every distinct caption through the pipeline's own encoders, and the empty prompt."""
        captions = data.unique_captions + [""]
        dev = self.acc.device
        if cls_name == "AudioLDMPipeline":
            rows = [
                pipe._encode_prompt(captions[s : s + 16], dev, 1, False).float().cpu()
                for s in range(0, len(captions), 16)
            ]
            embeds = torch.cat(rows)  # (N + 1, D) L2-normalised CLAP text embeddings
            return {"embeds": embeds[:-1]}, {"embeds": embeds[-1]}
        gen_rows, emb_rows, mask_rows = [], [], []
        for caption in captions:  # one at a time: T5 pads each batch to its longest caption
            emb, mask, generated = pipe.encode_prompt([caption], dev, 1, False)
            emb_rows.append(emb[0].float().cpu())  # (L, D2)
            mask_rows.append(mask[0].cpu())  # (L,)
            gen_rows.append(generated[0].float().cpu())  # (G, D1)
        length = max(e.shape[0] for e in emb_rows)
        embeds = torch.zeros(len(captions), length, emb_rows[0].shape[-1])
        mask = torch.zeros(len(captions), length, dtype=mask_rows[0].dtype)
        for i, (e, m) in enumerate(zip(emb_rows, mask_rows)):
            embeds[i, : e.shape[0]] = e
            mask[i, : m.shape[0]] = m
        generated = torch.stack(gen_rows)  # (N + 1, G, D1)
        text = {"embeds": embeds[:-1], "mask": mask[:-1], "generated": generated[:-1]}
        null = {"embeds": embeds[-1], "mask": mask[-1], "generated": generated[-1]}
        return text, null

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

    def run(self) -> int:
        done = Checkpointer(self.out / "checkpoints" / NAME).done()
        finished = all((self.out / f).is_file() for f in ADAPTER_FILES)
        if self.args.resume and done and int(done.get("step", 0)) >= self.args.steps and finished:
            if self.main and not self.quiet:
                print(f"[lora] already fine-tuned in {self.out}; skipped", file=sys.stderr)
            return 0
        if self.kind == "avgen":
            module, loss_fn, base, vocab = self.setup_avgen()
            default_targets: Any = AVGEN_TARGETS
        else:
            module, loss_fn, base, vocab = self.setup_diffusers()
            default_targets = UNET_TARGETS
        config = self.lora_config(default_targets)
        base_params = sum(p.numel() for p in module.parameters())
        inject_lora(module, config)
        model = LoraModule(module)
        trainable = sum(p.numel() for p in model.parameters())
        run = {
            "kind": base["kind"],
            "rank": config.r,
            "alpha": config.lora_alpha,
            "targets": config.target_modules
            if isinstance(config.target_modules, str)
            else sorted(config.target_modules),
            "architecture": base["architecture"],
        }
        stored = self.check_resume(run)
        prepared_s = time.time() - self.started
        vocab = sorted(_phrases(vocab) | set(caption_vocabulary(self.data.unique_captions)))
        info = {
            "base": base,
            "base_parameters": base_params,
            "trainable": trainable,
            "prepared_s": prepared_s,
            "previous_train_s": float(stored.get("train_s", 0.0)),
            "vocab": vocab,
            "loop_started": time.time(),
            "config": config,
        }

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
        card = self.card(record, info)
        write_adapter(self.out, model.base, info["config"], record, card)
        if backup is not None:
            with torch.no_grad():
                for n, p in model.named_parameters():
                    p.copy_(backup[n])
        run = {
            "kind": info["base"]["kind"],
            "rank": info["config"].r,
            "alpha": info["config"].lora_alpha,
            "targets": info["config"].target_modules
            if isinstance(info["config"].target_modules, str)
            else sorted(info["config"].target_modules),
            "architecture": info["base"]["architecture"],
            "train_s": train_s,
            "step": step,
        }
        path = self.out / "checkpoints" / NAME / RUN_FILE
        tmp = path.with_name(f".{RUN_FILE}.tmp")
        tmp.write_text(json.dumps(run, indent=2) + "\n")
        os.replace(tmp, path)

    def training_record(self, step: int, train_s: float, info: dict[str, Any]) -> dict[str, Any]:
        args = self.args
        last = _last_loss(self.out / "train_log.jsonl")
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
            "rank": info["config"].r,
            "alpha": info["config"].lora_alpha,
            "dropout": args.dropout,
            "ema": bool(args.ema),
            "seed": args.seed,
            "trainable_parameters": info["trainable"],
            "base_parameters": info["base_parameters"],
            "train_wall_s": round(train_s, 1),
            "prepare_wall_s": round(info["prepared_s"], 1),
            "last_loss": last,
            "hardware": _hardware(self.acc.device),
            "command": "avgen finetune audio " + " ".join(shlex.quote(a) for a in args.argv),
        }

    def card(self, record: dict[str, Any], info: dict[str, Any]) -> str:
        base, tr = record["base"], record["training"]
        targets = info["config"].target_modules
        targets = targets if isinstance(targets, str) else ", ".join(sorted(targets))
        share = 100.0 * tr["trainable_parameters"] / max(1, tr["base_parameters"])
        comp = base["component"]
        lines = [
            f"# LoRA adapter for {base['path']} ({base['pipeline_class']}, {comp})",
            "",
            f"LoRA (Hu et al., arXiv 2106.09685) on the {base['module_class']}'s attention and MLP "
            f"Linear layers (`{targets}`): rank {tr['rank']}, alpha {tr['alpha']:g}, "
            f"{tr['trainable_parameters']:,} trainable parameters ({share:.2f} % of the "
            f"{comp}'s {tr['base_parameters']:,}). Everything else is frozen.",
            "",
            f'Use: `avgen audio "..." --model {base["path"]} --lora THIS_FOLDER` (or '
            f"`avgen.finetune.apply_lora(pipe.{comp}, THIS_FOLDER)`). It refuses any other base.",
            "",
            "## Training",
            "",
            f"- command: `{tr['command']}`",
            f"- data: `{tr['data']}`: {tr['clips']} clips, {tr['captions']} distinct captions, "
            f"{tr['window_s']:g} s windows",
        ]
        if tr["prior_data"]:
            lines.append(
                f"- prior preservation (DreamBooth, arXiv 2208.12242): `{tr['prior_data']}`, "
                f"{tr['prior_clips']} clips the base already knows; every step adds "
                f"{tr['prior_weight']:g} x the loss on {tr['prior_batch_size']} of them"
            )
        lines += [
            f"- steps: {tr['steps']} of {tr['steps_asked']}, batch {tr['batch_size']} x "
            f"{tr['processes']} process(es), AdamW lr {tr['lr']:g} (linear warm-up), "
            f"EMA {'on' if tr['ema'] else 'off'}, seed {tr['seed']}",
            f"- wall time: {tr['train_wall_s'] / 60:.1f} min training + "
            f"{tr['prepare_wall_s'] / 60:.1f} min loading and caching",
            f"- hardware: {tr['hardware']}",
            f"- last logged loss: {tr['last_loss']}",
            "",
            "The vocabulary below (read by `avgen prompt lint --model THIS_FOLDER`) is the base "
            "card's list plus the avgen.vocab phrases of the fine-tuning captions.",
            "",
            "## Vocabulary",
            "",
            ", ".join(info["vocab"]),
            "",
        ]
        return "\n".join(lines)


def _phrases(vocab: set[str]) -> set[str]:
    """A base card's vocabulary without prose (no entry longer than the parser's phrases)."""
    from avgen.prompts import LEXICON

    longest = max(len(p) for p in LEXICON)
    return {w for w in vocab if 0 < len(w.split()) <= longest}


def _load_data(folder: Path, seconds: float, accelerator: Any, quiet: bool) -> AudioData:
    data = AudioData(folder, seconds, accelerator, quiet)
    data.folder = folder  # the cache keys name it
    return data


def _last_loss(path: Path) -> float | None:
    if not path.is_file():
        return None
    for line in reversed(path.read_text().splitlines()):
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            continue
        if row.get("component") == NAME and "total" in row:
            return float(row["total"])
    return None


def _hardware(device: torch.device) -> str:
    if device.type == "cuda":
        return f"{torch.cuda.get_device_name(device)}, torch {torch.__version__}"
    cpu = platform.processor() or platform.machine()
    return (
        f"{cpu} CPU, {os.cpu_count()} cores, torch {torch.__version__}, "
        f"{torch.get_num_threads()} thread(s) per process"
    )


def _save(path: Path, tensors: dict[str, torch.Tensor]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    save_file(tensors, str(tmp))
    os.replace(tmp, path)


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``avgen finetune audio`` and ``python -m avgen.train.lora``."""
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    args.argv = argv
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
    if args.threads is not None:
        if not 1 <= args.threads <= 256:
            raise AvgenError(f"--threads must be from 1 to 256, got {args.threads}.")
        torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    args.out.mkdir(parents=True, exist_ok=True)
    signal.signal(signal.SIGTERM, request_stop)
    STOP["requested"] = False
    return LoraTrainer(args).run()


if __name__ == "__main__":
    try:
        raise SystemExit(main())
    except AvgenError as exc:
        sys.stderr.write(f"avgen: {exc}\n")
        raise SystemExit(2) from None
