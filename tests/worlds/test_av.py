"""Tests for avgen.worlds.av: AVWorld clips, their soundtrack, captions and ground truth."""

from __future__ import annotations

import json

import numpy as np
import pytest

from avgen.errors import AvgenError
from avgen.prompts import parse_prompt
from avgen.worlds.av import AVClip, render_av_clip, traffic_hum
from avgen.worlds.av_checks import audio_onsets
from avgen.worlds.heldout import is_heldout_visual

SEEDS = range(24)


@pytest.fixture(scope="module")
def clips() -> dict[int, AVClip]:
    return {s: render_av_clip(s) for s in SEEDS}


def test_same_seed_same_bytes(clips) -> None:
    again = render_av_clip(5)
    first = clips[5]
    assert np.array_equal(first.frames, again.frames)
    assert first.audio.tobytes() == again.audio.tobytes()
    assert first.captions == again.captions
    assert json.dumps(first.truth) == json.dumps(again.truth)
    assert not np.array_equal(first.audio[:1000], clips[6].audio[:1000]) or (
        first.captions != clips[6].captions
    )


def test_shapes_and_truth(clips) -> None:
    for s, c in clips.items():
        f = c.frames.shape[0]
        assert c.frames.dtype == np.uint8 and c.frames.shape[1:] == (64, 64, 3)
        assert c.audio.dtype == np.float32 and c.sr == 16000
        assert len(c.audio) == round(f / c.fps * c.sr)
        assert np.max(np.abs(c.audio)) <= 0.95 + 1e-6
        assert c.truth["world"] == "av" and c.truth["seed"] == s
        assert "world_version" in c.truth and len(c.captions) >= 3
        for e in c.truth["events"]:
            assert {"t", "kind", "sound", "surface"} <= set(e)
            assert e["sound"] == ("thud" if e["surface"] == "floor" else "knock")
        json.dumps(c.truth)


def test_most_clips_have_events(clips) -> None:
    with_events = sum(bool(c.truth["events"]) for c in clips.values())
    assert with_events >= 0.7 * len(clips)


def test_impacts_start_at_the_event_times(clips) -> None:
    checked = 0
    for c in clips.values():
        times = np.array([e["t"] for e in c.truth["events"]])
        found = np.array([o["t"] for o in audio_onsets(c.audio, c.sr)])
        for t in times:
            # an impact closely following another may hide in it; the others are exact
            if np.any((times < t) & (times > t - 0.1)):
                continue
            k = int(round(t * c.sr))
            before = np.max(np.abs(c.audio[max(0, k - 160) : k - 1]))  # the 10 ms before
            assert np.max(np.abs(c.audio[k : k + 16])) > 1.5 * before  # loud within 1 ms
            assert np.min(np.abs(found - t)) < 0.005, (c.truth["seed"], t)
            checked += 1
    assert checked >= 20


def test_captions_cover_picture_and_sound(clips) -> None:
    for c in clips.values():
        floor = any(e["surface"] == "floor" for e in c.truth["events"])
        for cap in c.captions:
            if floor:
                assert any(w in cap for w in ("thud", "thump")), cap
        parsed = parse_prompt(c.captions[-1]).to_dict()
        if floor:
            assert "thud" in parsed["sound_effects"]
            assert "thud" in c.expected["sound_effects"]
        assert c.expected["kind"] == "av"
        if c.truth["bed"] in ("ocean waves", "rain"):
            assert c.truth["bed"] in c.expected["sound_effects"]


def test_some_clips_collide_with_a_knock() -> None:
    knocks = []
    for s in range(100, 160):
        c = render_av_clip(s, duration_s=4.0)
        knocks += [e for e in c.truth["events"] if e["sound"] == "knock"]
        if knocks:
            assert any("knock" in cap for cap in c.captions)
            break
    assert knocks


def test_beds_fit_the_scene(clips) -> None:
    for c in clips.values():
        if "rain" in c.truth["particles"]:
            assert c.truth["bed"] == "rain"
        elif c.truth["scene"] == "ocean":
            assert c.truth["bed"] == "ocean waves"
        elif c.truth["scene"] == "city":
            assert c.truth["bed"] == "traffic"
        else:
            assert c.truth["bed"] is None
        if c.truth["music"] is not None:
            assert c.truth["bed"] is None and c.truth["music"]["instrument"]


def test_traffic_hum_has_no_sharp_onsets() -> None:
    hum = traffic_hum(4 * 16000, np.random.default_rng(0))
    assert hum.dtype == np.float32 and abs(float(np.max(np.abs(hum))) - 1) < 1e-5
    assert len(audio_onsets(hum, 16000)) <= 1


def test_options_and_heldout() -> None:
    c = render_av_clip(3, size=48, fps=12, duration_s=2.0)
    assert c.frames.shape == (24, 48, 48, 3) and c.fps == 12
    assert len(c.audio) == 2 * 16000
    h = render_av_clip(4, heldout="only", duration_s=2.0)
    assert all(is_heldout_visual(o["colour"], o["shape"], o["motion"]) for o in h.truth["objects"])


def test_bad_inputs() -> None:
    with pytest.raises(AvgenError, match="seed"):
        render_av_clip(-1)
    with pytest.raises(AvgenError, match="heldout"):
        render_av_clip(1, heldout="maybe")
    with pytest.raises(AvgenError):
        render_av_clip(1, duration_s=60.0)
