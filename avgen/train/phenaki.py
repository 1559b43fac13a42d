"""Train avgen's Phenaki-style text-to-video model (C-ViViT tokens + MaskGIT).

``avgen train phenaki --data DIR --out DIR`` (or ``python -m avgen.train.phenaki``, or
``accelerate launch ... -m avgen.train.phenaki`` for DDP) trains, in order:

1. ``tokenizer``: the C-ViViT tokenizer (``avgen.video.cvivit.CViViT``, FSQ bottleneck) on
   whole training windows (``--num-frames``, 1 + 2k) with L1 + L2 reconstruction, optionally
   weighted up on moving-object pixels (``--tokenizer-object-weight``, as the video VAE's
   object weight) and an L1 loss on spatial gradients (``--tokenizer-edge-weight``: sharp edges
   of small objects), and a parameter EMA whose weights are saved to ``OUT/tokenizer`` at every
   checkpoint (so a running job always leaves a usable tokenizer).

The data folder is the world layout (``metadata.jsonl`` + mp4; ``avgen.worlds.loader``); clips
are retimed to ``--fps`` and cropped / padded to ``--num-frames``. Output: ``OUT/tokenizer``
(``save_pretrained``), ``OUT/train_log.jsonl``, ``OUT/checkpoints/<component>/step_*.pt``
(resumed by default), ``OUT/train_args.json``. ``--max-minutes`` time-boxes each component;
SIGTERM stops at the next log step and saves everything.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch

from avgen.errors import AvgenError
from avgen.train.common import EMA, STOP, ComponentLoop, request_stop
from avgen.train.options import add_loop_options
from avgen.train.streams import seed_init
from avgen.train.video import VideoData
from avgen.video.cvivit import CViViT, spatial_gradients

COMPONENTS = ("tokenizer",)
DEFAULT_STEPS = {"tokenizer": 4000}
DEFAULT_BATCH = {"tokenizer": 16}
DEFAULT_LR = {"tokenizer": 1e-3}
MEDIAN_FRAMES = 5  # frames whose median is a clip's background (moving_weight)
TINY_CONFIG: dict[str, dict[str, Any]] = {
    "tokenizer": {"stem_channels": [4, 8, 16], "hidden_size": 16, "num_layers": 1},
}


# ----------------------------------------------------------------------------- options


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="avgen train phenaki",
        description="Train the Phenaki-style text-to-video components (C-ViViT tokenizer).",
    )
    p.add_argument("--data", required=True, type=Path, help="folder: metadata.jsonl + mp4")
    p.add_argument("--out", required=True, type=Path, help="output folder")
    p.add_argument("--components", default=",".join(COMPONENTS), help="comma-separated, in order")
    p.add_argument("--steps", default=None, help="N or tokenizer=N,...")
    p.add_argument("--batch-size", default=None, help="N or component=N,... (per process)")
    p.add_argument("--lr", default=None, help="X or component=X,...")
    p.add_argument("--max-minutes", default=None, help="stop a component early: M or c=M,...")
    p.add_argument("--num-frames", type=int, default=17, help="training window length (1 + 2k)")
    p.add_argument("--size", type=int, default=64, help="frame size in pixels (square)")
    p.add_argument("--fps", type=int, default=8, help="training frame rate")
    p.add_argument("--checkpoint-every", type=int, default=250, help="steps between checkpoints")
    p.add_argument("--log-every", type=int, default=25, help="steps between loss-log lines")
    p.add_argument("--resume", action=argparse.BooleanOptionalAction, default=True)
    p.add_argument("--tiny", action="store_true", help="tiny model sizes (tests, smoke runs)")
    p.add_argument(
        "--tokenizer-object-weight",
        type=float,
        default=4.0,
        help="extra tokenizer loss weight on moving-object pixels (0 = plain L1 + L2)",
    )
    p.add_argument(
        "--tokenizer-edge-weight",
        type=float,
        default=0.5,
        help="weight of the L1 loss on spatial gradients (sharp small objects; 0 = off)",
    )
    p.add_argument("--config", default=None, help="JSON (file or text): {component: kwargs}")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads per process")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    add_loop_options(p)
    return p


def moving_weight(video: torch.Tensor, extra: float, threshold: float = 0.15) -> torch.Tensor:
    """Per-pixel loss weight (B, 1, F, H, W): 1 + ``extra`` where a pixel differs from its
    clip's background by more than ``threshold`` (as the video VAE's ``object_weight``). The
    background is the temporal median of at most MEDIAN_FRAMES evenly spaced frames, which
    finds the same small moving objects at a fraction of the cost of all frames' median."""
    if extra <= 0:
        return torch.ones_like(video[:, :1])
    f = video.shape[2]
    pick = torch.linspace(0, f - 1, min(f, MEDIAN_FRAMES)).round().long().unique()
    background = video[:, :, pick].median(dim=2, keepdim=True).values  # (B, 3, 1, H, W)
    moving = (video - background).abs().amax(dim=1, keepdim=True) > threshold
    return 1.0 + extra * moving.to(video.dtype)


def tokenizer_loss(
    recon: torch.Tensor, video: torch.Tensor, object_extra: float, edge_weight: float
) -> dict[str, torch.Tensor]:
    """The tokenizer's objective on a reconstruction of ``video`` (B, 3, F, H, W): L1 + L2 per
    pixel, weighted 1 + ``object_extra`` on moving-object pixels (``moving_weight``; normalised
    by the mean weight), + ``edge_weight`` x the L1 of the spatial gradients' difference.
    Returns {"total", "l1", "l2", "edge"} (l1 / l2 unweighted, for the log)."""
    diff = recon - video
    per_pixel = diff.abs() + diff.pow(2)
    if object_extra > 0:
        weight = moving_weight(video, object_extra)  # (B, 1, F, H, W)
        total = (per_pixel * weight).mean() / weight.mean()
    else:
        total = per_pixel.mean()
    out = {"l1": diff.detach().abs().mean(), "l2": diff.detach().pow(2).mean()}
    if edge_weight > 0:
        dx, dy = spatial_gradients(diff)  # gradient of the difference = difference of gradients
        edge = 0.5 * (dx.abs().mean() + dy.abs().mean())
        total = total + edge_weight * edge
        out["edge"] = edge.detach()
    return {"total": total, **out}


# ----------------------------------------------------------------------------- loop


class Trainer(ComponentLoop):
    """Runs each component's loop under Accelerate with checkpoints, EMA and the loss log."""

    def __init__(self, args: argparse.Namespace) -> None:
        defaults = {"steps": DEFAULT_STEPS, "batch": DEFAULT_BATCH, "lr": DEFAULT_LR}
        self.setup(args, COMPONENTS, defaults, TINY_CONFIG)
        self._data: VideoData | None = None

    @property
    def data(self) -> VideoData:
        if self._data is None:
            self._data = VideoData(self.args, self.acc, self.quiet)
        return self._data

    def train_tokenizer(self) -> None:
        seed_init(self.args.seed, "tokenizer")
        cfg = dict(self.configs["tokenizer"])
        model = CViViT(**cfg)
        extra, edge = self.args.tokenizer_object_weight, self.args.tokenizer_edge_weight

        def loss_fn(m: torch.nn.Module, idx: torch.Tensor, gen: torch.Generator) -> dict:
            video = self.data.clips(idx).to(self.acc.device)  # (B, 3, F, H, W)
            return tokenizer_loss(m(video), video, extra, edge)

        def export(inner: torch.nn.Module, averager: EMA | None, step: int) -> None:
            """Save the EMA weights as OUT/tokenizer so a running job leaves a usable model."""
            copy = CViViT(**cfg)
            copy.load_state_dict(inner.state_dict())
            if averager is not None:
                averager.copy_to(copy)
            copy.save_pretrained(self.out / "tokenizer")

        model, averager, step = self.run_loop("tokenizer", model, loss_fn, ema=True, on_save=export)
        if averager is not None:
            averager.copy_to(model)
        self.finish("tokenizer", model, step, {"ema_decay": averager.decay() if averager else None})

    def run(self, components: list[str]) -> None:
        for name in components:
            if self.already_done(name):
                if self.main and not self.quiet:
                    msg = f"[{name}] already trained in {self.out / name}; skipped"
                    print(msg, file=sys.stderr)
                continue
            getattr(self, f"train_{name}")()
            if STOP["requested"]:
                break
        if self.main:
            info = {
                "data": str(self.args.data),
                "clips": self.data.n,
                "num_frames": self.args.num_frames,
                "size": self.args.size,
                "fps": self.args.fps,
                "components": components,
                "processes": self.acc.num_processes,
                "mixed_precision": self.acc.mixed_precision,
                "recipe": asdict(self.options),
                "argv": sys.argv,
            }
            (self.out / "train_args.json").write_text(json.dumps(info, indent=2) + "\n")
        self.acc.wait_for_everyone()


def check_args(args: argparse.Namespace) -> list[str]:
    """The components to train; every bad flag raises one ``AvgenError`` sentence."""
    components = [c.strip() for c in args.components.split(",") if c.strip()]
    if not components:
        raise AvgenError(f"--components is empty; choose from {', '.join(COMPONENTS)}.")
    for c in components:
        if c not in COMPONENTS:
            raise AvgenError(f"component {c!r} is unknown; choose from {', '.join(COMPONENTS)}.")
    if not (args.data / "metadata.jsonl").is_file():
        raise AvgenError(f"{args.data} has no metadata.jsonl; give a folder in the world layout.")
    if not 3 <= args.num_frames <= 129 or (args.num_frames - 1) % 2:
        raise AvgenError(f"--num-frames {args.num_frames} must be 1 + 2k between 3 and 129.")
    if not 16 <= args.size <= 512 or args.size % 8:
        raise AvgenError(f"--size {args.size} must be a multiple of 8 from 16 to 512.")
    if not 1 <= args.fps <= 60:
        raise AvgenError(f"--fps {args.fps} is outside 1 to 60.")
    for flag, value in (
        ("--tokenizer-object-weight", args.tokenizer_object_weight),
        ("--tokenizer-edge-weight", args.tokenizer_edge_weight),
    ):
        if not 0 <= value <= 100:
            raise AvgenError(f"{flag} must be from 0 to 100, got {value:g}.")
    if args.checkpoint_every < 1 or args.log_every < 1:
        raise AvgenError("--checkpoint-every and --log-every must be at least 1.")
    if args.threads is not None and args.threads < 1:
        raise AvgenError(f"--threads {args.threads} must be at least 1.")
    return components


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``avgen train phenaki`` and ``python -m avgen.train.phenaki``."""
    args = build_parser().parse_args(argv)
    components = check_args(args)
    if args.threads is not None:
        torch.set_num_threads(args.threads)  # 1 is fastest on a CPU shared with other jobs
    torch.manual_seed(args.seed)
    args.out.mkdir(parents=True, exist_ok=True)
    signal.signal(signal.SIGTERM, request_stop)
    Trainer(args).run(components)
    return 0


if __name__ == "__main__":
    try:
        raise SystemExit(main())
    except AvgenError as exc:
        sys.stderr.write(f"avgen: {exc}\n")
        raise SystemExit(2) from None
