"""Train avgen's Phenaki-style text-to-video model (C-ViViT tokens + MaskGIT).

``avgen train phenaki --data DIR --out DIR`` (or ``python -m avgen.train.phenaki``, or
``accelerate launch ... -m avgen.train.phenaki`` for DDP) trains, in order:

1. ``tokenizer``: the C-ViViT tokenizer (``avgen.video.cvivit.CViViT``, FSQ bottleneck) on
   whole training windows (``--num-frames``, 1 + 2k) with L1 + L2 reconstruction, optionally
   weighted up on moving-object pixels (``--tokenizer-object-weight``, as the video VAE's
   object weight) and an L1 loss on spatial gradients (``--tokenizer-edge-weight``: sharp edges
   of small objects), and a parameter EMA whose weights are saved to ``OUT/tokenizer`` at every
   checkpoint (so a running job always leaves a usable tokenizer);
2. ``maskgit``: encodes every clip once with the trained tokenizer (``OUT/cache``, as the
   video trainer caches its latents), caches every caption's MiniLM token states, and with
   ``--plans`` every clip's motion-plan layout at the token grid (``avgen.video.layout``,
   temporal factor 2, 8-pixel cells), then trains ``avgen.video.maskgit.MaskGIT`` with
   ``maskgit_loss`` (random-ratio masking, prime frames), CAPTION_DROPOUT of the samples with
   the null text (classifier-free guidance) and PLAN_DROPOUT of the plans dropped to "no plan",
   the clip's fps as a condition, and a parameter EMA saved to ``OUT/maskgit`` at every
   checkpoint. ``--init-from DIR`` starts it from a Phenaki folder's MaskGIT (every weight whose
   name and shape match; a new layout input keeps its zero init) and brings that folder's
   tokenizer when OUT has none.

Once both exist, ``OUT/pipeline.json`` makes OUT a Phenaki model folder
(``PhenakiPipeline.from_pretrained(OUT)``, ``avgen video --model OUT``).

The data folder is the world layout (``metadata.jsonl`` + mp4; ``avgen.worlds.loader``); clips
are retimed to ``--fps`` and cropped / padded to ``--num-frames``. Output: ``OUT/tokenizer``,
``OUT/maskgit`` (``save_pretrained``), ``OUT/pipeline.json``, ``OUT/train_log.jsonl``,
``OUT/checkpoints/<component>/step_*.pt`` (resumed by default), ``OUT/train_args.json``.
``--max-minutes`` time-boxes each component; SIGTERM stops at the next log step and saves
everything.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import signal
import sys
from pathlib import Path
from typing import Any

import torch

from avgen.errors import AvgenError
from avgen.files import temp_path
from avgen.train.captions import gather_text, text_cache
from avgen.train.common import ComponentLoop, cached_tensors, load_matching, request_stop
from avgen.train.options import add_loop_options
from avgen.train.streams import seed_init
from avgen.train.video import VideoData
from avgen.video.cvivit import CViViT, spatial_gradients
from avgen.video.layout import FEATURES as LAYOUT_FEATURES
from avgen.video.maskgit import MaskGIT, maskgit_loss

COMPONENTS = ("tokenizer", "maskgit")
DEFAULT_STEPS = {"tokenizer": 4000, "maskgit": 20000}
DEFAULT_BATCH = {"tokenizer": 16, "maskgit": 16}
DEFAULT_LR = {"tokenizer": 1e-3, "maskgit": 5e-4}
CAPTION_DROPOUT = 0.1  # samples trained with the null text (classifier-free guidance)
PLAN_DROPOUT = 0.3  # motion plans dropped to "no plan", so text-only generation keeps working
PRIME_PROB = 0.3  # samples whose first time steps are given (prime frames), as maskgit_loss
MEDIAN_FRAMES = 5  # frames whose median is a clip's background (moving_weight)
TINY_CONFIG: dict[str, dict[str, Any]] = {
    "tokenizer": {"stem_channels": [4, 8, 16], "hidden_size": 16, "num_layers": 1},
    "maskgit": {"hidden_size": 32, "num_layers": 1, "num_heads": 2, "mlp_ratio": 2.0},
}


# ----------------------------------------------------------------------------- options


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="avgen train phenaki",
        description="Train the Phenaki-style text-to-video components (C-ViViT tokenizer, "
        "MaskGIT).",
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
    p.add_argument("--plans", action="store_true", help="the MaskGIT follows motion plans "
                   "(a layout input; plans from each clip's metadata truth)")  # fmt: skip
    p.add_argument("--init-from", type=Path, default=None, help="start the MaskGIT from this "
                   "Phenaki folder's MaskGIT (new inputs keep their zero init)")  # fmt: skip
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

        self.run_with_ema("tokenizer", model, loss_fn, lambda: CViViT(**cfg))

    # ------------------------------------------------------------------ maskgit

    @torch.no_grad()
    def tokens(self, tokenizer: CViViT) -> torch.Tensor:
        """Every clip's token ids (N, t, h, w) int16, cached in OUT/cache (keyed by the
        tokenizer's weights and the data)."""
        key = hashlib.sha256(
            (self.out / "tokenizer" / "model.safetensors").read_bytes()
            + json.dumps(tokenizer.config.to_dict(), sort_keys=True).encode()
            + str((self.data.n, self.args.num_frames, self.args.size, self.args.fps)).encode()
            + str(self.args.data.resolve()).encode()
        ).hexdigest()[:16]
        path = self.out / "cache" / f"tokens_{key}.safetensors"

        def make() -> dict[str, torch.Tensor]:
            from tqdm import tqdm

            tokenizer.eval()
            chunks = []
            for s in tqdm(range(0, self.data.n, 32), desc="tokens", disable=self.quiet):
                idx = torch.arange(s, min(s + 32, self.data.n))
                chunks.append(tokenizer.encode(self.data.clips(idx)).to(torch.int16))
            return {"tokens": torch.cat(chunks)}  # (N, t, h, w)

        return cached_tensors(self.acc, path, make)["tokens"]

    def train_maskgit(self) -> None:
        tok_dir = self.out / "tokenizer"
        init = self.args.init_from
        source = init_source(init) if init is not None else None
        if not (tok_dir / "config.json").is_file() and init is not None and self.main:
            if (init / "tokenizer" / "config.json").is_file():  # its own tokenizer comes along
                shutil.copytree(init / "tokenizer", tok_dir, dirs_exist_ok=True)
        self.acc.wait_for_everyone()
        if not (tok_dir / "config.json").is_file():
            raise AvgenError(
                f"{tok_dir} has no trained tokenizer; train the 'tokenizer' component first."
            )
        tokenizer = CViViT.from_pretrained(tok_dir)
        ids = self.tokens(tokenizer)  # (N, t, h, w)
        _, t, h, w = ids.shape
        cache = text_cache(self.data, self.out, self.acc, self.quiet, batch=128)
        cfg: dict[str, Any] = {
            **(source.config.to_dict() if source is not None else {}),
            "codebook_size": tokenizer.codebook_size,
            "max_t": t,
            "h": h,
            "w": w,
            "text_dim": int(cache["tokens"].shape[-1]),
            "default_fps": float(self.args.fps),
            **self.configs["maskgit"],
        }
        cfg = {k: v for k, v in cfg.items() if not k.startswith("_")}
        if self.args.plans:
            cfg["layout_dim"] = LAYOUT_FEATURES
        elif source is not None:
            cfg.setdefault("layout_dim", 0)
        seed_init(self.args.seed, "maskgit")
        model = MaskGIT(**cfg)
        if source is not None:
            load_matching(model, source.state_dict(), init, "MaskGIT")
        data = self.data
        layout = None
        if model.layout_dim:
            if model.layout_dim != LAYOUT_FEATURES:
                raise AvgenError(f"the MaskGIT's layout_dim must be {LAYOUT_FEATURES} (or 0).")
            layout = data.cached_layouts(
                self.out / "cache", self.acc, t, h, w, tokenizer.temporal_patch
            )

        def loss_fn(m: torch.nn.Module, idx: torch.Tensor, gen: torch.Generator) -> dict:
            dev = self.acc.device
            b = len(idx)
            text = gather_text(cache, data.random_captions(idx, gen))
            drop = torch.rand(b, generator=gen) < CAPTION_DROPOUT  # -> the null text
            states = text["tokens"].float() * (~drop).float()[:, None, None]
            mask = text["mask"] & ~drop[:, None]
            plan = None
            if layout is not None:
                keep = (torch.rand(b, generator=gen) >= PLAN_DROPOUT).float()
                plan = layout[idx].float() * keep[:, None, None, None, None]
                plan = plan.to(dev)
            fps = torch.full((b,), data.fps, device=dev)
            out = maskgit_loss(
                _Wrapped(m),
                ids[idx].long().to(dev),
                states.to(dev),
                mask.to(dev),
                plan,
                fps,
                generator=gen,
                prime_prob=PRIME_PROB,
            )
            return {"total": out["loss"], "acc": out["accuracy"], "mask": out["mask_ratio"]}

        self.run_with_ema(
            "maskgit",
            model,
            loss_fn,
            lambda: MaskGIT(**cfg),
            lambda: write_pipeline_config(self.out, self.args),
        )

    def run(self, components: list[str]) -> None:
        if self.run_components(components, self.data.facts()):
            write_pipeline_config(self.out, self.args)
        self.acc.wait_for_everyone()


class _Wrapped:
    """A prepared model (DDP hides the inner model's attributes) that still tells
    ``maskgit_loss`` its ``mask_id``; calling it runs the prepared model (gradient sync)."""

    def __init__(self, model: torch.nn.Module) -> None:
        self.model = model
        inner = model.module if hasattr(model, "module") else model
        self.mask_id = int(inner.mask_id)

    def __call__(self, *args: Any, **kwargs: Any) -> torch.Tensor:
        return self.model(*args, **kwargs)


def init_source(folder: Path) -> MaskGIT:
    """The MaskGIT of ``folder`` (a Phenaki folder or its ``maskgit/``) for ``--init-from``."""
    src = folder / "maskgit" if (folder / "maskgit" / "config.json").is_file() else folder
    if not (src / "config.json").is_file():
        raise AvgenError(f"--init-from {folder} holds no MaskGIT (no config.json).")
    return MaskGIT.from_pretrained(src)


def write_pipeline_config(out: Path, args: argparse.Namespace) -> None:
    """Make OUT a loadable Phenaki folder (``PhenakiPipeline.from_pretrained(OUT)``) once the
    tokenizer and the MaskGIT exist; an existing pipeline.json (tuned defaults) is kept."""
    from avgen.pipelines.phenaki import DEFAULTS, ENGINE, PIPELINE_CLASS, PIPELINE_CONFIG

    path = out / PIPELINE_CONFIG
    if path.is_file() or not all((out / c / "config.json").is_file() for c in COMPONENTS):
        return
    window = int(args.num_frames)
    cfg = {
        "_class": PIPELINE_CLASS,
        "engine": ENGINE,
        **DEFAULTS,
        "window_frames": window,
        "context_frames": min(int(DEFAULTS["context_frames"]), window - 2),
        "native_size": int(args.size),
        "fps": int(args.fps),
    }
    tmp = temp_path(path)
    tmp.write_text(json.dumps(cfg, indent=2) + "\n")
    os.replace(tmp, path)


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
