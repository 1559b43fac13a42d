"""Local diffusers video pipelines behind avgen's video interface: Wan 2.1 (arXiv 2503.20314),
LTX-Video (arXiv 2501.00103) and CogVideoX (arXiv 2408.06072).

``DiffusersVideoPipeline`` wraps a downloaded diffusers folder (``model_index.json`` + one
subfolder per component) so that ``avgen.api.text_to_video`` drives it exactly like avgen's own
``TextToVideoPipeline`` (both are ``avgen.pipelines.base.VideoPipeline``): the same ``config``
keys, ``check_inputs`` / ``encode_prompt`` / ``snap_size`` / ``snap_frames`` / ``window_plan``
steps and a ``__call__`` that returns uint8 frames. The folder's
``_class_name`` picks the family; the mode picks the diffusers class, built from the loaded
components with ``from_pipe`` (no second copy of the weights):

- text only: ``WanPipeline``, ``LTXPipeline``, ``CogVideoXPipeline``;
- ``init_image`` (the first frame): ``WanImageToVideoPipeline``, ``LTXImageToVideoPipeline``,
  ``CogVideoXImageToVideoPipeline``;
- ``extend_video`` (continue a clip): LTX conditions ``LTXConditionPipeline`` on the clip's last
  frames (frame index 0); Wan and CogVideoX image-to-video models start from its last frame.
  The returned frames hold the clip first, then the new frames.

Whether a mode is possible depends on the weights, not only the class name: a text-to-video
transformer reads only the noisy latent, an image-to-video one also reads the image latent
(more input channels). Wan 2.2 TI2V (``expand_timesteps``) does both. An impossible mode is one
AvgenError naming the folder and what to use instead.

Defaults are each family's native ones (size, frame count, fps, steps, guidance); sizes off
the family's grid are snapped and frame counts rounded to its rule (Wan 4k+1, LTX 8k+1,
CogVideoX 8k+1), each with a warning.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import torch

from avgen.errors import AvgenError
from avgen.pipelines.checks import check_frames, check_range, check_sampling
from avgen.pipelines.diffusers_common import load_diffusers_pipeline, progress_kwargs
from avgen.pipelines.text_to_video import VideoPipelineOutput, fit_frames

MAX_SIZE = 2048


@dataclass(frozen=True)
class VideoFamily:
    """A diffusers video family's native settings and its size / frame-count rules."""

    name: str
    text_class: str
    image_class: str
    extend_class: str
    width: int
    height: int
    num_frames: int
    fps: int
    num_inference_steps: int
    guidance_scale: float
    size_check: int  # the diffusers pipeline's own divisibility check on height / width
    frame_factor: int  # frames = frame_factor * (VAE temporal ratio) * k + 1


FAMILIES: dict[str, VideoFamily] = {
    "wan": VideoFamily(
        "Wan", "WanPipeline", "WanImageToVideoPipeline", "WanImageToVideoPipeline",
        832, 480, 81, 16, 50, 5.0, 16, 1,
    ),
    "ltx": VideoFamily(
        "LTX-Video", "LTXPipeline", "LTXImageToVideoPipeline", "LTXConditionPipeline",
        704, 480, 161, 25, 50, 3.0, 32, 1,
    ),
    "cogvideox": VideoFamily(
        "CogVideoX", "CogVideoXPipeline", "CogVideoXImageToVideoPipeline",
        "CogVideoXImageToVideoPipeline", 720, 480, 49, 8, 50, 6.0, 8, 2,
    ),
}  # fmt: skip

#: model_index.json ``_class_name`` -> family.
VIDEO_CLASSES: dict[str, str] = {
    "WanPipeline": "wan",
    "WanImageToVideoPipeline": "wan",
    "LTXPipeline": "ltx",
    "LTXImageToVideoPipeline": "ltx",
    "LTXConditionPipeline": "ltx",
    "CogVideoXPipeline": "cogvideox",
    "CogVideoXImageToVideoPipeline": "cogvideox",
    "CogVideoXVideoToVideoPipeline": "cogvideox",
}

#: How many of an extended clip's last frames LTX conditions on (at most; 1 + ratio * k).
LTX_CONTEXT_LATENT_FRAMES = 2


def _ensure_ftfy() -> None:
    """diffusers 0.42's WanImageToVideoPipeline calls ``ftfy.fix_text`` even when the optional
    ``ftfy`` package is missing (WanPipeline checks first): give it the identity then."""
    import diffusers.pipelines.wan.pipeline_wan_i2v as wan_i2v

    if not hasattr(wan_i2v, "ftfy"):
        wan_i2v.ftfy = SimpleNamespace(fix_text=lambda text: text)


def _load(folder: Path, device: str, options: dict[str, Any]) -> Any:
    """The diffusers pipeline of ``folder`` (through the shared loader: file checks, dtype,
    offload and VAE slicing / tiling)."""
    return load_diffusers_pipeline(
        folder,
        device=device,
        dtype=options.get("dtype", "fp32"),
        cpu_offload=bool(options.get("cpu_offload", False)),
        vae_slicing=bool(options.get("vae_slicing", False)),
        vae_tiling=bool(options.get("vae_tiling", False)),
        allowed={k: FAMILIES[v].name for k, v in VIDEO_CLASSES.items()},
    )


def _to_uint8(video: Any) -> np.ndarray:
    """diffusers ``output_type="np"`` frames (1, F, H, W, 3) floats in [0, 1] -> uint8."""
    x = np.asarray(video[0], dtype=np.float32)  # (F, H, W, 3)
    return (np.clip(x, 0.0, 1.0) * 255.0).round().astype(np.uint8)


def _pil(frame: np.ndarray) -> Any:
    from PIL import Image

    return Image.fromarray(np.ascontiguousarray(frame))


class DiffusersVideoPipeline:
    """A local Wan / LTX-Video / CogVideoX diffusers folder, run as an avgen video model (an
    ``avgen.pipelines.base.VideoPipeline``)."""

    loads_dtype = True  # loaded in the requested dtype: the caller must not autocast

    def __init__(
        self,
        pipe: Any,
        class_name: str,
        model_id: str = "custom",
        device: str = "cpu",
        **options: Any,
    ) -> None:
        if class_name not in VIDEO_CLASSES:
            allowed = ", ".join(VIDEO_CLASSES)
            raise AvgenError(
                f"{model_id} holds a {class_name}, which avgen video cannot run; "
                f"supported: {allowed}."
            )
        self.pipe = pipe
        self.class_name = class_name
        self.family = FAMILIES[VIDEO_CLASSES[class_name]]
        self.model_id = model_id
        self.device = torch.device(device)
        self.options = options
        self._modes: dict[str, Any] = {class_name: pipe}
        self._active: Any = pipe
        self.config = self._native_config()

    @classmethod
    def from_pretrained(
        cls, folder: str | Path, device: str = "cpu", **options: Any
    ) -> DiffusersVideoPipeline:
        """Load the diffusers folder ``folder`` (model_index.json); ``options``: ``dtype``
        ("fp32", "fp16", "bf16"), ``cpu_offload``, ``vae_slicing``, ``vae_tiling``."""
        folder = Path(folder)
        pipe = _load(folder, str(device), options)
        name = type(pipe).__name__
        return cls(pipe, name, model_id=str(folder), device=str(device), **options)

    # ------------------------------------------------------------------ the folder's rules

    @property
    def vae_spatial(self) -> int:
        for attr in ("vae_scale_factor_spatial", "vae_spatial_compression_ratio"):
            if hasattr(self.pipe, attr):
                return int(getattr(self.pipe, attr))
        return int(getattr(self.pipe.vae, "spatial_compression_ratio", 8))

    @property
    def vae_temporal(self) -> int:
        for attr in ("vae_scale_factor_temporal", "vae_temporal_compression_ratio"):
            if hasattr(self.pipe, attr):
                return int(getattr(self.pipe, attr))
        return int(getattr(self.pipe.vae, "temporal_compression_ratio", 4))

    @property
    def transformer_config(self) -> Any:
        t = getattr(self.pipe, "transformer", None) or getattr(self.pipe, "transformer_2", None)
        return t.config

    @property
    def size_multiple(self) -> int:
        """Sizes must be multiples of this: the VAE's spatial factor x the patch, and at least
        the pipeline's own check."""
        patch = self.transformer_config.get("patch_size", 1)
        patch = int(max(patch[1:]) if isinstance(patch, list | tuple) else patch)
        return math.lcm(self.vae_spatial * patch, self.family.size_check)

    @property
    def frame_step(self) -> int:
        """Frame counts are ``frame_step * k + 1``."""
        return self.vae_temporal * self.family.frame_factor

    @property
    def fixed_size(self) -> tuple[int, int] | None:
        """CogVideoX-5B-I2V's learned position embeddings fix the size (width, height)."""
        cfg = self.transformer_config
        if self.family.name == "CogVideoX" and cfg.get("use_learned_positional_embeddings"):
            s = self.vae_spatial
            return int(cfg["sample_width"]) * s, int(cfg["sample_height"]) * s
        return None

    def _image_weights(self) -> bool:
        """True when the transformer also reads an image latent (an image-to-video model)."""
        cfg = self.transformer_config
        if self.family.name == "Wan":
            return int(cfg["in_channels"]) > int(self.pipe.vae.config.z_dim)
        if self.family.name == "CogVideoX":
            return int(cfg["in_channels"]) == 2 * int(self.pipe.vae.config.latent_channels)
        return False

    def modes(self) -> dict[str, str | None]:
        """The diffusers class used for "text", "image" and "extend" (None: not possible)."""
        fam, image = self.family, self._image_weights()
        if fam.name == "LTX-Video":
            return {"text": fam.text_class, "image": fam.image_class, "extend": fam.extend_class}
        expand = bool(self.pipe.config.get("expand_timesteps", False))
        can_image = image or expand
        return {
            "text": None if image else fam.text_class,
            "image": fam.image_class if can_image else None,
            "extend": fam.extend_class if can_image else None,
        }

    def _native_config(self) -> dict[str, Any]:
        fam = self.family
        width, height, frames, fps = fam.width, fam.height, fam.num_frames, fam.fps
        cfg = self.transformer_config
        if fam.name == "CogVideoX":  # the transformer knows its training size
            s = self.vae_spatial
            width, height = int(cfg["sample_width"]) * s, int(cfg["sample_height"]) * s
            frames = int(cfg.get("sample_frames", frames))
            if cfg.get("patch_size_t"):  # CogVideoX 1.5: 16 fps
                fps = 16
        if fam.name == "Wan" and int(self.pipe.vae.config.z_dim) == 48:  # Wan 2.2 TI2V-5B
            width, height, frames, fps = 1280, 704, 121, 24
        return {
            "num_inference_steps": fam.num_inference_steps,
            "guidance_scale": fam.guidance_scale,
            "width": width,
            "height": height,
            "num_frames": frames,
            "fps": fps,
            "default_duration_s": round((frames - 1) / fps, 3),
            "frame_step": self.frame_step,
            "size_multiple": self.size_multiple,
            "family": fam.name,
            "class_name": self.class_name,
        }

    # ------------------------------------------------------------------ avgen's steps

    def snap_size(self, width: int, height: int) -> tuple[int, int]:
        """Round sizes off the family's grid to the nearest valid one, with a warning."""
        m = self.size_multiple
        out = []
        for name, v in (("width", width), ("height", height)):
            check_range(name, v, low=m, high=MAX_SIZE)
            snapped = int(min(MAX_SIZE // m * m, max(m, m * math.floor(v / m + 0.5))))
            if snapped != v:
                warnings.warn(
                    f"{name} {v} is not a multiple of {m} ({self.family.name}); using {snapped}.",
                    stacklevel=3,
                )
            out.append(snapped)
        fixed = self.fixed_size
        if fixed is not None and tuple(out) != fixed:
            raise AvgenError(
                f"{self.model_id} only generates {fixed[0]}x{fixed[1]} (its learned position "
                f"embeddings fix the size), got {out[0]}x{out[1]}."
            )
        return out[0], out[1]

    def snap_frames(self, num_frames: int, *, warn: bool = True) -> int:
        """The nearest frame count of the form ``frame_step * k + 1`` (k >= 1)."""
        step = self.frame_step
        snapped = step * max(1, math.floor((num_frames - 1) / step + 0.5)) + 1
        if warn and snapped != num_frames:
            warnings.warn(
                f"{self.family.name} makes {step}k+1 frames; using {snapped} instead of "
                f"{num_frames}.",
                stacklevel=3,
            )
        return snapped

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
    ) -> dict[str, Any]:
        """2. The diffusers pipeline encodes the text itself: its prompt arguments."""
        return {"prompt": prompt.strip(), "negative_prompt": negative_prompt or None}

    def window_plan(self, num_frames: int, has_context: bool = False) -> list[int]:
        """One window: diffusers video models make the whole clip at once."""
        return [num_frames]

    def _mode_pipe(self, mode: str, init: bool, extend: bool) -> Any:
        """The diffusers pipeline for ``mode`` ("text", "image", "extend"), sharing components."""
        cls_name = self.modes()[mode]
        fam = self.family.name
        if cls_name is None:
            kind = "image-to-video" if self._image_weights() else "text-to-video"
            if mode == "text":
                raise AvgenError(
                    f"{self.model_id} is a {fam} image-to-video model ({self.class_name}): it "
                    "needs an init image or a video to extend."
                )
            what = "start from an init image" if init else "extend a video"
            raise AvgenError(
                f"{self.model_id} is a {fam} {kind} model ({self.class_name}), which cannot "
                f"{what}; use a {fam} image-to-video folder ({self.family.image_class})."
            )
        if cls_name not in self._modes:
            self._modes[cls_name] = self._share(cls_name)
        pipe = self._modes[cls_name]
        if cls_name == "WanImageToVideoPipeline":
            _ensure_ftfy()
        pipe.set_progress_bar_config(disable=True)
        if pipe is not self._active and self.options.get("cpu_offload"):
            pipe.enable_model_cpu_offload(device=self.device)  # re-hook the shared components
        self._active = pipe
        return pipe

    def _share(self, cls_name: str) -> Any:
        """A ``cls_name`` pipeline over the loaded components (like diffusers' ``from_pipe``,
        which would also cast every shared weight to float32)."""
        import inspect

        import diffusers

        cls = getattr(diffusers, cls_name)
        have = self.pipe.components
        parts = {}
        for name in list(inspect.signature(cls.__init__).parameters)[1:]:
            if name in have:
                parts[name] = have[name]
            elif name in self.pipe.config:  # e.g. Wan's boundary_ratio, expand_timesteps
                parts[name] = self.pipe.config[name]
        return cls(**parts)

    def _family_kwargs(self, pipe: Any, fps: int) -> dict[str, Any]:
        kwargs: dict[str, Any] = {}
        if self.family.name == "LTX-Video":
            kwargs["frame_rate"] = fps
            if pipe.vae.config.get("timestep_conditioning"):  # LTX 0.9.1+: noisy decoding
                kwargs.update(decode_timestep=0.05, decode_noise_scale=0.025)
        if self.family.name == "CogVideoX":  # the text length its position table was built for
            kwargs["max_sequence_length"] = int(self.transformer_config["max_text_seq_length"])
        return kwargs

    def __call__(  # diffusers' own __call__ runs under torch.no_grad
        self,
        prompt: str,
        negative_prompt: str | None = None,
        num_inference_steps: int | None = None,
        guidance_scale: float | None = None,
        num_frames: int | None = None,
        width: int | None = None,
        height: int | None = None,
        fps: int | None = None,
        generator: torch.Generator | None = None,
        init_image: np.ndarray | None = None,
        extend_video: np.ndarray | None = None,
        callback: Callable[[int, int], None] | None = None,
    ) -> VideoPipelineOutput:
        """Generate ``num_frames`` frames (rounded to the family's rule) for ``prompt``.

        ``init_image`` uint8 (H, W, 3) is the first frame. ``extend_video`` uint8 (F, H, W, 3)
        is continued and returned first; there ``num_frames`` counts the clip's last frame,
        which the continuation starts from and does not repeat (so 4k+1 gives 4k new frames).
        ``callback(step, total)`` counts sampler steps."""
        cfg = self.config
        steps = int(num_inference_steps or cfg["num_inference_steps"])
        guidance = float(cfg["guidance_scale"] if guidance_scale is None else guidance_scale)
        fps = int(cfg["fps"] if fps is None else fps)
        num_frames = int(cfg["num_frames"] if num_frames is None else num_frames)
        if init_image is not None and extend_video is not None:
            raise AvgenError("give either an init image or a video to extend, not both.")
        width, height = self.snap_size(
            cfg["width"] if width is None else width, cfg["height"] if height is None else height
        )
        self.check_inputs(prompt, steps, guidance, num_frames, fps)  # 1
        mode = "text" if init_image is None else "image"
        mode = "extend" if extend_video is not None else mode
        pipe = self._mode_pipe(mode, init_image is not None, extend_video is not None)
        kwargs: dict[str, Any] = dict(
            **self.encode_prompt(prompt, negative_prompt),  # 2
            height=height,
            width=width,
            num_inference_steps=steps,
            guidance_scale=guidance,
            generator=generator,
            output_type="np",
            **progress_kwargs(pipe, callback, steps),
            **self._family_kwargs(pipe, fps),
        )
        source = np.zeros((0, height, width, 3), np.uint8)
        keep_from = 0  # generated frames before this index re-create known frames: dropped
        if extend_video is not None:
            source = fit_frames(np.asarray(extend_video), width, height)
            keep_from = self._extend_kwargs(kwargs, source, num_frames)
        else:
            if init_image is not None:
                image = fit_frames(np.asarray(init_image)[None], width, height)[0]
                kwargs["image"] = _pil(image)
            kwargs["num_frames"] = self.snap_frames(num_frames)
        frames = self._run(pipe, kwargs)[keep_from:]  # 3 - 6 inside diffusers
        joins = [len(source)] if len(source) else []
        video = np.concatenate([source, frames]) if len(source) else frames
        settings = {
            "num_inference_steps": steps,
            "guidance_scale": guidance,
            "num_frames": int(len(frames)),
            "width": width,
            "height": height,
            "fps": fps,
            "windows": 1,
            "source_frames": int(len(source)),
            "mode": mode,
            "pipeline_class": type(pipe).__name__,
        }
        return VideoPipelineOutput(frames=video, fps=fps, joins=joins, settings=settings)

    def _extend_kwargs(self, kwargs: dict[str, Any], source: np.ndarray, num_frames: int) -> int:
        """Condition on the end of ``source`` (F, H, W, 3): LTX on its last frames, Wan and
        CogVideoX on its last frame; sets ``num_frames`` and returns how many generated frames
        re-create the clip (dropped)."""
        if len(source) == 0:
            raise AvgenError("the video to extend holds no frames.")
        if self.family.name == "LTX-Video":
            from diffusers.pipelines.ltx.pipeline_ltx_condition import LTXVideoCondition

            r = self.vae_temporal  # the clip's last 1 + r * j frames: j whole latent steps
            context = 1 + r * min(LTX_CONTEXT_LATENT_FRAMES - 1, (len(source) - 1) // r)
            clip = [_pil(f) for f in source[-context:]]
            kwargs["conditions"] = [LTXVideoCondition(video=clip, frame_index=0)]
        else:
            context = 1
            kwargs["image"] = _pil(source[-1])
        # the continuation's first frame is the clip's last: num_frames counts it
        total = self.snap_frames(context - 1 + num_frames, warn=False)
        if total != context - 1 + num_frames:
            warnings.warn(
                f"{self.family.name} makes {self.frame_step}k+1 frames; continuing with "
                f"{total - context} new frames instead of {num_frames - 1}.",
                stacklevel=3,
            )
        kwargs["num_frames"] = total
        return context

    def _run(self, pipe: Any, kwargs: dict[str, Any]) -> np.ndarray:
        """The diffusers pipeline's own loop; its frames as uint8 (F, H, W, 3)."""
        try:
            result = pipe(**kwargs)
        except torch.cuda.OutOfMemoryError as exc:  # type: ignore[attr-defined]
            raise AvgenError(
                f"out of GPU memory at {kwargs['width']}x{kwargs['height']} x "
                f"{kwargs['num_frames']} frames; try a smaller size or fewer frames, "
                "--cpu-offload, --vae-tiling or --dtype bf16."
            ) from exc
        return _to_uint8(result.frames)
