"""Tests for avgen.worlds.av_checks: visual events, audio onsets and the AV sync checker."""

from __future__ import annotations

import json

import numpy as np
import pytest

from avgen import media
from avgen.errors import AvgenError
from avgen.worlds.av import render_av_clip
from avgen.worlds.av_checks import audio_onsets, check_av_sync, visual_events
from avgen.worlds.motion import MotionSpec, ObjectSpec, render_motion_spec
from avgen.worlds.sfx import impact_sound, render_sfx

SR = 16000


def _bounce_clip(scene: str = "grass", duration: float = 3.0):
    """A red ball dropped from 0.35 fw above a grass field: several bounces, then rest."""
    ball = ObjectSpec("red", "circle", "medium", "bounce", x=0.5, y=0.6 - 0.35)
    return render_motion_spec(MotionSpec([ball], scene, duration_s=duration, seed=1), 64, 8)


def _soundtrack(times: list[float], n: int, shift_s: float = 0.0) -> np.ndarray:
    rng = np.random.default_rng(0)
    audio = np.zeros(n, np.float32)
    for t in times:
        k = int(round((t + shift_s) * SR))
        x = impact_sound("thud", rng, SR)[: max(0, n - k)]
        audio[k : k + len(x)] += x
    return audio


def test_visual_events_between_frames_within_20_ms() -> None:
    clip = _bounce_clip()
    truth = [e["t"] for e in clip.truth["events"]]
    assert len(truth) >= 3
    found = [e["t"] for e in visual_events(clip.frames, clip.fps, clip.expected)]
    assert len(found) == len(truth)
    err = np.abs(np.array(found) - np.array(truth)) * 1000
    assert err.max() < 20, err  # a frame is 125 ms


def test_rendered_bounce_in_sync_and_shifted_by_100_ms_not() -> None:
    clip = _bounce_clip()
    times = [e["t"] for e in clip.truth["events"]]
    n = int(len(clip.frames) / clip.fps * SR)
    good = check_av_sync(clip.frames, clip.fps, _soundtrack(times, n), SR, clip.expected)
    sync = good["sync"]
    assert sync["measurable"] and sync["match"] is True
    assert sync["measured"]["median_abs_offset_ms"] < 10
    assert sync["measured"]["n_visual_events"] == len(times)
    late = check_av_sync(clip.frames, clip.fps, _soundtrack(times, n, 0.1), SR, clip.expected)
    offsets = [e["offset_ms"] for e in late["sync"]["measured"]["events"]]
    assert late["sync"]["match"] is False
    assert all(80 < o < 120 for o in offsets), offsets
    json.dumps(good)


def test_av_clip_through_mp4_in_sync(tmp_path) -> None:
    seed = next(s for s in range(40) if len(render_av_clip(s, duration_s=3.0).truth["events"]) >= 2)
    clip = render_av_clip(seed, duration_s=3.0)
    path = media.write_mp4(tmp_path / "c.mp4", clip.frames, clip.fps, clip.audio, clip.sr)
    frames, fps, audio, sr = media.read_mp4(path)
    out = check_av_sync(frames, fps, audio, sr, {**clip.expected, "events": clip.truth["events"]})
    assert out["sync"]["match"] is True
    assert out["sync"]["measured"]["max_abs_offset_ms"] < 20
    errors = [e for e in out["events"]["measured"]["errors_ms"] if e is not None]
    assert errors and max(abs(e) for e in errors) < 20


def test_audio_onsets_to_the_millisecond_over_rain() -> None:
    rng = np.random.default_rng(3)
    n = 3 * SR
    audio = 0.1 * render_sfx("rain", 3.0, rng, SR) / 0.5
    times = [0.3123, 1.0507, 1.9, 2.41]
    for i, t in enumerate(times):
        x = impact_sound("knock" if i % 2 else "thud", rng, SR) * 0.8
        k = int(round(t * SR))
        audio[k : k + len(x)] += x[: n - k]
    found = np.array([o["t"] for o in audio_onsets(audio, SR)])
    for t in times:
        assert np.min(np.abs(found - t)) < 0.002


def test_circling_object_has_no_events() -> None:
    orbit = ObjectSpec("yellow", "square", "medium", "circle", angle=30.0)
    clip = render_motion_spec(MotionSpec([orbit], "gray", duration_s=6.0, seed=2), 64, 8)
    assert visual_events(clip.frames, clip.fps, clip.expected) == []


def test_no_events_is_not_measurable_and_events_are_counted() -> None:
    still = ObjectSpec("blue", "square", "medium", "still")
    clip = render_motion_spec(MotionSpec([still], "sky", duration_s=2.0, seed=3), 64, 8)
    audio = np.zeros(2 * SR, np.float32)
    out = check_av_sync(clip.frames, 8, audio, SR, {"events": [{"t": 1.0}]})
    assert out["sync"]["measurable"] is False and out["sync"]["match"] is None
    assert out["events"]["measured"]["missed"] == 1 and out["events"]["match"] is False


def test_tolerance_from_expected() -> None:
    clip = _bounce_clip()
    times = [e["t"] for e in clip.truth["events"]]
    n = int(len(clip.frames) / clip.fps * SR)
    audio = _soundtrack(times, n, 0.03)
    assert check_av_sync(clip.frames, 8, audio, SR, {})["sync"]["match"] is True
    assert check_av_sync(clip.frames, 8, audio, SR, {"tolerance_ms": 20})["sync"]["match"] is False


def test_bad_inputs() -> None:
    frames = np.zeros((4, 8, 8, 3), np.uint8)
    with pytest.raises(AvgenError, match="frames"):
        check_av_sync(frames[..., 0], 8, np.zeros(100), SR, {})
    with pytest.raises(AvgenError, match="fps"):
        check_av_sync(frames, 0, np.zeros(100), SR, {})
    with pytest.raises(AvgenError, match="audio"):
        check_av_sync(frames, 8, np.zeros(0), SR, {})
    with pytest.raises(AvgenError, match="sr"):
        check_av_sync(frames, 8, np.zeros(100), 0, {})
