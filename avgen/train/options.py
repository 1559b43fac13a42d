"""Command-line options shared by avgen's trainers.

- ``per_component``: ``"3000"`` or ``"vae=1000,dit=6000"`` -> {component: value};
- ``model_configs``: each component's constructor arguments (``--tiny``, ``--config``);
- ``LoopOptions`` (``add_loop_options`` / ``loop_options``): the loop's recipe besides steps,
  batch and learning rate: mixed precision through Accelerate, warm-up, constant or cosine
  learning rate, the EMA's largest decay.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from avgen.errors import AvgenError


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


MIXED_PRECISION = ("no", "fp16", "bf16")
SCHEDULES = ("constant", "cosine")


@dataclass
class LoopOptions:
    """The loop's recipe besides steps, batch and learning rate (the defaults: avgen's CPU
    recipe; ``tools/gpu_train_video.py`` trains with bf16, warm-up 300 and cosine decay)."""

    mixed_precision: str | None = None  # None: Accelerate's default or ``accelerate launch``'s
    warmup: int | None = None  # steps; None: min(200, max(1, steps // 10))
    schedule: str = "constant"
    min_lr_ratio: float = 0.1  # where the cosine schedule ends, as a share of --lr
    ema_max_decay: float = 0.999

    def warmup_steps(self, steps: int) -> int:
        return self.warmup if self.warmup is not None else min(200, max(1, steps // 10))


def add_loop_options(p: Any) -> None:
    """The recipe flags every trainer takes (``LoopOptions``)."""
    p.add_argument(
        "--mixed-precision",
        choices=MIXED_PRECISION,
        default=None,
        help="autocast through Accelerate (bf16 on a GPU); default: Accelerate's (no)",
    )
    p.add_argument(
        "--warmup",
        type=int,
        default=None,
        help="linear warm-up steps (default: a tenth of the steps, at most 200)",
    )
    p.add_argument(
        "--lr-schedule",
        choices=SCHEDULES,
        default="constant",
        help="after warm-up: constant, or cosine decay over the steps or the --max-minutes "
        "budget, whichever ends first",
    )
    p.add_argument(
        "--min-lr-ratio",
        type=float,
        default=0.1,
        help="cosine: the last learning rate as a share of --lr (default 0.1)",
    )
    p.add_argument(
        "--ema-max-decay", type=float, default=0.999, help="largest EMA decay (default 0.999)"
    )


def loop_options(args: Any) -> LoopOptions:
    """The checked ``LoopOptions`` of parsed command-line ``args`` (``add_loop_options``)."""
    if args.warmup is not None and args.warmup < 0:
        raise AvgenError(f"--warmup must be 0 or more steps, got {args.warmup}.")
    if not 0.0 <= args.min_lr_ratio <= 1.0:
        raise AvgenError(f"--min-lr-ratio must be from 0 to 1, got {args.min_lr_ratio:g}.")
    if not 0.0 < args.ema_max_decay < 1.0:
        raise AvgenError(f"--ema-max-decay must be between 0 and 1, got {args.ema_max_decay:g}.")
    return LoopOptions(
        mixed_precision=args.mixed_precision,
        warmup=args.warmup,
        schedule=args.lr_schedule,
        min_lr_ratio=args.min_lr_ratio,
        ema_max_decay=args.ema_max_decay,
    )
