"""Text-to-video pipeline: a Sora-style space-time DiT over a causal video VAE's latent, sampled
with rectified flow (arXiv 2403.03206) and classifier-free guidance, on avgen's own models.

Numbered like diffusers' pipelines (``WanPipeline.__call__``): 1 check inputs, 2 encode the
prompt, 3 prepare timesteps, 4 prepare latents (init image / extension context), 5 denoising
loop (window by window), 6 decode.

Native sizes (as Sora): the DiT reads patch sequences of any length, so ``width``, ``height``
(multiples of ``size_multiple``: the VAE's 4x times the DiT's 2x patch; off-grid sizes are
rounded with a warning) and any frame count work. Long clips are made window by window: each
window has the trained length (``window_frames``, 17 = 2 s at 8 fps); after the first, a window
is given the last ``context_latent_frames`` latent frames of the video so far as known frames
(the DiT's ``known`` / ``known_mask`` condition, plus RePaint-style replacement in the sampler).
Because the VAE is causal, those context frames are re-encoded from the last
``1 + 4 (context - 1)`` decoded frames, so they mean exactly what a clip's first latent frames
mean in training; the new window's decoding of them is dropped and its remaining frames are
appended. ``init_image`` is the first window's first latent frame (a single frame encodes
alone); ``extend_video`` gives the first window its context from the end of that clip.

Defaults come from ``pipeline.json`` in the model folder; duration comes from the prompt parser
("for 10 seconds"), slow motion and the rest from the text itself (the captions say it).

Motion plans ("plan, then render", docs/PLANS.md): a DiT with a layout input
(``follows_plans``) takes ``motion_plan`` (``avgen.plan.MotionPlan``); each window gets its part
of the plan (``MotionPlan.window``) at its latent frames as ``cond["layout"]``
(``avgen.video.layout.window_layout``), so one object stays one object across windows; the
plan's frame 0 is the first new frame (after an extended clip; an init image is frame 0).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import torch

from avgen.diffusion.flow import sample, timestep_schedule
from avgen.diffusion.windows import window_callback
from avgen.errors import AvgenError
from avgen.files import write_json
from avgen.pipelines.checks import (
    RANGES,
    check_frames,
    check_range,
    check_sampling,
    read_pipeline_config,
)
from avgen.text import shared_text_encoder
from avgen.video.dit import VideoDiT
from avgen.video.layout import window_layout
from avgen.video.vae import VideoVAE

PIPELINE_CONFIG = "pipeline.json"
PIPELINE_CLASS = "TextToVideoPipeline"
SIZE_RANGE = (int(RANGES["width"].low), int(RANGES["width"].high))
DEFAULTS: dict[str, Any] = {
    "num_inference_steps": 20,
    "guidance_scale": 3.0,
    "shift": 1.0,
    "default_duration_s": 4.0,
    "window_frames": 17,
    "context_latent_frames": 2,
    "native_size": 64,
    "fps": 8,
}

__all__ = ["TextToVideoPipeline", "VideoPipelineOutput", "shared_text_encoder"]


def default_video_model_dir() -> Path:
    """The shipped model folder ``avgen/models/video`` (found inside the installed package)."""
    return Path(str(resources.files("avgen") / "models" / "video"))


def load_image(path: str | Path, width: int, height: int) -> np.ndarray:
    """An image file as uint8 (height, width, 3): short side scaled, centre cropped."""
    from PIL import Image, UnidentifiedImageError

    path = Path(path)
    if not path.is_file():
        raise AvgenError(f"init image {path} does not exist.")
    try:
        with Image.open(path) as img:
            rgb = np.asarray(img.convert("RGB"))
    except (UnidentifiedImageError, OSError) as exc:
        raise AvgenError(f"init image {path} is not a readable image ({exc}).") from exc
    return fit_frames(rgb[None], width, height)[0]


def load_video(path: str | Path, width: int, height: int) -> tuple[np.ndarray, float]:
    """A video file as uint8 (F, height, width, 3) and its fps."""
    from avgen.media import read_mp4

    path = Path(path)
    if not path.is_file():
        raise AvgenError(f"video to extend {path} does not exist.")
    try:
        frames, fps, _, _ = read_mp4(path)
    except AvgenError:
        raise
    except Exception as exc:  # PyAV raises many types for foreign files
        raise AvgenError(f"video to extend {path} is not a readable video ({exc}).") from exc
    return fit_frames(frames, width, height), float(fps)


def fit_frames(frames: np.ndarray, width: int, height: int) -> np.ndarray:
    """(F, H, W, 3) uint8 -> (F, height, width, 3): scale to cover, crop the centre."""
    f, h, w, _ = frames.shape
    if (h, w) == (height, width):
        return frames
    x = torch.from_numpy(np.array(frames)).permute(0, 3, 1, 2).float()  # (F, 3, H, W)
    scale = max(height / h, width / w)
    nh, nw = max(height, round(h * scale)), max(width, round(w * scale))
    x = torch.nn.functional.interpolate(
        x, size=(nh, nw), mode="bilinear", antialias=True, align_corners=False
    )
    top, left = (nh - height) // 2, (nw - width) // 2
    x = x[:, :, top : top + height, left : left + width]
    return x.round().clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1).numpy()


def to_tensor(frames: np.ndarray) -> torch.Tensor:
    """uint8 (F, H, W, 3) -> (1, 3, F, H, W) float in [-1, 1]."""
    x = torch.from_numpy(np.array(frames)).float() / 127.5 - 1.0
    return x.permute(3, 0, 1, 2)[None]


def to_frames(video: torch.Tensor) -> np.ndarray:
    """(3, F, H, W) in [-1, 1] -> uint8 (F, H, W, 3)."""
    x = ((video.float().clamp(-1, 1) + 1.0) * 127.5).round().to(torch.uint8)
    return x.permute(1, 2, 3, 0).cpu().numpy()


@dataclass
class VideoPipelineOutput:
    """``frames`` uint8 (F, H, W, 3) at ``fps`` (with an extended clip first when
    ``extend_video`` was given); ``joins`` the frame index of every window join;
    ``settings`` the resolved values that made it."""

    frames: np.ndarray
    fps: int
    joins: list[int] = field(default_factory=list)
    settings: dict[str, Any] = field(default_factory=dict)


class TextToVideoPipeline:
    """Causal video VAE + space-time DiT + frozen MiniLM, run as one text-to-video model (an
    ``avgen.pipelines.base.VideoPipeline``)."""

    loads_dtype = False  # float32 weights: the API autocasts for fp16 / bf16
    streams_frames = True  # __call__ takes frame_sink (long output, stories)
    engine = "dit"  # avgen.pipelines.engines

    def __init__(
        self,
        vae: VideoVAE,
        dit: VideoDiT,
        text_encoder: Any = None,
        config: dict[str, Any] | None = None,
        model_id: str = "custom",
        plan_dit: VideoDiT | None = None,
    ) -> None:
        self.vae, self.dit = vae, dit
        # a second DiT with a layout input, used only when a motion plan is given (``plan_dit``
        # in pipeline.json names its folder): text-only generation keeps the text-only weights
        self.plan_dit = plan_dit
        self._text_encoder = text_encoder
        self.config = {**DEFAULTS, **(config or {})}
        self.model_id = model_id
        self.device = torch.device("cpu")

    # ------------------------------------------------------------------ loading

    @classmethod
    def from_pretrained(
        cls,
        folder: str | Path | None = None,
        *,
        device: str | torch.device = "cpu",
        text_encoder: Any = None,
    ) -> TextToVideoPipeline:
        """Load ``folder`` (default: the shipped ``avgen/models/video``); AvgenError if it is not
        an avgen video model (pipeline.json + vae/ + dit/)."""
        shipped = folder is None
        folder = default_video_model_dir() if shipped else Path(folder)
        config = read_pipeline_config(folder, PIPELINE_CONFIG, PIPELINE_CLASS, "video", shipped)
        vae = VideoVAE.from_pretrained(folder / "vae", device=device)
        dit = VideoDiT.from_pretrained(folder / "dit", device=device)
        plan_dit = None
        if config.get("plan_dit"):
            plan_dit = VideoDiT.from_pretrained(folder / str(config["plan_dit"]), device=device)
            if not plan_dit.layout_dim:
                raise AvgenError(
                    f"{folder}: pipeline.json's plan_dit {config['plan_dit']!r} has no layout "
                    "input (layout_dim 0)."
                )
        for net in (dit, plan_dit):
            if net is not None and net.latent_channels != vae.latent_channels:
                raise AvgenError(
                    f"{folder}: the DiT expects {net.latent_channels} latent channels but the "
                    f"VAE makes {vae.latent_channels}."
                )
        if plan_dit is not None and tuple(plan_dit.patch_size) != tuple(dit.patch_size):
            raise AvgenError(f"{folder}: the two DiTs have different patch sizes.")
        model_id = "avgen/models/video" if shipped else str(folder)
        config = {k: v for k, v in config.items() if not k.startswith("_")}
        pipe = cls(vae, dit, text_encoder, config, model_id=model_id, plan_dit=plan_dit)
        return pipe.to(device)

    def save_pretrained(self, folder: str | Path) -> Path:
        """Write both components (save_pretrained) and pipeline.json into ``folder``."""
        folder = Path(folder)
        self.vae.save_pretrained(folder / "vae")
        self.dit.save_pretrained(folder / "dit")
        cfg = {"_class": PIPELINE_CLASS, **{k: self.config[k] for k in DEFAULTS}}
        if self.plan_dit is not None:
            name = str(self.config.get("plan_dit") or "dit_plans")
            self.plan_dit.save_pretrained(folder / name)
            cfg["plan_dit"] = name
        write_json(folder / PIPELINE_CONFIG, cfg)  # a unique temporary name, then a rename
        return folder

    def to(self, device: str | torch.device) -> TextToVideoPipeline:
        self.device = torch.device(device)
        self.vae.to(self.device).eval()
        self.dit.to(self.device).eval()
        if self.plan_dit is not None:
            self.plan_dit.to(self.device).eval()
        return self

    @property
    def text_encoder(self) -> Any:
        if self._text_encoder is None:
            self._text_encoder = shared_text_encoder(self.device)
        return self._text_encoder

    @property
    def follows_plans(self) -> bool:
        """Whether a DiT reads motion plans (the plan DiT, or ``layout_dim`` in the DiT's
        config)."""
        return self.plan_dit is not None or bool(getattr(self.dit, "layout_dim", 0))

    def denoiser(self, planned: bool) -> VideoDiT:
        """The DiT for a window: the plan DiT when the window has a plan and the folder ships
        one, else the DiT."""
        return self.plan_dit if (planned and self.plan_dit is not None) else self.dit

    def check_plan(self, motion_plan: Any) -> None:
        """A model without a layout input refuses an explicit plan (one sentence)."""
        if motion_plan is not None and not self.follows_plans:
            raise AvgenError(
                f"the model {self.model_id} does not follow motion plans (its DiT has no layout "
                "input); generate without a plan or use a model trained with plans."
            )

    def window_layout(
        self, motion_plan: Any, first_frame: int, shape: tuple[int, ...], fps: int
    ) -> torch.Tensor:
        """4b. The layout condition (1, FEATURES, F', h, w) of the window of latent ``shape``
        whose first video frame is ``first_frame`` of the planned frames."""
        feats = window_layout(
            motion_plan, first_frame, shape[2], shape[3], shape[4], fps, self.vae.temporal_factor
        )
        return torch.from_numpy(feats)[None].to(self.device)

    @property
    def size_multiple(self) -> int:
        """Frame sizes must be multiples of this: the VAE's spatial factor x the DiT's patch."""
        return self.vae.spatial_factor * max(self.dit.patch_size[1:])

    # ------------------------------------------------------------------ steps

    def snap_size(self, width: int, height: int) -> tuple[int, int]:
        """Round sizes off the patch grid to the nearest valid one, with a warning."""
        m = self.size_multiple
        lo, hi = SIZE_RANGE
        out = []
        for name, v in (("width", width), ("height", height)):
            check_range(name, v)
            snapped = int(min(hi, max(lo, m * round(v / m))))
            if snapped != v:
                warnings.warn(
                    f"{name} {v} is not a multiple of {m}; using {snapped}.", stacklevel=3
                )
            out.append(snapped)
        return out[0], out[1]

    def snap_frames(self, num_frames: int, *, warn: bool = True) -> int:
        """Any frame count works (windows of the trained length cover it): ``num_frames``."""
        return num_frames

    def check_inputs(
        self,
        prompt: str,
        num_inference_steps: int,
        guidance_scale: float,
        num_frames: int | None,
        fps: int,
        duration_s: float | None = None,
    ) -> None:
        """1. One clear AvgenError for the first bad input (``num_frames`` None: the frame count
        comes from ``duration_s``)."""
        check_sampling(prompt, num_inference_steps, guidance_scale, "video")
        check_frames(num_frames, fps, duration_s)

    def encode_prompt(
        self, prompt: str, negative_prompt: str | None, batch: int = 1
    ) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
        """2. MiniLM token states + pooled vector; the negative prompt or the null text
        (no tokens and a zero pooled vector: what condition dropout trained)."""
        enc = self.text_encoder.encode([prompt])
        cond = {k: v.to(self.device).expand(batch, *v.shape[1:]) for k, v in enc.items()}
        if negative_prompt:
            neg = self.text_encoder.encode([negative_prompt])
            uncond = {k: v.to(self.device).expand(batch, *v.shape[1:]) for k, v in neg.items()}
        else:
            uncond = {
                "tokens": torch.zeros_like(cond["tokens"]),
                "mask": torch.zeros_like(cond["mask"]),
                "pooled": torch.zeros_like(cond["pooled"]),
            }
        return cond, uncond

    def prepare_timesteps(self, num_inference_steps: int) -> torch.Tensor:
        """3. The sampling times (steps + 1,) from 1 to 0 (``shift`` from pipeline.json)."""
        return timestep_schedule(num_inference_steps, float(self.config["shift"]))

    def context_frames(self) -> int:
        """Video frames behind the context latent frames: 1 + 4 (context_latent_frames - 1)."""
        n = int(self.config["context_latent_frames"])
        return 1 + self.vae.temporal_factor * (n - 1)

    def window_plan(self, num_frames: int, has_context: bool = False) -> list[int]:
        """New frames contributed by each window (the first window has no context unless an
        extended clip gives it one)."""
        win = int(self.config["window_frames"])
        ctx_frames = self.context_frames()
        plan, left = [], num_frames
        first = True
        while left > 0:
            new = win if (first and not has_context) else win - ctx_frames
            plan.append(min(new, left))
            left -= new
            first = False
        return plan

    def prepare_latents(
        self, height: int, width: int, context: torch.Tensor | None
    ) -> tuple[tuple[int, ...], dict[str, torch.Tensor], tuple[torch.Tensor, torch.Tensor] | None]:
        """4. The window's latent shape (1, C, F', h, w) and its known-frame condition:
        ``context`` (1, C, n, h, w) scaled latent frames placed first (an init image is n = 1)."""
        s = self.vae.spatial_factor
        f_lat = self.vae.latent_frames(int(self.config["window_frames"]))
        shape = (1, self.vae.latent_channels, f_lat, height // s, width // s)
        if context is None:
            return shape, {}, None
        n = context.shape[2]
        known = torch.zeros(shape, device=self.device)
        known[:, :, :n] = context
        mask = torch.zeros(1, 1, *shape[2:], device=self.device)
        mask[:, :, :n] = 1.0
        return shape, {"known": known, "known_mask": mask}, (known, mask)

    def denoise(
        self,
        shape: tuple[int, ...],
        cond: dict[str, Any],
        uncond: dict[str, Any],
        known: dict[str, torch.Tensor],
        inpaint: tuple[torch.Tensor, torch.Tensor] | None,
        steps: int,
        guidance: float,
        generator: torch.Generator | None,
        callback: Callable[[int, int], None] | None,
    ) -> torch.Tensor:
        """5. One window of flow sampling with CFG (cond and uncond in one batch); the known
        frames ride in both conditions and are re-imposed after every step."""
        return sample(
            self.denoiser("layout" in cond),
            shape,
            {**cond, **known},
            {**uncond, **known},
            num_inference_steps=steps,
            guidance_scale=guidance,
            generator=generator,
            inpaint=inpaint,
            callback=callback,
            shift=float(self.config["shift"]),
            device=self.device,
        )

    def decode(self, latent: torch.Tensor) -> torch.Tensor:
        """6. Scaled latent (1, C, F', h, w) -> video (3, F, H, W) in [-1, 1]."""
        return self.vae.decode_latents(latent)[0]

    def encode_context(self, frames: np.ndarray) -> torch.Tensor:
        """The last ``1 + 4 (n - 1)`` frames -> n scaled latent frames (1, C, n, h, w)."""
        need = self.context_frames()
        clip = frames[-need:]
        if len(clip) < need:  # a short clip: hold its first frame (the VAE pads causally too)
            clip = np.concatenate([np.repeat(clip[:1], need - len(clip), axis=0), clip])
        return self.vae.encode_frames(to_tensor(clip).to(self.device))

    # ------------------------------------------------------------------ call

    @torch.no_grad()
    def __call__(
        self,
        prompt: str,
        negative_prompt: str | None = None,
        num_inference_steps: int | None = None,
        guidance_scale: float | None = None,
        num_frames: int | None = None,
        duration_s: float | None = None,
        width: int = 64,
        height: int = 64,
        fps: int = 8,
        generator: torch.Generator | None = None,
        init_image: str | Path | np.ndarray | None = None,
        extend_video: str | Path | np.ndarray | None = None,
        callback: Callable[[int, int], None] | None = None,
        motion_plan: Any = None,
        frame_sink: Callable[[np.ndarray], None] | None = None,
    ) -> VideoPipelineOutput:
        """Generate ``num_frames`` (or ``duration_s`` x fps; default: the prompt's duration, else
        pipeline.json's) new frames for ``prompt``. ``init_image`` (file or uint8 (H, W, 3))
        is the first frame; ``extend_video`` (file or uint8 (F, H, W, 3)) is continued, and
        returned first. ``callback(step, total)`` counts sampler steps over all windows.

        ``motion_plan`` (``avgen.plan.MotionPlan``; models whose DiT has a layout input): where
        each object is in each new frame, rendered with the colours and shapes the prompt asks
        for; its duration is the default duration.

        ``frame_sink`` (long output, streamed to disk): each window's new frames, uint8
        (F, H, W, 3), are handed to it as the window finishes and not kept, so memory does not
        grow with the length; the output's ``frames`` then hold only the last context frames
        (what a next window or shot continues from) and ``settings["streamed"]`` is True."""
        steps = int(
            self.config["num_inference_steps"]
            if num_inference_steps is None
            else num_inference_steps
        )
        guidance = float(
            self.config["guidance_scale"] if guidance_scale is None else guidance_scale
        )
        if init_image is not None and extend_video is not None:
            raise AvgenError("give either an init image or a video to extend, not both.")
        self.check_plan(motion_plan)
        if motion_plan is not None and num_frames is None and duration_s is None:
            duration_s = motion_plan.duration_s
        width, height = self.snap_size(width, height)
        num_frames = self.frame_count(prompt, num_frames, duration_s, fps)
        self.check_inputs(prompt, steps, guidance, num_frames, fps)  # 1
        cond, uncond = self.encode_prompt(prompt.strip(), negative_prompt)  # 2
        fps_t = torch.full((1,), float(fps), device=self.device)
        cond["fps"] = uncond["fps"] = fps_t
        self.prepare_timesteps(steps)  # 3 (validates; the sampler rebuilds the same grid)
        video, context = self.prepare_context(init_image, extend_video, width, height)  # 4a
        source_frames = len(video)
        plan = self.window_plan(num_frames, has_context=extend_video is not None)
        video, joins = self.generate_windows(  # 4 - 6, window by window
            plan, video, context, cond, uncond, (height, width), steps, guidance, generator,
            callback, extend_video is not None, motion_plan, fps, frame_sink,
        )  # fmt: skip
        settings = {
            "num_inference_steps": steps,
            "guidance_scale": guidance,
            "num_frames": num_frames,
            "width": width,
            "height": height,
            "fps": fps,
            "windows": len(plan),
            "source_frames": source_frames,
            "motion_plan": motion_plan is not None,
            "streamed": frame_sink is not None,
        }
        return VideoPipelineOutput(frames=video, fps=fps, joins=joins, settings=settings)

    def frame_count(
        self, prompt: str, num_frames: int | None, duration_s: float | None, fps: int
    ) -> int:
        """``num_frames``, else the duration (the argument, else the prompt's "for 10 seconds",
        else pipeline.json's) times ``fps``."""
        from avgen.prompts import parse_prompt

        if num_frames is not None:
            return num_frames
        if duration_s is None and isinstance(prompt, str):
            duration_s = parse_prompt(prompt, read=False).duration_s
        if duration_s is None:
            duration_s = float(self.config["default_duration_s"])
        check_range("video duration", duration_s)
        return max(1, round(float(duration_s) * fps))

    def prepare_context(
        self,
        init_image: str | Path | np.ndarray | None,
        extend_video: str | Path | np.ndarray | None,
        width: int,
        height: int,
    ) -> tuple[np.ndarray, torch.Tensor | None]:
        """4a. The video so far, uint8 (F, H, W, 3) (the clip to extend, else empty), and the
        first window's context (``encode_context`` of that clip, or ``encode_image`` of the
        init image; None for plain text to video). The Phenaki engine shares this step."""
        video: np.ndarray = np.zeros((0, height, width, 3), np.uint8)
        if extend_video is not None:
            if isinstance(extend_video, np.ndarray):
                video = fit_frames(extend_video, width, height)
            else:
                video, _ = load_video(extend_video, width, height)
            if not len(video):
                raise AvgenError("the video to extend has no frames.")
            return video, self.encode_context(video)
        if init_image is None:
            return video, None
        if isinstance(init_image, np.ndarray):
            image = fit_frames(init_image[None], width, height)[0]
        else:
            image = load_image(init_image, width, height)
        return video, self.encode_image(to_tensor(image[None]).to(self.device))

    def encode_image(self, image: torch.Tensor) -> torch.Tensor:
        """An init image as the first window's context: its latent frame (1, C, 1, h, w)."""
        return self.vae.encode_frames(image)

    def generate_windows(
        self,
        plan: list[int],
        video: np.ndarray,
        context: torch.Tensor | None,
        cond: dict[str, Any],
        uncond: dict[str, Any],
        size: tuple[int, int],
        steps: int,
        guidance: float,
        generator: torch.Generator | None,
        callback: Callable[[int, int], None] | None,
        extending: bool,
        motion_plan: Any = None,
        fps: int = 8,
        frame_sink: Callable[[np.ndarray], None] | None = None,
    ) -> tuple[np.ndarray, list[int]]:
        """4-6 for each window of ``plan``: latents with the context frames known (and the
        window's part of ``motion_plan``), sampling, decoding; returns the video (F, H, W, 3)
        with the new frames appended and the joins. With ``frame_sink`` each window's new
        frames go to it and only the last context frames are kept (and returned)."""
        joins: list[int] = []
        ctx_frames = self.context_frames()
        source = made = len(video)  # an extended clip's frames come before the plan's frame 0
        if frame_sink is not None:
            video = video[-ctx_frames:]
        for k, new in enumerate(plan):
            shape, known, inpaint = self.prepare_latents(*size, context)  # 4
            progress = window_callback(callback, k * steps, steps * len(plan))
            window_cond = cond
            if motion_plan is not None:  # 4b: this window's part of the plan
                has_ctx = k > 0 or extending
                first = made - source - (ctx_frames if has_ctx else 0)
                layout = self.window_layout(motion_plan, first, shape, fps)
                window_cond = {**cond, "layout": layout}
            latent = self.denoise(  # 5
                shape, window_cond, uncond, known, inpaint, steps, guidance, generator, progress
            )
            frames = to_frames(self.decode(latent))  # 6: (F_win, H, W, 3)
            # after the first window (or when extending) the window starts with a re-creation
            # of its context frames: drop it; an init image is kept as the first frame
            skip = 0 if (k == 0 and not extending) else ctx_frames
            if made:
                joins.append(made)
            fresh = frames[skip : skip + new]
            made += len(fresh)
            if frame_sink is not None:
                frame_sink(fresh)
                video = np.concatenate([video, fresh])[-ctx_frames:]  # (<= ctx, H, W, 3)
            else:
                video = np.concatenate([video, fresh])
            if k < len(plan) - 1:
                context = self.encode_context(video)
        return video, joins


def join_continuity(frames: np.ndarray, joins: list[int]) -> dict[str, float]:
    """Jumps at window joins against ordinary frame-to-frame change inside windows.

    Colour: mean absolute RGB difference (0-255) between consecutive frames. Position: the
    shift (pixels) of the intensity-weighted centroid of what differs from the frame's median
    colour (the moving objects). Returns the means at joins and elsewhere.
    """
    x = frames.astype(np.float32)
    colour = np.abs(np.diff(x, axis=0)).mean(axis=(1, 2, 3))  # (F - 1,)
    cents = []
    for f in x:
        d = np.abs(f - np.median(f.reshape(-1, 3), axis=0)).sum(-1)  # (H, W)
        w = d / max(float(d.sum()), 1e-6)
        ys, xs = np.mgrid[: f.shape[0], : f.shape[1]]
        cents.append(((w * ys).sum(), (w * xs).sum()))
    c = np.asarray(cents)
    pos = np.linalg.norm(np.diff(c, axis=0), axis=1)  # (F - 1,)
    at = [j - 1 for j in joins if 0 < j < len(frames)]
    inside = [i for i in range(len(colour)) if i not in set(at)]
    return {
        "colour_jump_at_joins": float(np.mean(colour[at])) if at else math.nan,
        "colour_change_inside": float(np.mean(colour[inside])) if inside else math.nan,
        "position_jump_at_joins": float(np.mean(pos[at])) if at else math.nan,
        "position_change_inside": float(np.mean(pos[inside])) if inside else math.nan,
    }
