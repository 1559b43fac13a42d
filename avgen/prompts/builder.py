"""Prompt builders: layer an audio or video prompt the way the prompt guide orders it.

An audio prompt gives genre/mood, then details, then length/tempo; a video prompt gives scene,
then motion, then style/camera (course lesson 11, "Prompt Design Strategies"). Durations and
tempos are checked against the one range table, ``avgen.ranges.RANGES``.
"""

from __future__ import annotations

from avgen.errors import AvgenError
from avgen.ranges import RANGES, check_range

MAX_DURATION_S = RANGES["duration"].high
MAX_BPM = RANGES["tempo"].high
AUDIO_LAYERS = ("genre/mood", "details", "length/tempo")
VIDEO_LAYERS = ("scene", "motion", "style/camera")


def _num(x: float) -> str:
    return f"{x:g}"


def _text(name: str, value: object) -> str:
    """``value`` if it is a string (a layer of a prompt), else AvgenError naming ``name``."""
    if not isinstance(value, str):
        raise AvgenError(f"{name} must be text (a string), got {type(value).__name__}.")
    return value


def build_audio_prompt(
    genre_mood: str,
    details: str = "",
    duration_s: float | None = None,
    tempo_bpm: float | None = None,
) -> str:
    """Layer an audio prompt: genre/mood, then details, then length/tempo (the prompt guide)."""
    head = _text("genre_mood", genre_mood).strip().rstrip(",;")
    details = _text("details", details).strip()
    if not head:
        raise AvgenError("genre_mood is empty; give a genre or mood, e.g. 'Ethereal ambient synth'")
    text = f"{head} {details}" if details else head
    tail = []
    if duration_s is not None:
        tail.append(f"{_num(check_duration(duration_s))} seconds")
    if tempo_bpm is not None:
        tail.append(f"at {_num(check_range('tempo', tempo_bpm, label='tempo_bpm'))} BPM")
    return f"{text}, {' '.join(tail)}" if tail else text


def build_video_prompt(scene: str, motion: str = "", style: str = "") -> str:
    """Layer a video prompt: scene, then motion, then style/camera (the prompt guide)."""
    layers = {"scene": scene, "motion": motion, "style": style}
    parts = [_text(name, p).strip().strip(",;") for name, p in layers.items()]
    if not parts[0]:
        raise AvgenError("scene is empty; describe the scene first, e.g. 'Snowy mountain peak'")
    return ", ".join(p for p in parts if p)


def check_duration(seconds: float) -> float:
    """Return ``seconds`` as a float if it lies in (0, 600], else raise AvgenError."""
    try:
        value = float(seconds)
    except (TypeError, ValueError, OverflowError):
        raise AvgenError(f"duration must be a number of seconds, got {seconds!r}") from None
    return float(check_range("duration", value))
