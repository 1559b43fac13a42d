"""Prompt builders: layer an audio or video prompt the way the prompt guide orders it.

An audio prompt gives genre/mood, then details, then length/tempo; a video prompt gives scene,
then motion, then style/camera (course lesson 11, "Prompt Design Strategies").
"""

from __future__ import annotations

import math

from avgen.errors import AvgenError

MAX_DURATION_S = 600.0
MAX_BPM = 300.0
AUDIO_LAYERS = ("genre/mood", "details", "length/tempo")
VIDEO_LAYERS = ("scene", "motion", "style/camera")


def _num(x: float) -> str:
    return f"{x:g}"


def build_audio_prompt(
    genre_mood: str,
    details: str = "",
    duration_s: float | None = None,
    tempo_bpm: float | None = None,
) -> str:
    """Layer an audio prompt: genre/mood, then details, then length/tempo (the prompt guide)."""
    head = genre_mood.strip().rstrip(",;")
    if not head:
        raise AvgenError("genre_mood is empty; give a genre or mood, e.g. 'Ethereal ambient synth'")
    text = f"{head} {details.strip()}" if details.strip() else head
    tail = []
    if duration_s is not None:
        tail.append(f"{_num(check_duration(duration_s))} seconds")
    if tempo_bpm is not None:
        if not 0 < tempo_bpm <= MAX_BPM:
            raise AvgenError(f"tempo_bpm must be between 0 and {MAX_BPM:g} BPM, got {tempo_bpm}")
        tail.append(f"at {_num(tempo_bpm)} BPM")
    return f"{text}, {' '.join(tail)}" if tail else text


def build_video_prompt(scene: str, motion: str = "", style: str = "") -> str:
    """Layer a video prompt: scene, then motion, then style/camera (the prompt guide)."""
    if not scene.strip():
        raise AvgenError("scene is empty; describe the scene first, e.g. 'Snowy mountain peak'")
    parts = [p.strip().strip(",;") for p in (scene, motion, style)]
    return ", ".join(p for p in parts if p)


def check_duration(seconds: float) -> float:
    """Return ``seconds`` as a float if it lies in (0, 600], else raise AvgenError."""
    try:
        value = float(seconds)
    except (TypeError, ValueError):
        raise AvgenError(f"duration must be a number of seconds, got {seconds!r}") from None
    if not (math.isfinite(value) and 0 < value <= MAX_DURATION_S):
        raise AvgenError(f"duration must be between 0 and 600 seconds, got {value:g}")
    return value
