"""Training-loop helpers shared by avgen's trainers: EMA, checkpoints, loss log, progress.

Everything here runs under Hugging Face Accelerate (one process or ``accelerate launch`` over
several): only the main process writes checkpoints, logs and progress bars.

- ``EMA``: exponential moving average of parameters with diffusers ``EMAModel``'s warm-up
  (decay = 1 - (1 + step) ** -power, power 3/4, capped at ``max_decay``), which suits short runs.
- ``Checkpointer``: resumable training state (model, optimizer, EMA, step, RNG) written
  atomically (temporary file, then rename) as ``step_XXXXXXXX.pt``; only avgen's own files are
  read back, with ``torch.load(weights_only=True)``, which runs no code.
- ``LossLog``: one JSON line per logged step in ``train_log.jsonl``.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import random
import sys
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import load_file, save_file
from torch import nn
from tqdm import tqdm

from avgen.errors import AvgenError


class EMA:
    """Parameter EMA with diffusers-style warm-up: decay_k = min(max_decay, 1 - (1 + k)^-power)."""

    def __init__(self, model: nn.Module, max_decay: float = 0.999, power: float = 0.75) -> None:
        self.max_decay, self.power = max_decay, power
        self.step = 0
        self.shadow = {k: p.detach().clone().float() for k, p in model.named_parameters()}

    def decay(self) -> float:
        if self.step <= 0:
            return 0.0
        return min(self.max_decay, 1.0 - (1.0 + self.step) ** -self.power)

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        self.step += 1
        d = self.decay()
        for k, p in model.named_parameters():
            self.shadow[k].mul_(d).add_(p.detach().float(), alpha=1.0 - d)

    @torch.no_grad()
    def copy_to(self, model: nn.Module) -> None:
        """Write the averaged weights into ``model`` (for saving or evaluation)."""
        for k, p in model.named_parameters():
            p.copy_(self.shadow[k].to(p.dtype))

    def state_dict(self) -> dict[str, Any]:
        return {"step": self.step, "shadow": self.shadow}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.step = int(state["step"])
        self.shadow = {k: v.float() for k, v in state["shadow"].items()}


def rng_state() -> dict[str, Any]:
    return {
        "torch": torch.get_rng_state(),
        "numpy": np.random.get_state()[1].tolist(),
        "numpy_pos": int(np.random.get_state()[2]),
        "python": repr(random.getstate()),
    }


def set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    np.random.set_state(
        ("MT19937", np.asarray(state["numpy"], dtype=np.uint32), state["numpy_pos"], 0, 0.0)
    )


class Checkpointer:
    """Atomic, resumable checkpoints of one component in ``folder`` (``step_XXXXXXXX.pt``)."""

    def __init__(self, folder: str | Path, keep: int = 2) -> None:
        self.folder = Path(folder)
        self.keep = keep

    def paths(self) -> list[Path]:
        if not self.folder.is_dir():
            return []
        return sorted(self.folder.glob("step_*.pt"))

    def latest(self) -> Path | None:
        paths = self.paths()
        return paths[-1] if paths else None

    def save(self, step: int, state: dict[str, Any]) -> Path:
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self.folder / f"step_{step:08d}.pt"
        tmp = path.with_name(f".{path.name}.tmp")
        torch.save({"step": step, **state}, tmp)
        os.replace(tmp, path)
        for old in self.paths()[: -self.keep]:
            old.unlink(missing_ok=True)
        return path

    def load(self, path: str | Path | None = None) -> dict[str, Any] | None:
        path = Path(path) if path is not None else self.latest()
        if path is None:
            return None
        try:
            return torch.load(path, map_location="cpu", weights_only=True)
        except Exception as exc:  # a truncated or foreign file
            raise AvgenError(
                f"checkpoint {path} cannot be read ({exc.__class__.__name__})."
            ) from exc

    def mark_done(self, step: int, extra: dict[str, Any] | None = None) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        tmp = self.folder / ".done.json.tmp"
        tmp.write_text(json.dumps({"step": step, **(extra or {})}) + "\n")
        os.replace(tmp, self.folder / "done.json")

    def done(self) -> dict[str, Any] | None:
        path = self.folder / "done.json"
        if not path.is_file():
            return None
        try:
            return json.loads(path.read_text())
        except json.JSONDecodeError:
            return None


class LossLog:
    """Append-only JSON-lines loss log (written by the main process only)."""

    def __init__(self, path: str | Path, enabled: bool = True) -> None:
        self.path = Path(path)
        self.enabled = enabled
        if enabled:
            self.path.parent.mkdir(parents=True, exist_ok=True)

    def write(self, record: dict[str, Any]) -> None:
        if not self.enabled:
            return
        record = {"time": round(time.time(), 2), **record}
        with open(self.path, "a") as f:
            f.write(json.dumps(record) + "\n")


def progress(total: int, initial: int, desc: str, disable: bool) -> tqdm:
    """The trainer's progress bar (tqdm); ``disable`` for --quiet and non-main processes."""
    return tqdm(total=total, initial=initial, desc=desc, unit="step", disable=disable)


def warmup_lr(step: int, base_lr: float, warmup: int) -> float:
    """Linear warm-up to ``base_lr`` over ``warmup`` steps, then constant (DiT's recipe)."""
    if warmup <= 0:
        return base_lr
    return base_lr * min(1.0, (step + 1) / warmup)


def set_lr(optimizer: torch.optim.Optimizer, lr: float) -> None:
    for group in optimizer.param_groups:
        group["lr"] = lr


def cycle(loader: Iterable, set_epoch: Any = None) -> Iterable:
    """Endless iteration over a DataLoader, advancing the epoch of a distributed sampler."""
    epoch = 0
    while True:
        if set_epoch is not None:
            set_epoch(epoch)
        yield from loader
        epoch += 1


def finite_or_raise(loss: torch.Tensor, what: str, step: int) -> float:
    value = float(loss.detach())
    if not math.isfinite(value):
        raise AvgenError(f"{what} loss became {value} at step {step}; lower --lr and resume.")
    return value


# ----------------------------------------------------------------------------- the loop

# Set by SIGTERM/SIGINT handlers: every loop stops at its next log step and saves.
STOP = {"requested": False}


def request_stop(signum: int, frame: Any) -> None:
    """Signal handler: ask the running loop to stop and save at its next log step."""
    STOP["requested"] = True


# ----------------------------------------------------------------------------- options


def per_component(
    value: str | None, default: dict[str, Any], cast: type, flag: str, components: tuple
) -> dict:
    """``"3000"`` (every component) or ``"vae=1000,dit=6000"`` -> {component: value}."""
    out = dict(default)
    if value is None:
        return out
    for part in str(value).split(","):
        part = part.strip()
        if not part:
            continue
        try:
            if "=" in part:
                name, v = (s.strip() for s in part.split("=", 1))
                if name not in components:
                    raise AvgenError(
                        f"{flag} names {name!r}; components are {', '.join(components)}."
                    )
                out[name] = cast(v)
            else:
                out = {k: cast(part) for k in components}
        except ValueError as exc:
            raise AvgenError(f"{flag} value {part!r} is not a number.") from exc
    for k, v in out.items():
        if v is not None and not v > 0:
            raise AvgenError(f"{flag} for {k} must be positive, got {v}.")
    return out


def model_configs(args: Any, components: tuple, tiny: dict) -> dict[str, dict[str, Any]]:
    """Each component's constructor arguments: ``tiny`` with --tiny, updated by --config (a JSON
    file or JSON text mapping components to keyword arguments)."""
    configs: dict[str, dict[str, Any]] = {c: {} for c in components}
    if args.tiny:
        configs = {c: dict(v) for c, v in tiny.items()}
    if args.config:
        text = args.config
        if Path(text).is_file():
            text = Path(text).read_text()
        try:
            extra = json.loads(text)
        except json.JSONDecodeError as exc:
            raise AvgenError(f"--config is neither a JSON file nor JSON text ({exc.msg}).") from exc
        if not isinstance(extra, dict) or not set(extra) <= set(components):
            raise AvgenError(
                f"--config must map components ({', '.join(components)}) to keyword arguments."
            )
        for c, kw in extra.items():
            configs[c].update(kw)
    return configs


class ComponentLoop:
    """One component's training loop under Accelerate, shared by the audio and video trainers.

    A subclass sets ``acc``, ``main``, ``out``, ``args`` (seed, resume, log_every,
    checkpoint_every), ``steps``, ``lr``, ``batch``, ``minutes``, ``log``, ``quiet`` and gives
    ``index_batches(name, start)``: an endless iterator of (B,) index tensors for this process,
    positioned after ``start`` steps when it can be.
    """

    acc: Any
    main: bool
    out: Path
    args: Any
    steps: dict[str, int]
    lr: dict[str, float]
    batch: dict[str, int]
    minutes: dict[str, float | None]
    log: LossLog
    quiet: bool

    def setup(self, args: Any, components: tuple, defaults: dict, tiny: dict) -> None:
        """Accelerate (DDP over gloo without CUDA), per-component steps / batch / lr / time
        limits from the command line (``defaults``: {"steps": ..., "batch": ..., "lr": ...}),
        model configs and the loss log: what every trainer sets before its loops."""
        from accelerate import Accelerator
        from accelerate.utils import DistributedDataParallelKwargs

        self.args = args
        ddp = DistributedDataParallelKwargs(find_unused_parameters=False)
        # no CUDA: cpu=True lets torchrun-style launches (WORLD_SIZE > 1) run DDP over gloo
        self.acc = Accelerator(cpu=not torch.cuda.is_available(), kwargs_handlers=[ddp])
        self.main = self.acc.is_main_process
        self.out = args.out
        self.steps = per_component(args.steps, defaults["steps"], int, "--steps", components)
        self.batch = per_component(
            args.batch_size, defaults["batch"], int, "--batch-size", components
        )
        self.lr = per_component(args.lr, defaults["lr"], float, "--lr", components)
        self.minutes = per_component(
            args.max_minutes, dict.fromkeys(components), float, "--max-minutes", components
        )
        self.configs = model_configs(args, components, tiny)
        self.log = LossLog(self.out / "train_log.jsonl", enabled=self.main)
        self.quiet = args.quiet or not self.main

    def index_batches(self, name: str, start: int) -> Any:
        raise NotImplementedError

    def _stop_now(self, started: float, minutes: float | None) -> bool:
        """Time limit or SIGTERM/SIGINT, agreed by every process (the main process decides)."""
        from accelerate.utils import broadcast

        late = minutes is not None and time.time() - started > 60.0 * minutes
        flag = torch.tensor([int(late or STOP["requested"])])
        if self.acc.num_processes > 1:
            flag = broadcast(flag, from_process=0)
        return bool(flag.item())

    def run_loop(
        self,
        name: str,
        model: torch.nn.Module,
        loss_fn: Any,
        *,
        ema: bool = False,
        on_save: Any = None,
    ) -> tuple[torch.nn.Module, EMA | None, int]:
        """loss_fn(model, idx, gen) -> {"total": ..., other scalars}; returns the unwrapped
        model, its EMA and the step reached. ``on_save(model, ema, step)`` after checkpoints."""
        steps, lr = self.steps[name], self.lr[name]
        ckpt = Checkpointer(self.out / "checkpoints" / name)
        opt = torch.optim.AdamW(model.parameters(), lr=lr, betas=(0.9, 0.99), weight_decay=0.0)
        averager = EMA(model) if ema else None
        start = 0
        gen = torch.Generator().manual_seed(self.args.seed * 1000 + self.acc.process_index)
        state = ckpt.load() if self.args.resume else None
        if state is not None:
            model.load_state_dict(state["model"])
            opt.load_state_dict(state["optimizer"])
            if averager is not None and "ema" in state:
                averager.load_state_dict(state["ema"])
            set_rng_state(state["rng"])
            gen.set_state(state["gen"])
            start = int(state["step"])
            if self.main and not self.quiet:
                print(f"[{name}] resuming from step {start}", file=sys.stderr)
        model, opt = self.acc.prepare(model, opt)
        batches = self.index_batches(name, start)
        bar = progress(steps, start, f"train {name}", self.quiet)
        started = time.time()
        step = start
        sums: dict[str, float] = {}
        count = 0
        warmup = min(200, max(1, steps // 10))

        def save(step: int) -> None:
            if self.main:
                inner = self.acc.unwrap_model(model)
                raw = opt.optimizer if hasattr(opt, "optimizer") else opt
                payload = {
                    "model": inner.state_dict(),
                    "optimizer": raw.state_dict(),
                    "rng": rng_state(),
                    "gen": gen.get_state(),
                }
                if averager is not None:
                    payload["ema"] = averager.state_dict()
                ckpt.save(step, payload)
                if on_save is not None:
                    on_save(inner, averager, step)
            self.acc.wait_for_everyone()

        while step < steps:
            idx = next(batches)
            set_lr(opt, warmup_lr(step, lr, warmup))
            model.train()
            losses = loss_fn(model, idx, gen)
            self.acc.backward(losses["total"])
            self.acc.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            opt.zero_grad(set_to_none=True)
            if averager is not None:
                averager.update(self.acc.unwrap_model(model))
            step += 1
            for k, v in losses.items():
                sums[k] = sums.get(k, 0.0) + finite_or_raise(v, name, step)
            count += 1
            bar.update(1)
            if step % self.args.log_every == 0 or step == steps:
                means = {k: round(v / count, 5) for k, v in sums.items()}
                bar.set_postfix(loss=f"{means['total']:.4f}")
                self.log.write(
                    {
                        "component": name,
                        "step": step,
                        "lr": opt.param_groups[0]["lr"],
                        "elapsed_s": round(time.time() - started, 1),
                        **means,
                    }
                )
                sums, count = {}, 0
                if self._stop_now(started, self.minutes[name]):
                    break
            if step % self.args.checkpoint_every == 0:
                save(step)
        bar.close()
        if step % self.args.checkpoint_every:
            save(step)
        return self.acc.unwrap_model(model), averager, step

    def finish(
        self, name: str, model: torch.nn.Module, step: int, extra: dict | None = None
    ) -> None:
        """Save the finished component and mark it done (resume then skips it)."""
        if self.main:
            model.save_pretrained(self.out / name)
            Checkpointer(self.out / "checkpoints" / name).mark_done(step, extra)
            self.log.write({"component": name, "done": True, "step": step, **(extra or {})})
        self.acc.wait_for_everyone()

    def already_done(self, name: str) -> bool:
        """Resume skips a finished component unless more steps are asked for than it ran."""
        done = Checkpointer(self.out / "checkpoints" / name).done()
        return bool(
            self.args.resume
            and done is not None
            and int(done.get("step", 0)) >= self.steps[name]
            and (self.out / name / "config.json").is_file()
        )


# ----------------------------------------------------------------------------- captions

MAX_TEXT_TOKENS = 64


def encode_captions(
    encoder: Any, captions: list[str], *, batch: int = 64, quiet: bool = True
) -> dict[str, torch.Tensor]:
    """Encode captions with a frozen ``avgen.text.TextEncoder``: tokens (N, L, D) fp16 padded to
    the longest caption, mask (N, L) bool, pooled (N, D) fp32, all on the CPU."""
    toks, masks, pooled = [], [], []
    for s in tqdm(range(0, len(captions), batch), desc="text cache", disable=quiet):
        e = encoder.encode(captions[s : s + batch], max_length=MAX_TEXT_TOKENS)
        toks.append(e["tokens"].cpu())
        masks.append(e["mask"].cpu())
        pooled.append(e["pooled"].float().cpu())
    length = max(t.shape[1] for t in toks)
    tokens = torch.zeros(len(captions), length, encoder.dim, dtype=torch.float16)
    mask = torch.zeros(len(captions), length, dtype=torch.bool)
    row = 0
    for t, m in zip(toks, masks):
        tokens[row : row + t.shape[0], : t.shape[1]] = t.half()
        mask[row : row + t.shape[0], : t.shape[1]] = m
        row += t.shape[0]
    return {"tokens": tokens, "mask": mask, "pooled": torch.cat(pooled)}


def text_cache(
    data: Any, out: Path, accelerator: Any, quiet: bool, batch: int = 64
) -> dict[str, torch.Tensor]:
    """Every distinct caption of ``data.unique_captions`` encoded once with the bundled MiniLM,
    cached in OUT/cache (keyed by the captions) and shared by the audio, video and LoRA trainers.
    ``batch`` only changes padding, i.e. the encodings in their last fp16 bit."""
    key = hashlib.sha256("\n".join(data.unique_captions).encode()).hexdigest()[:16]
    path = out / "cache" / f"text_{key}.safetensors"
    with accelerator.main_process_first():
        if not path.is_file():
            from avgen.text import TextEncoder

            encoder = TextEncoder.from_default()
            encoded = encode_captions(encoder, data.unique_captions, batch=batch, quiet=quiet)
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
            save_file(encoded, str(tmp))
            os.replace(tmp, path)
    return load_file(str(path))


def gather_text(cache: dict[str, torch.Tensor], ids: torch.Tensor) -> dict[str, torch.Tensor]:
    """The cached encodings of captions ``ids``, trimmed to the batch's longest caption."""
    mask = cache["mask"][ids]  # (B, Lmax)
    length = max(1, int(mask.sum(1).max()))
    return {
        "tokens": cache["tokens"][ids, :length].float(),  # (B, L, D)
        "mask": mask[:, :length].clone(),
        "pooled": cache["pooled"][ids].float(),  # (B, D)
    }


class CaptionIndex:
    """Every clip's captions as ids into the sorted distinct captions (what ``text_cache``
    encodes); a training step draws one caption per clip."""

    def index_captions(self, captions: list[list[str]]) -> None:
        self.captions = captions
        self.unique_captions = sorted({c for caps in captions for c in caps})
        index = {c: j for j, c in enumerate(self.unique_captions)}
        self.caption_ids = [[index[c] for c in caps] for caps in captions]

    def random_captions(self, idx: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        picks = []
        for i in idx.tolist():
            ids = self.caption_ids[i]
            picks.append(ids[int(torch.randint(len(ids), (1,), generator=gen))])
        return torch.tensor(picks)


def caption_vocabulary(captions: list[str]) -> list[str]:
    """The prompt-parser phrases (avgen.vocab's words) that occur in the training captions:
    what a model card's ``## Vocabulary`` section lists for the prompt linter."""
    from avgen.prompts import LEXICON, _phrase

    longest = max(len(p) for p in LEXICON)
    grams: set[tuple[str, ...]] = set()
    for caption in set(captions):
        words = _phrase(caption)
        for n in range(1, longest + 1):
            grams.update(tuple(words[i : i + n]) for i in range(len(words) - n + 1))
    return sorted(" ".join(p) for p in LEXICON if p in grams and p not in {("a",), ("an",)})
