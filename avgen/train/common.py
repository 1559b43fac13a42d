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

import json
import math
import os
import random
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import torch
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
