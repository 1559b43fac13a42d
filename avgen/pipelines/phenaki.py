"""Phenaki engine (arXiv 2210.02399): text to video as discrete C-ViViT tokens made by MaskGIT.

The same public surface as ``TextToVideoPipeline`` (``from_pretrained``, ``save_pretrained``,
``to``, ``check_inputs``, ``snap_size``, ``window_plan``, ``__call__`` with its keywords), so
the API, the CLI, stories and sidecars drive either engine; the model folder names its engine
(pipeline.json ``_class`` ``PhenakiPipeline``, ``engine`` ``phenaki``). Steps: 1 check inputs,
2 encode the prompt (the frozen MiniLM, as the DiT), 3 prime tokens (init image / extension
context), 4 per window: its part of the motion plan, MaskGIT's parallel decoding
(``avgen.video.maskgit.maskgit_generate``), 5 decode the tokens with the tokenizer.

Windows: every window has the trained length (``window_frames``, 17 = 9 token time steps at
8 fps). After the first, a window is primed (Phenaki's prime frames) with the tokens of the last
``context_frames`` frames made so far (re-encoded from the decoded frames: the tokenizer is
causal in time, so they mean exactly what a clip's first tokens mean in training); the window's
decoding of them is dropped and its other frames appended. ``init_image`` is the first window's
first token step (one frame tokenizes alone) and is kept; ``extend_video`` primes the first
window with the end of that clip, which is returned first.

Motion plans: a MaskGIT with a layout input (``layout_dim`` > 0, ``follows_plans``) reads each
window's part of the plan at its token grid (``avgen.video.layout.window_layout`` with the
tokenizer's temporal patch; spatially the tokens are the DiT's 8-pixel cells).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import torch

from avgen.diffusion.windows import window_callback
from avgen.errors import AvgenError
from avgen.files import write_json
from avgen.pipelines.checks import check_frames, check_range, check_sampling, read_pipeline_config
from avgen.pipelines.text_to_video import (
    SIZE_RANGE,
    TextToVideoPipeline,
    VideoPipelineOutput,
    to_frames,
    to_tensor,
)
from avgen.text import shared_text_encoder
from avgen.video.cvivit import CViViT
from avgen.video.layout import window_layout
from avgen.video.maskgit import MaskGIT, maskgit_generate

PIPELINE_CONFIG = "pipeline.json"
PIPELINE_CLASS = "PhenakiPipeline"
ENGINE = "phenaki"
DEFAULTS: dict[str, Any] = {
    "num_inference_steps": 12,
    "guidance_scale": 3.0,
    "temperature": 1.0,
    "window_frames": 17,
    "context_frames": 5,
    "native_size": 64,
    "fps": 8,
    "default_duration_s": 4.0,
}

__all__ = ["PhenakiPipeline", "default_phenaki_model_dir"]


def default_phenaki_model_dir() -> Path:
    """The shipped Phenaki folder ``avgen/models/phenaki`` (inside the installed package)."""
    return Path(str(resources.files("avgen") / "models" / "phenaki"))


class PhenakiPipeline:
    """C-ViViT tokenizer + MaskGIT transformer + frozen MiniLM, run as one text-to-video model
    (an ``avgen.pipelines.base.VideoPipeline``)."""

    loads_dtype = False  # float32 weights: the API autocasts for fp16 / bf16
    streams_frames = True  # __call__ takes frame_sink (long output, stories)
    engine = ENGINE

    def __init__(
        self,
        tokenizer: CViViT,
        maskgit: MaskGIT,
        text_encoder: Any = None,
        config: dict[str, Any] | None = None,
        model_id: str = "custom",
    ) -> None:
        if maskgit.codebook_size != tokenizer.codebook_size:
            raise AvgenError(
                f"the MaskGIT predicts {maskgit.codebook_size} token ids but the tokenizer has "
                f"{tokenizer.codebook_size}."
            )
        self.tokenizer, self.maskgit = tokenizer, maskgit
        self._text_encoder = text_encoder
        self.config = {**DEFAULTS, **(config or {})}
        self.model_id = model_id
        self.device = torch.device("cpu")
        win, ctx = int(self.config["window_frames"]), int(self.config["context_frames"])
        if not 1 <= ctx < win:
            raise AvgenError(
                f"context_frames={ctx} must be at least 1 and fewer than window_frames={win}."
            )

    # ------------------------------------------------------------------ loading

    @classmethod
    def from_pretrained(
        cls,
        folder: str | Path | None = None,
        *,
        device: str | torch.device = "cpu",
        text_encoder: Any = None,
    ) -> PhenakiPipeline:
        """Load ``folder`` (default: the shipped ``avgen/models/phenaki``); AvgenError if it is
        not an avgen Phenaki folder (pipeline.json + tokenizer/ + maskgit/)."""
        shipped = folder is None
        folder = default_phenaki_model_dir() if shipped else Path(folder)
        config = read_pipeline_config(folder, PIPELINE_CONFIG, PIPELINE_CLASS, "video", shipped)
        tokenizer = CViViT.from_pretrained(folder / "tokenizer", device=device)
        maskgit = MaskGIT.from_pretrained(folder / "maskgit", device=device)
        model_id = "avgen/models/phenaki" if shipped else str(folder)
        config = {k: v for k, v in config.items() if not k.startswith("_") and k != "engine"}
        try:
            pipe = cls(tokenizer, maskgit, text_encoder, config, model_id=model_id)
        except AvgenError as exc:
            raise AvgenError(f"{folder}: {exc}") from None
        return pipe.to(device)

    def save_pretrained(self, folder: str | Path) -> Path:
        """Write both components (save_pretrained) and pipeline.json into ``folder``."""
        folder = Path(folder)
        self.tokenizer.save_pretrained(folder / "tokenizer")
        self.maskgit.save_pretrained(folder / "maskgit")
        cfg = {"_class": PIPELINE_CLASS, "engine": ENGINE}
        cfg.update({k: self.config[k] for k in DEFAULTS})
        write_json(folder / PIPELINE_CONFIG, cfg)
        return folder

    def to(self, device: str | torch.device) -> PhenakiPipeline:
        self.device = torch.device(device)
        self.tokenizer.to(self.device).eval()
        self.maskgit.to(self.device).eval()
        return self

    @property
    def text_encoder(self) -> Any:
        if self._text_encoder is None:
            self._text_encoder = shared_text_encoder(self.device)
        return self._text_encoder

    @property
    def follows_plans(self) -> bool:
        """Whether the MaskGIT reads motion plans (``layout_dim`` in its config)."""
        return bool(self.maskgit.layout_dim)

    def check_plan(self, motion_plan: Any) -> None:
        """A model without a layout input refuses an explicit plan (one sentence)."""
        if motion_plan is not None and not self.follows_plans:
            raise AvgenError(
                f"the model {self.model_id} does not follow motion plans (its MaskGIT has no "
                "layout input); generate without a plan or use a model trained with plans."
            )

    @property
    def size_multiple(self) -> int:
        """Frame sizes must be multiples of this: the tokenizer's spatial factor."""
        return int(self.tokenizer.spatial_factor)

    # ------------------------------------------------------------------ steps

    def snap_size(self, width: int, height: int) -> tuple[int, int]:
        """Round sizes to the token grid (at most the MaskGIT's position table), with a
        warning when a size changes."""
        m = self.size_multiple
        lo = SIZE_RANGE[0]
        out = []
        for name, v, cells in (
            ("width", width, self.maskgit.w),
            ("height", height, self.maskgit.h),
        ):
            check_range(name, v)
            hi = min(SIZE_RANGE[1], m * cells)
            snapped = int(min(hi, max(lo, m * round(v / m))))
            if snapped != v:
                warnings.warn(
                    f"{name} {v} is not a multiple of {m} up to {hi} (this Phenaki model's "
                    f"token grid); using {snapped}.",
                    stacklevel=3,
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
        """1. One clear AvgenError for the first bad input."""
        check_sampling(prompt, num_inference_steps, guidance_scale, "video")
        check_frames(num_frames, fps, duration_s)

    def encode_prompt(
        self, prompt: str, negative_prompt: str | None, batch: int = 1
    ) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
        """2. MiniLM token states and mask; the negative prompt's or the null text's (no
        tokens: what caption dropout trained)."""
        enc = self.text_encoder.encode([prompt])
        cond = {k: v.to(self.device).expand(batch, *v.shape[1:]) for k, v in enc.items()}
        if negative_prompt:
            neg = self.text_encoder.encode([negative_prompt])
            uncond = {k: v.to(self.device).expand(batch, *v.shape[1:]) for k, v in neg.items()}
        else:
            uncond = {k: torch.zeros_like(v) for k, v in cond.items()}
        return cond, uncond

    def prime_steps(self) -> int:
        """Token time steps of the context: the most whose frames fit in ``context_frames``."""
        return 1 + (int(self.config["context_frames"]) - 1) // int(self.tokenizer.temporal_patch)

    def context_frames(self) -> int:
        """Video frames behind the prime tokens: 1 + temporal_patch (prime_steps - 1)."""
        return int(self.tokenizer.num_frames_for(self.prime_steps()))

    def window_plan(self, num_frames: int, has_context: bool = False) -> list[int]:
        """New frames contributed by each window (the first window has no context unless an
        extended clip gives it one)."""
        win = int(self.config["window_frames"])
        ctx_frames = self.context_frames()
        plan, left, first = [], num_frames, True
        while left > 0:
            new = win if (first and not has_context) else win - ctx_frames
            plan.append(min(new, left))
            left -= new
            first = False
        return plan

    def token_grid(self, height: int, width: int) -> tuple[int, int, int]:
        """(t, h, w) token grid of one window."""
        grid = self.tokenizer.token_shape(int(self.config["window_frames"]), height, width)
        return tuple(int(g) for g in grid)  # type: ignore[return-value]

    def encode_context(self, frames: np.ndarray) -> torch.Tensor:
        """3. The last ``context_frames()`` frames -> prime tokens (1, k, h, w) (a short clip
        holds its first frame before it, as a causal tokenizer pads)."""
        need = self.context_frames()
        clip = frames[-need:]
        if len(clip) < need:
            clip = np.concatenate([np.repeat(clip[:1], need - len(clip), axis=0), clip])
        return self.tokenizer.encode(to_tensor(clip).to(self.device))

    def window_layout(
        self, motion_plan: Any, first_frame: int, grid: tuple[int, int, int], fps: int
    ) -> torch.Tensor:
        """4a. The layout (1, FEATURES, t, h, w) of the window whose first video frame is
        ``first_frame`` of the planned frames."""
        feats = window_layout(
            motion_plan, first_frame, *grid, fps, int(self.tokenizer.temporal_patch)
        )
        return torch.from_numpy(feats)[None].to(self.device)

    def generate_tokens(
        self,
        grid: tuple[int, int, int],
        cond: dict[str, torch.Tensor],
        uncond: dict[str, torch.Tensor],
        prime: torch.Tensor | None,
        layout: torch.Tensor | None,
        steps: int,
        guidance: float,
        temperature: float,
        fps: int,
        generator: torch.Generator | None,
        callback: Callable[[int, int], None] | None,
    ) -> torch.Tensor:
        """4b. One window's token ids (1, t, h, w) by MaskGIT decoding with CFG."""
        return maskgit_generate(
            self.maskgit,
            (1, *grid),
            cond["tokens"],
            cond["mask"],
            uncond_states=uncond["tokens"],
            uncond_mask=uncond["mask"],
            layout=layout,
            fps=float(fps),
            prime=prime,
            steps=steps,
            guidance=guidance,
            temperature=temperature,
            generator=generator,
            callback=callback,
        )

    def decode(self, tokens: torch.Tensor) -> torch.Tensor:
        """5. Token ids (1, t, h, w) -> video (3, F, H, W) in [-1, 1]."""
        return self.tokenizer.decode(tokens)[0]

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
        temperature: float | None = None,
    ) -> VideoPipelineOutput:
        """Generate ``num_frames`` (or ``duration_s`` x fps; default: the prompt's duration, else
        pipeline.json's) new frames for ``prompt``; the keywords are ``TextToVideoPipeline``'s
        (``init_image`` the first frame, ``extend_video`` continued and returned first,
        ``motion_plan`` followed by models that read plans, ``frame_sink`` for streamed long
        output), plus ``temperature`` (sampling temperature, default pipeline.json's)."""
        steps = int(
            self.config["num_inference_steps"]
            if num_inference_steps is None
            else num_inference_steps
        )
        guidance = float(
            self.config["guidance_scale"] if guidance_scale is None else guidance_scale
        )
        temp = float(self.config["temperature"] if temperature is None else temperature)
        if not 0.0 <= temp <= 10.0:
            raise AvgenError(f"temperature must be from 0 to 10, got {temp:g}.")
        if init_image is not None and extend_video is not None:
            raise AvgenError("give either an init image or a video to extend, not both.")
        self.check_plan(motion_plan)
        if motion_plan is not None and num_frames is None and duration_s is None:
            duration_s = motion_plan.duration_s
        width, height = self.snap_size(width, height)
        num_frames = self.frame_count(prompt, num_frames, duration_s, fps)
        self.check_inputs(prompt, steps, guidance, num_frames, fps)  # 1
        cond, uncond = self.encode_prompt(prompt.strip(), negative_prompt)  # 2
        video, prime = self.prepare_context(init_image, extend_video, width, height)  # 3
        source_frames = len(video)
        plan = self.window_plan(num_frames, has_context=extend_video is not None)
        video, joins = self.generate_windows(  # 4 - 5, window by window
            plan, video, prime, cond, uncond, (height, width), steps, guidance, temp,
            generator, callback, extend_video is not None, motion_plan, fps, frame_sink,
        )  # fmt: skip
        settings = {
            "engine": ENGINE,
            "num_inference_steps": steps,
            "guidance_scale": guidance,
            "temperature": temp,
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

    # num_frames, else the duration (argument, prompt, pipeline.json) x fps: as the DiT engine
    frame_count = TextToVideoPipeline.frame_count

    prepare_context = TextToVideoPipeline.prepare_context

    def encode_image(self, image: torch.Tensor) -> torch.Tensor:
        """An init image as the first window's prime tokens (1, 1, h, w)."""
        return self.tokenizer.encode(image)

    def generate_windows(
        self,
        plan: list[int],
        video: np.ndarray,
        prime: torch.Tensor | None,
        cond: dict[str, Any],
        uncond: dict[str, Any],
        size: tuple[int, int],
        steps: int,
        guidance: float,
        temperature: float,
        generator: torch.Generator | None,
        callback: Callable[[int, int], None] | None,
        extending: bool,
        motion_plan: Any = None,
        fps: int = 8,
        frame_sink: Callable[[np.ndarray], None] | None = None,
    ) -> tuple[np.ndarray, list[int]]:
        """4-5 for each window of ``plan``: prime tokens, the window's part of ``motion_plan``,
        MaskGIT decoding, tokenizer decoding; returns the video (F, H, W, 3) with the new
        frames appended and the joins. With ``frame_sink`` each window's new frames go to it
        and only the last context frames are kept (and returned)."""
        joins: list[int] = []
        ctx_frames = self.context_frames()
        grid = self.token_grid(*size)
        source = made = len(video)  # an extended clip's frames come before the plan's frame 0
        if frame_sink is not None:
            video = video[-ctx_frames:]
        for k, new in enumerate(plan):
            progress = window_callback(callback, k * steps, steps * len(plan))
            has_ctx = k > 0 or extending
            layout = None
            if motion_plan is not None:  # 4a: this window's part of the plan
                first = made - source - (ctx_frames if has_ctx else 0)
                layout = self.window_layout(motion_plan, first, grid, fps)
            tokens = self.generate_tokens(  # 4b
                grid, cond, uncond, prime, layout, steps, guidance, temperature, fps,
                generator, progress,
            )  # fmt: skip
            frames = to_frames(self.decode(tokens))  # 5: (F_win, H, W, 3)
            # a primed window starts with a re-creation of its context frames: drop it (an
            # init image is kept as the first frame)
            skip = ctx_frames if has_ctx else 0
            if made:
                joins.append(made)
            fresh = frames[skip : skip + new]
            made += len(fresh)
            if frame_sink is not None:
                frame_sink(fresh)
                video = np.concatenate([video, fresh])[-ctx_frames:]
            else:
                video = np.concatenate([video, fresh])
            if k < len(plan) - 1:
                prime = self.encode_context(video)
        return video, joins
