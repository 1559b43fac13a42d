"""The shape every generating pipeline has, so ``avgen.api`` drives them all the same way.

avgen's own ``TextToAudioPipeline`` / ``TextToVideoPipeline`` (also what an exported audio
folder loads as) and the diffusers adapters ``DiffusersAudioPipeline`` /
``DiffusersVideoPipeline`` each satisfy one of these protocols (structural typing: no shared
base class). The steps follow diffusers' pipelines: ``check_inputs``, ``encode_prompt``, the
window plan, then ``__call__`` with diffusers' argument names.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np


@runtime_checkable
class GeneratingPipeline(Protocol):
    """What every pipeline has: a loader, its defaults, an id, and the first two steps.

    ``config`` holds at least ``num_inference_steps`` and ``guidance_scale`` (the defaults);
    ``model_id`` names the model in sidecars; ``loads_dtype`` is True when ``from_pretrained``
    loads the weights in the requested dtype (then the API must not autocast)."""

    config: dict[str, Any]
    model_id: str
    loads_dtype: bool

    @classmethod
    def from_pretrained(
        cls, folder: str | Path | None, *, device: str = "cpu", **options: Any
    ) -> Any:
        """Load a model folder (``options``: dtype, GPU switches, a LoRA adapter ...)."""

    def encode_prompt(self, prompt: str, negative_prompt: str | None, batch: int = 1) -> Any:
        """2. The conditional and unconditional text conditions (or, for a wrapped diffusers
        pipeline that encodes text itself, the prompt arguments it is handed)."""


@runtime_checkable
class AudioPipeline(GeneratingPipeline, Protocol):
    """A text-to-audio pipeline: ``__call__`` returns an ``AudioPipelineOutput``."""

    def check_inputs(
        self,
        prompt: str,
        num_inference_steps: int,
        guidance_scale: float,
        audio_length_in_s: float,
        num_candidates: int,
        vocoder: str | None,
        init_audio: np.ndarray | None = None,
        strength: float = 0.6,
        inpaint: tuple[float, float] | None = None,
        super_resolution: float | None = None,
    ) -> float:
        """1. One AvgenError for the first bad input; returns the duration to generate (the
        init audio's own length when one is given)."""

    def window_plan(self, duration_s: float) -> list[tuple[int, int]]:
        """Latent (start, length) of each window; ``len`` times steps is the progress total."""

    def __call__(
        self, prompt: str, *, callback: Callable[[int, int], None] | None = None, **kwargs: Any
    ) -> Any: ...


@runtime_checkable
class VideoPipeline(GeneratingPipeline, Protocol):
    """A text-to-video pipeline: ``__call__`` returns a ``VideoPipelineOutput``."""

    def check_inputs(
        self,
        prompt: str,
        num_inference_steps: int,
        guidance_scale: float,
        num_frames: int | None,
        fps: int,
        duration_s: float | None = None,
    ) -> None:
        """1. One AvgenError for the first bad input (``num_frames`` None: from the duration)."""

    def snap_size(self, width: int, height: int) -> tuple[int, int]:
        """The nearest size the model makes (a warning when it differs)."""

    def snap_frames(self, num_frames: int, *, warn: bool = True) -> int:
        """The nearest frame count the model makes (a warning when it differs and ``warn``)."""

    def window_plan(self, num_frames: int, has_context: bool = False) -> list[int]:
        """New frames of each window; ``len`` times steps is the progress total."""

    def __call__(
        self, prompt: str, *, callback: Callable[[int, int], None] | None = None, **kwargs: Any
    ) -> Any: ...
