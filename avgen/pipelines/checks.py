"""Input checks that the API, avgen's pipelines and the diffusers adapters share: one table of
ranges (``RANGES``) that every range check and its error sentence read, one sentence each."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from avgen.errors import AvgenError


@dataclass(frozen=True)
class Range:
    """An allowed range: ``low`` to ``high`` in ``unit``; ``whole`` for whole numbers;
    ``open_low`` / ``open_high`` when that end is excluded; ``span`` words a closed range
    "between" (for amounts) or "from" (for sizes that are snapped to a grid)."""

    name: str
    low: float
    high: float
    unit: str = ""
    whole: bool = False
    open_low: bool = False
    open_high: bool = False
    span: str = "between"

    def contains(self, value: float) -> bool:
        above = value > self.low if self.open_low else value >= self.low
        below = value < self.high if self.open_high else value <= self.high
        return bool(above and below)

    def sentence(
        self,
        value: Any,
        low: float | None = None,
        high: float | None = None,
        shown: str | None = None,
    ) -> str:
        """ "<name> must be ... , got <value>." with this range (or ``low`` / ``high``);
        ``shown`` replaces the value's own spelling (a prompt's 400-digit number, shortened)."""
        lo, hi = self.low if low is None else low, self.high if high is None else high
        unit = f" {self.unit}" if self.unit else ""
        if self.whole:
            got = repr(value) if shown is None else shown
            return f"{self.name} must be a whole number from {lo} to {hi}{unit}, got {got}."
        number = isinstance(value, int | float) and not isinstance(value, bool)
        got = f"{value:g}" if number else repr(value)
        got = got if shown is None else shown
        if self.open_low and not self.open_high:
            span = f"more than {lo:g} and at most {hi:g}{unit}"
        elif self.span == "from":
            span = f"from {lo:g} to {hi:g}{unit}"
        else:
            span = f"between {lo:g} and {hi:g}{unit}"
            span += " (exclusive)" if self.open_low and self.open_high else ""
        return f"{self.name} must be {span}, got {got}."


_TABLE = (
    Range("steps", 1, 1000, whole=True),
    Range("guidance", 0.0, 50.0),
    Range("batch", 1, 64, whole=True),
    Range("seed", 0, 2**63 - 1, whole=True),
    Range("candidates", 1, 16, whole=True),
    Range("duration", 0.0, 600.0, "seconds", open_low=True),
    Range("tempo", 0.0, 300.0, "BPM", open_low=True),
    Range("audio duration", 1.0, 60.0, "seconds"),
    Range("init audio duration", 1.0, 60.0, "seconds"),
    Range("video duration", 0.125, 30.0, "seconds"),
    Range("strength", 0.0, 1.0, open_low=True),
    Range("super-resolution cut-off", 0.0, 8000.0, "Hz", open_low=True, open_high=True),
    Range("fps", 1, 30, whole=True),
    Range("upscale", 0, 4096, "pixels", whole=True),
    Range("width", 32, 256, "pixels", span="from"),  # avgen's models; diffusers' up to 2048
    Range("height", 32, 256, "pixels", span="from"),
)
#: Every range a generating input is checked against, by name.
RANGES: dict[str, Range] = {r.name: r for r in _TABLE}
MAX_VIDEO_SECONDS = RANGES["video duration"].high


def check_range(
    name: str,
    value: Any,
    *,
    low: float | None = None,
    high: float | None = None,
    label: str | None = None,
) -> Any:
    """``value`` checked against ``RANGES[name]`` (``low`` / ``high`` narrow it for one model;
    ``label`` names it in the sentence); returns it. One AvgenError sentence otherwise."""
    rng = RANGES[name]
    if label is not None:
        rng = replace(rng, name=label)
    lo, hi = rng.low if low is None else low, rng.high if high is None else high
    bounded = replace(rng, low=lo, high=hi)
    if isinstance(value, bool) or not isinstance(value, int | float):
        if rng.whole:
            raise AvgenError(rng.sentence(value, lo, hi))
        try:
            float(value)
        except (TypeError, ValueError):
            unit = f" of {rng.unit}" if rng.unit else ""
            raise AvgenError(f"{rng.name} must be a number{unit}, got {value!r}.") from None
        raise AvgenError(rng.sentence(value, lo, hi))
    if rng.whole and not float(value).is_integer():
        raise AvgenError(rng.sentence(value, lo, hi))
    if math.isnan(value) or not bounded.contains(value):
        raise AvgenError(rng.sentence(value, lo, hi))
    return value


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
