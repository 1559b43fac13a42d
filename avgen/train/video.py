"""Train avgen's Sora-style text-to-video model (space-time DiT + causal VAE, flow matching).

``avgen train video --data DIR --out DIR`` (or ``python -m avgen.train.video``, or
``accelerate launch --multi_gpu --num_processes N -m avgen.train.video ...`` for DDP; without
CUDA that runs N CPU processes over gloo) trains, in order:

1. ``vae``: the causal video VAE (``avgen.video.vae.VideoVAE``) on random short crops
   (``1 + 4k`` frames) with L1 + KL, then fits the latent scaling factor (1 / std of the
   posterior means, Stable Diffusion's recipe) and saves ``OUT/vae``;
2. ``dit``: caches every clip's scaled VAE latent and every caption's MiniLM encoding once
   (``OUT/cache``), then trains ``avgen.video.dit.VideoDiT`` with rectified flow (logit-normal
   t, SD3 arXiv 2403.03206), 10 % condition dropout to the null text (CFG), random known-frame
   conditioning (``random_known_condition``: image-to-video and extension; revealed frames are
   not scored), the clip's fps as a condition, and a parameter EMA whose weights are saved to
   ``OUT/dit`` at every checkpoint (so a running job always leaves a usable model).

Motion plans (``--plans``): the DiT gets a layout input (``layout_dim``,
``avgen.video.layout``); each clip's plan is rebuilt from its metadata truth
(``plan_from_motion_truth``; clips without one train with "no plan"), its layout features at
the latent frames are cached like the latents, and PLAN_DROPOUT of the samples get no plan, so
text-only generation keeps working. ``--init-from DIR`` starts the DiT from a model folder's
DiT (its configuration, every weight whose name and shape match; the new layout input keeps its
zero init, so training starts from the text-only model's outputs).

The data folder is the world layout (``metadata.jsonl`` + mp4; ``avgen.worlds.loader``); clips
are retimed to ``--fps`` and cropped / padded to ``--num-frames``. Output: ``OUT/vae``,
``OUT/dit`` (``save_pretrained``), ``OUT/pipeline.json`` (so ``OUT`` loads with
``TextToVideoPipeline.from_pretrained``), ``OUT/vocabulary.json``, ``OUT/train_log.jsonl``,
``OUT/checkpoints/<component>/step_*.pt`` (resumed by default). ``--max-minutes`` time-boxes
each component; SIGTERM stops at the next log step and saves everything.

The recipe flags (``avgen.train.options``) default to the CPU recipe. The GPU recipe of
``tools/gpu_train_video.py`` is ``--mixed-precision bf16 --lr-schedule cosine --warmup 300
--min-lr-ratio 0.1 --ema-max-decay 0.999 --max-minutes dit=M --steps dit=1000000``: bf16
autocast through Accelerate, and the learning rate decayed over the time budget.
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

from avgen.diffusion.flow import flow_matching_loss
from avgen.errors import AvgenError
from avgen.files import temp_path
from avgen.train.captions import (
    CaptionIndex,
    caption_vocabulary,
    gather_text,
    text_cache,
)
from avgen.train.common import (
    ComponentLoop,
    cached_tensors,
    load_matching,
    request_stop,
)
from avgen.train.options import add_loop_options
from avgen.train.streams import seed_init
from avgen.video.dit import VideoDiT, random_known_condition
from avgen.video.layout import FEATURES as LAYOUT_FEATURES
from avgen.video.layout import window_layout
from avgen.video.vae import VideoVAE

COMPONENTS = ("vae", "dit")
DEFAULT_STEPS = {"vae": 1500, "dit": 20000}
DEFAULT_BATCH = {"vae": 8, "dit": 16}
DEFAULT_LR = {"vae": 1e-3, "dit": 5e-4}
TINY_CONFIG: dict[str, dict[str, Any]] = {
    "vae": {"hidden_channels": 8, "stem_channels": 4, "latent_channels": 4},
    "dit": {"hidden_size": 32, "num_layers": 1, "num_heads": 1, "mlp_ratio": 2.0},
}
VAE_CROP_FRAMES = 9  # 1 + 4 * 2: short clips make VAE steps cheap (the VAE is convolutional)
COND_DROPOUT = 0.1
PLAN_DROPOUT = 0.3  # motion plans dropped to "no plan", so text-only generation keeps working


# ----------------------------------------------------------------------------- options


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="avgen train video",
        description="Train the text-to-video components (causal VAE, space-time DiT).",
    )
    p.add_argument("--data", required=True, type=Path, help="folder: metadata.jsonl + mp4")
    p.add_argument("--out", required=True, type=Path, help="output folder")
    p.add_argument("--components", default="vae,dit", help="comma-separated, in order")
    p.add_argument("--steps", default=None, help="N or vae=N,dit=M")
    p.add_argument("--batch-size", default=None, help="N or component=N,... (per process)")
    p.add_argument("--lr", default=None, help="X or component=X,...")
    p.add_argument("--max-minutes", default=None, help="stop a component early: M or c=M,...")
    p.add_argument("--num-frames", type=int, default=17, help="training clip length (1 + 4k)")
    p.add_argument("--size", type=int, default=64, help="frame size in pixels (square)")
    p.add_argument("--fps", type=int, default=8, help="training frame rate")
    p.add_argument("--checkpoint-every", type=int, default=250, help="steps between checkpoints")
    p.add_argument("--log-every", type=int, default=25, help="steps between loss-log lines")
    p.add_argument("--resume", action=argparse.BooleanOptionalAction, default=True)
    p.add_argument("--tiny", action="store_true", help="tiny model sizes (tests, smoke runs)")
    p.add_argument(
        "--vae-object-weight",
        type=float,
        default=0.0,
        help="extra VAE loss weight on moving-object pixels (0 = plain L1)",
    )
    p.add_argument(
        "--dit-object-weight",
        type=float,
        default=0.0,
        help="with --plans: extra DiT loss weight on the latent cells the clip's objects cover "
        "(0 = plain loss)",
    )
    p.add_argument("--config", default=None, help="JSON (file or text): {component: kwargs}")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads per process")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--plans", action="store_true", help="the DiT follows motion plans "
                   "(a layout input; plans from each clip's metadata truth)")  # fmt: skip
    p.add_argument("--init-from", type=Path, default=None, help="start the DiT from this model "
                   "folder's DiT (new inputs keep their zero init)")  # fmt: skip
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    add_loop_options(p)
    return p


def object_weight(video: torch.Tensor, extra: float, threshold: float = 0.15) -> torch.Tensor:
    """Per-pixel loss weight: 1 + ``extra`` where a pixel differs from its clip's temporal median.

    Small moving objects cover a few percent of a MotionWorld frame, so a plain L1 loss is
    dominated by the static background; this weight makes the objects count.
    """
    if extra <= 0:
        return torch.ones_like(video[:, :1])
    background = video.median(dim=2, keepdim=True).values  # (B, 3, 1, H, W)
    moving = (video - background).abs().amax(dim=1, keepdim=True) > threshold  # (B, 1, F, H, W)
    return 1.0 + extra * moving.float()


# ----------------------------------------------------------------------------- data


class VideoData(CaptionIndex):
    """The data folder as tensors: uint8 clips (N, F, H, W, 3), real lengths, captions."""

    def __init__(self, args: argparse.Namespace, accelerator: Any, quiet: bool) -> None:
        from avgen.worlds.loader import WorldDataset

        with accelerator.main_process_first():
            ds = WorldDataset(
                args.data,
                "video",
                size=args.size,
                fps=args.fps,
                num_frames=args.num_frames,
                quiet=quiet,
            )
        self.video = ds.tensors["video"]  # (N, F, H, W, 3) uint8
        self.length = ds.tensors["video_length"]  # (N,)
        self.fps = float(args.fps)
        self.captions: list[list[str]] = [r.get("captions") or [r["text"]] for r in ds.rows]
        self.n = len(ds.rows)
        # the motion plan each clip was rendered from (None: a user's own data, no truth)
        self.plans = truth_plans(args.data, self.n)
        self.index_captions(self.captions)
        self.source = (Path(args.data), args.num_frames, args.size, args.fps)

    def facts(self) -> dict:
        """What train_args.json records of the data."""
        _, num_frames, size, fps = self.source
        return {"clips": self.n, "num_frames": num_frames, "size": size, "fps": fps}

    def cached_layouts(
        self, cache: Path, accelerator: Any, frames: int, height: int, width: int, factor: int
    ) -> torch.Tensor:
        """``layout_features`` cached in the folder ``cache`` (keyed by the metadata, the
        training window and the grid); the main process makes it, the others read it."""
        data, num_frames, _, fps = self.source
        key = hashlib.sha256(
            (data / "metadata.jsonl").read_bytes()
            + str((self.n, num_frames, fps, frames, height, width, factor)).encode()
            + str(LAYOUT_FEATURES).encode()
        ).hexdigest()[:16]
        path = cache / f"layouts_{key}.safetensors"

        def make() -> dict[str, torch.Tensor]:
            return {"layouts": self.layout_features(frames, height, width, factor)}

        return cached_tensors(accelerator, path, make)["layouts"]

    def layout_features(self, frames: int, height: int, width: int, factor: int) -> torch.Tensor:
        """Every clip's layout condition (N, FEATURES, frames, height, width) in float16 at the
        latent grid; zeros = no plan."""
        out = torch.zeros(self.n, LAYOUT_FEATURES, frames, height, width, dtype=torch.float16)
        for i, plan in enumerate(self.plans):
            if plan is not None:
                feats = window_layout(plan, 0, frames, height, width, self.fps, factor)
                out[i] = torch.from_numpy(feats)
        return out

    def clips(self, idx: torch.Tensor) -> torch.Tensor:
        """(B, 3, F, H, W) float in [-1, 1]."""
        v = self.video[idx].permute(0, 4, 1, 2, 3).float()  # (B, 3, F, H, W)
        return v / 127.5 - 1.0


def _truth_rows(folder: Path) -> list[dict]:
    """The metadata.jsonl rows in full and in order (blank lines skipped, as the loader does)."""
    rows = []
    for line in (folder / "metadata.jsonl").read_text().splitlines():
        if line.strip():
            row = json.loads(line)
            rows.append(row if isinstance(row, dict) else {})
    return rows


def truth_plans(folder: Path, n: int) -> list[Any]:
    """The motion plans of a data folder's first ``n`` clips, from their metadata truth
    (``plan_from_motion_truth``); None for a clip without MotionWorld truth."""
    truth = _truth_rows(folder)
    return [_truth_plan(truth[i]) if i < len(truth) else None for i in range(n)]


def _truth_plan(row: dict) -> Any:
    """A metadata row's motion plan (``plan_from_motion_truth``), None without MotionWorld truth."""
    from avgen.plan import PlanError, plan_from_motion_truth

    if not isinstance(row.get("objects"), list) or "size" not in row:
        return None
    try:
        return plan_from_motion_truth(row)
    except (KeyError, TypeError, ValueError, PlanError):
        return None


def dit_loss(
    model: torch.nn.Module,
    x0: torch.Tensor,
    text: dict[str, torch.Tensor],
    fps: float,
    gen: torch.Generator,
    layout: torch.Tensor | None = None,
    object_extra: float = 0.0,
) -> torch.Tensor:
    """The DiT's training objective on clean latents x0 (B, C, F', h, w) and their captions'
    encodings (``tokens`` / ``mask`` / ``pooled``, on x0's device): COND_DROPOUT of the samples
    get the null text (for CFG), random known frames are revealed and not scored
    (``random_known_condition``), rectified-flow loss. ``layout`` (B, FEATURES, F', h, w): the
    clips' motion-plan layouts, PLAN_DROPOUT of them dropped to zeros (no plan);
    ``object_extra`` > 0 weights the loss 1 + object_extra on the cells the layout's objects
    cover (whether or not the plan is shown), where all of the plan's information lies. ``gen``
    is a CPU generator."""
    b = x0.shape[0]
    drop = (torch.rand(b, generator=gen) < COND_DROPOUT).to(x0.device)  # -> the null text
    keep = (~drop).to(text["pooled"].dtype)
    cond: dict[str, Any] = {
        "tokens": text["tokens"] * keep[:, None, None],
        "mask": text["mask"] & ~drop[:, None],
        "pooled": text["pooled"] * keep[:, None],
        "fps": torch.full((b,), float(fps), device=x0.device),
    }
    weight = None
    if layout is not None:
        keep_plan = (torch.rand(b, generator=gen) >= PLAN_DROPOUT).to(x0.device)
        cond["layout"] = layout * keep_plan.to(layout.dtype)[:, None, None, None, None]
        if object_extra > 0:  # the truth's object cells, with or without the plan shown
            weight = 1.0 + object_extra * layout[:, 1:2].to(x0.dtype)  # (B, 1, F', h, w)
    cond.update(random_known_condition(x0, gen))
    mask = 1.0 - cond["known_mask"]
    return flow_matching_loss(model, x0, cond, mask=mask if weight is None else mask * weight)


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

    # ------------------------------------------------------------------ components

    def train_vae(self) -> None:
        seed_init(self.args.seed, "vae")
        model = VideoVAE(**self.configs["vae"])
        crop = min(VAE_CROP_FRAMES, self.args.num_frames)

        def loss_fn(m: torch.nn.Module, idx: torch.Tensor, gen: torch.Generator) -> dict:
            clips = self.data.clips(idx)  # (B, 3, F, H, W)
            starts = torch.randint(0, clips.shape[2] - crop + 1, (len(idx),), generator=gen)
            video = torch.stack([c[:, s : s + crop] for c, s in zip(clips, starts.tolist())])
            video = video.to(self.acc.device)  # (B, 3, crop, H, W)
            recon, mean, logvar = m(video, sample=True, generator=None)
            weight = object_weight(video, self.args.vae_object_weight)
            rec = ((recon - video).abs() * weight).mean() / weight.mean()
            kl = 0.5 * (mean.pow(2) + logvar.exp() - 1.0 - logvar).mean()
            inner = m.module if hasattr(m, "module") else m
            return {"total": rec + inner.kl_weight * kl, "rec": rec, "kl": kl}

        model, _, step = self.run_loop("vae", model, loss_fn)
        model.eval()
        raw = self.raw_latents(model)
        scale = model.fit_scaling_factor(raw)
        self.finish("vae", model, step, {"scaling_factor": scale})

    @torch.no_grad()
    def raw_latents(self, vae: VideoVAE, limit: int = 256) -> torch.Tensor:
        """Unscaled posterior means of up to ``limit`` clips, to fit the scaling factor."""
        means = []
        for s in range(0, min(limit, self.data.n), 16):
            idx = torch.arange(s, min(s + 16, limit, self.data.n))
            means.append(vae.encode(self.data.clips(idx))[0])
        return torch.cat(means)

    @torch.no_grad()
    def latents(self, vae: VideoVAE) -> torch.Tensor:
        """Scaled posterior means of every clip (N, C, F', h, w), cached in OUT/cache."""
        key = hashlib.sha256(
            (self.out / "vae" / "model.safetensors").read_bytes()
            + json.dumps(vae.config.to_dict(), sort_keys=True).encode()
            + str((self.data.n, self.args.num_frames, self.args.size, self.args.fps)).encode()
            + str(self.args.data.resolve()).encode()
        ).hexdigest()[:16]
        path = self.out / "cache" / f"latents_{key}.safetensors"

        def make() -> dict[str, torch.Tensor]:
            from tqdm import tqdm

            vae.eval()
            chunks = []
            for s in tqdm(range(0, self.data.n, 32), desc="latents", disable=self.quiet):
                idx = torch.arange(s, min(s + 32, self.data.n))
                chunks.append(vae.encode_frames(self.data.clips(idx)).half())
            return {"latents": torch.cat(chunks)}  # (N, C, F', h, w)

        return cached_tensors(self.acc, path, make)["latents"]

    def train_dit(self) -> None:
        vae_dir = self.out / "vae"
        init = self.args.init_from
        source = init_source(init) if init is not None else None
        if not (vae_dir / "config.json").is_file() and init is not None and self.main:
            if (init / "vae" / "config.json").is_file():  # the DiT's own VAE comes with it
                shutil.copytree(init / "vae", vae_dir, dirs_exist_ok=True)
        self.acc.wait_for_everyone()
        if not (vae_dir / "config.json").is_file():
            raise AvgenError(f"{vae_dir} has no trained VAE; train the 'vae' component first.")
        vae = VideoVAE.from_pretrained(vae_dir)
        lat = self.latents(vae)
        cache = text_cache(self.data, self.out, self.acc, self.quiet, batch=128)
        cfg = {
            **(source.config.to_dict() if source is not None else {}),
            "latent_channels": vae.latent_channels,
            "default_fps": float(self.args.fps),
            **self.configs["dit"],
        }
        cfg = {k: v for k, v in cfg.items() if not k.startswith("_")}
        if self.args.plans:
            cfg["layout_dim"] = LAYOUT_FEATURES
        elif source is not None:
            cfg.setdefault("layout_dim", 0)
        seed_init(self.args.seed, "dit")
        model = VideoDiT(**cfg)
        if source is not None:
            init_dit(model, source, self.args.init_from)
        data = self.data
        layout = None
        if model.layout_dim:
            if model.layout_dim != LAYOUT_FEATURES:
                raise AvgenError(f"the DiT's layout_dim must be {LAYOUT_FEATURES} (or 0).")
            _, _, f, h, w = lat.shape
            layout = data.cached_layouts(self.out / "cache", self.acc, f, h, w, vae.temporal_factor)

        def loss_fn(m: torch.nn.Module, idx: torch.Tensor, gen: torch.Generator) -> dict:
            dev = self.acc.device
            x0 = lat[idx].float().to(dev)  # (B, C, F', h, w)
            text = gather_text(cache, data.random_captions(idx, gen))
            text = {k: v.to(dev) for k, v in text.items()}
            plan = None if layout is None else layout[idx].float().to(dev)
            weight = self.args.dit_object_weight
            return {"total": dit_loss(m, x0, text, data.fps, gen, plan, weight)}

        self.run_with_ema(
            "dit",
            model,
            loss_fn,
            lambda: VideoDiT(**cfg),
            lambda: write_pipeline_config(self.out, self.args),
        )

    def run(self, components: list[str]) -> None:
        if self.run_components(components, self.data.facts()):
            write_pipeline_config(self.out, self.args)
            vocab = caption_vocabulary(self.data.unique_captions)
            (self.out / "vocabulary.json").write_text(json.dumps(vocab, indent=1) + "\n")
        self.acc.wait_for_everyone()


def init_source(folder: Path) -> VideoDiT:
    """The DiT of ``folder`` (a model folder or its ``dit/``) that ``--init-from`` starts from."""
    src = folder / "dit" if (folder / "dit" / "config.json").is_file() else folder
    if not (src / "config.json").is_file():
        raise AvgenError(f"--init-from {folder} holds no video DiT (no config.json).")
    return VideoDiT.from_pretrained(src)


def init_dit(model: VideoDiT, source: VideoDiT, folder: Path) -> None:
    """Load ``source``'s weights into ``model`` wherever name and shape match; weights the
    source lacks (the layout input) keep their initialisation. A source whose weights do not
    all fit is refused."""
    load_matching(model, source.state_dict(), folder, "DiT")


def write_pipeline_config(out: Path, args: argparse.Namespace) -> None:
    """Make OUT a loadable model folder (``TextToVideoPipeline.from_pretrained(OUT)``) once the
    VAE and the DiT exist; an existing pipeline.json (tuned defaults) is kept."""
    from avgen.pipelines.text_to_video import DEFAULTS, PIPELINE_CLASS, PIPELINE_CONFIG

    path = out / PIPELINE_CONFIG
    if path.is_file() or not all((out / c / "config.json").is_file() for c in ("vae", "dit")):
        return
    cfg = {
        "_class": PIPELINE_CLASS,
        **DEFAULTS,
        "window_frames": int(args.num_frames),
        "native_size": int(args.size),
        "fps": int(args.fps),
    }
    tmp = temp_path(path)
    tmp.write_text(json.dumps(cfg, indent=2) + "\n")
    os.replace(tmp, path)


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``avgen train video`` and ``python -m avgen.train.video``."""
    args = build_parser().parse_args(argv)
    components = [c.strip() for c in args.components.split(",") if c.strip()]
    for c in components:
        if c not in COMPONENTS:
            raise AvgenError(f"component {c!r} is unknown; choose from {', '.join(COMPONENTS)}.")
    if not (args.data / "metadata.jsonl").is_file():
        raise AvgenError(f"{args.data} has no metadata.jsonl; give a folder in the world layout.")
    if not 5 <= args.num_frames <= 129 or (args.num_frames - 1) % 4:
        raise AvgenError(f"--num-frames {args.num_frames} must be 1 + 4k between 5 and 129.")
    if not 16 <= args.size <= 512 or args.size % 16:
        raise AvgenError(f"--size {args.size} must be a multiple of 16 from 16 to 512.")
    weight = args.dit_object_weight
    if weight and not args.plans:
        raise AvgenError("--dit-object-weight needs --plans (the object cells come from plans).")
    if not 0 <= weight <= 100:
        raise AvgenError(f"--dit-object-weight must be from 0 to 100, got {weight:g}.")
    if not 1 <= args.fps <= 60:
        raise AvgenError(f"--fps {args.fps} is outside 1 to 60.")
    if args.checkpoint_every < 1 or args.log_every < 1:
        raise AvgenError("--checkpoint-every and --log-every must be at least 1.")
    if args.threads is not None:
        if args.threads < 1:
            raise AvgenError(f"--threads {args.threads} must be at least 1.")
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
