"""Input checks that avgen's pipelines and the diffusers adapters share: one sentence each."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from avgen.errors import AvgenError

STEPS_RANGE = (1, 1000)
GUIDANCE_RANGE = (0.0, 50.0)
FPS_RANGE = (1, 30)
MAX_VIDEO_SECONDS = 30.0


def check_sampling(prompt: str, num_inference_steps: int, guidance_scale: float, what: str) -> None:
    """The prompt is not empty, steps and guidance are in range; ``what`` is "sound" or "video"."""
    if not isinstance(prompt, str) or not prompt.strip():
        raise AvgenError(f"the prompt is empty: describe the {what} you want.")
    lo, hi = STEPS_RANGE
    if isinstance(num_inference_steps, bool) or not lo <= int(num_inference_steps) <= hi:
        raise AvgenError(f"steps must be between {lo} and {hi}, got {num_inference_steps}.")
    lo, hi = GUIDANCE_RANGE
    if not lo <= float(guidance_scale) <= hi:
        raise AvgenError(f"guidance must be between {lo:g} and {hi:g}, got {guidance_scale:g}.")


def check_frames(num_frames: int, fps: int) -> None:
    """A whole frame rate in FPS_RANGE and 1 to MAX_VIDEO_SECONDS * fps whole frames."""
    lo, hi = FPS_RANGE
    if isinstance(fps, bool) or not isinstance(fps, int) or not lo <= fps <= hi:
        raise AvgenError(f"fps must be a whole number from {lo} to {hi}, got {fps!r}.")
    most = int(MAX_VIDEO_SECONDS * fps)
    if isinstance(num_frames, bool) or not isinstance(num_frames, int):
        raise AvgenError(f"num_frames must be a whole number, got {num_frames!r}.")
    if not 1 <= num_frames <= most:
        raise AvgenError(
            f"num_frames must be from 1 to {most} ({MAX_VIDEO_SECONDS:g} s at {fps} fps), "
            f"got {num_frames}."
        )


def read_pipeline_config(
    folder: Path, config_name: str, class_name: str, kind: str, shipped: bool
) -> dict[str, Any]:
    """``folder/config_name`` as a dict whose ``_class`` is ``class_name``; otherwise one error
    saying the folder is not an avgen ``kind`` ("audio", "video") model folder."""
    path = folder / config_name
    if not path.is_file():
        hint = f" (this install ships no trained {kind} model)" if shipped else ""
        raise AvgenError(
            f"{folder} is not an avgen {kind} model folder: it has no {config_name}{hint}."
        )
    try:
        config = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise AvgenError(f"{path} is not valid JSON ({exc.__class__.__name__}).") from exc
    if not isinstance(config, dict) or config.get("_class") != class_name:
        raise AvgenError(f"{folder} is not an avgen {kind} model folder ({path} is foreign).")
    return config
