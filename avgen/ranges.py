"""The one table of allowed ranges (``RANGES``) that every range check and its error sentence
read: the API, the pipelines, the diffusers adapters, the prompt parser and the builders.
It imports nothing heavy (no torch), so the prompt tools can use it."""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
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
        got = spell(value, whole=self.whole) if shown is None else shown
        if self.whole:
            return f"{self.name} must be a whole number from {lo} to {hi}{unit}, got {got}."
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
    Range("audio duration", 1.0, 120.0, "seconds"),
    Range("init audio duration", 1.0, 60.0, "seconds"),
    Range("video duration", 0.125, 120.0, "seconds"),
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
    if isinstance(value, float) and (math.isnan(value) or (rng.whole and not value.is_integer())):
        raise AvgenError(rng.sentence(value, lo, hi))
    if not bounded.contains(value):  # an int of any size compares exactly with the float bounds
        raise AvgenError(rng.sentence(value, lo, hi))
    return value


def spell(value: Any, *, whole: bool = False, limit: int = 40) -> str:
    """``value`` as an error sentence shows it: numbers as numbers (a huge whole number by its
    digit count), anything else as its repr, cut to about ``limit`` characters."""
    if isinstance(value, int) and not isinstance(value, bool):
        if abs(value) < 10**limit:
            return str(value)
        digits = int(value.bit_length() * math.log10(2)) + 1
        return f"a {'negative ' if value < 0 else ''}number of about {digits} digits"
    if isinstance(value, float) and not whole:
        return f"{value:g}"
    text = repr(value)
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} characters)"
