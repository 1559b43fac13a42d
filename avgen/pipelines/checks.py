"""Input checks that the API, avgen's pipelines and the diffusers adapters share, one sentence
each; the table of ranges they read (``RANGES``, ``check_range``) lives in ``avgen.ranges``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from avgen.errors import AvgenError
from avgen.ranges import MAX_VIDEO_SECONDS, RANGES, Range, check_range

__all__ = [
    "MAX_VIDEO_SECONDS",
    "RANGES",
    "Range",
    "check_frames",
    "check_range",
    "check_sampling",
    "read_pipeline_config",
]


def check_sampling(prompt: str, num_inference_steps: int, guidance_scale: float, what: str) -> None:
    """The prompt is not empty, steps and guidance are in range; ``what`` is "sound" or "video"."""
    if not isinstance(prompt, str) or not prompt.strip():
        raise AvgenError(f"the prompt is empty: describe the {what} you want.")
    check_range("steps", num_inference_steps)
    check_range("guidance", guidance_scale)


def check_frames(num_frames: int | None, fps: int, duration_s: float | None = None) -> None:
    """A whole frame rate in range, ``duration_s`` (when given) in the video range, and 1 to
    MAX_VIDEO_SECONDS * fps whole frames (when given)."""
    check_range("fps", fps)
    if duration_s is not None:
        check_range("video duration", duration_s)
    if num_frames is None:
        return
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
