"""Tests for avgen.worlds.sound (SoundWorld) and avgen.worlds.sfx (its procedural effects)."""

from __future__ import annotations

import json
import re
import sys

import numpy as np
import pytest

from avgen.errors import AvgenError
from avgen.vocab import (
    DEFAULT_EXCLUDED_INSTRUMENTS,
    PEAKS,
    RAGAS,
    REGISTER_RANGES,
    SOUND_EFFECTS,
    WORLD_VERSION,
)
from avgen.worlds import sound, sound_synth
from avgen.worlds.audio_checks import check_audio, predominant_pitch
from avgen.worlds.heldout import heldout_audio
from avgen.worlds.sfx import SFX_PEAK, render_sfx_events
from avgen.worlds.sound import SoundClip, impact_sound, render_sfx, render_sound_clip

SR = 16000
SCHEMA_KEYS = {
    "text", "kind", "duration_s", "tempo_bpm", "tempo_class", "time", "camera", "scene",
    "particles", "objects", "styles", "instruments", "drums", "patterns", "pitch_direction",
    "mode", "register", "dynamics", "fades", "effects", "sound_effects", "genres", "raga",
    "raga_words", "unknown_words",
}  # fmt: skip


@pytest.fixture(scope="module")
def clips() -> list[SoundClip]:
    return [render_sound_clip(s) for s in range(40)]


def test_same_seed_gives_the_same_bytes() -> None:
    a = render_sound_clip(7)
    render_sound_clip(8)  # the shared synthesizer must not carry state from clip to clip
    render_sound_clip(9, instruments=["music box"])
    b = render_sound_clip(7)
    assert a.audio.tobytes() == b.audio.tobytes()
    assert a.captions == b.captions and a.truth == b.truth and a.expected == b.expected
    assert render_sound_clip(10).audio.tobytes() != a.audio.tobytes()


def test_clip_format(clips: list[SoundClip]) -> None:
    for seed, c in enumerate(clips):
        assert c.sr == SR and c.audio.dtype == np.float32 and c.audio.ndim == 1
        d = c.truth["duration_s"]
        assert 1.0 <= d <= 10.0 and c.audio.size == round(d * SR)
        assert np.isfinite(c.audio).all()
        assert np.max(np.abs(c.audio)) == pytest.approx(PEAKS[c.truth["dynamics"]], abs=1e-4)
        assert len(c.captions) >= 3 and all(isinstance(t, str) and t for t in c.captions)
        assert c.truth["world"] == "sound" and c.truth["seed"] == seed
        assert c.truth["world_version"] == WORLD_VERSION
        assert SCHEMA_KEYS <= set(c.expected) and "tonal" in c.expected
        assert c.expected["duration_s"] == d and c.expected["kind"] == "audio"
        json.dumps(c.truth)
        json.dumps(c.expected)
    # the duration is stated in about a third of the phrasings
    stated = [t for c in clips for t in c.captions if re.search(r"\d(-second| s\b| seconds?)", t)]
    assert 0.2 < len(stated) / sum(len(c.captions) for c in clips) < 0.5


def test_the_world_has_every_kind_of_clip(clips: list[SoundClip]) -> None:
    kinds = {c.truth["kind"] for c in clips}
    assert {"music", "sfx", "drums"} <= kinds
    assert any(len(c.truth["layers"]) == 2 for c in clips)
    assert all(len(c.truth["layers"]) <= 2 for c in clips if c.truth["kind"] != "raga")
    assert not any(c.truth["instrument"] in DEFAULT_EXCLUDED_INSTRUMENTS for c in clips)


def test_music_truth_matches_the_plan(clips: list[SoundClip]) -> None:
    for c in clips:
        t = c.truth
        if t["kind"] != "music":
            continue
        notes = t["layers"][0]["notes"]
        assert notes and all(len(n) == 4 for n in notes)
        lo, hi = REGISTER_RANGES[t["register"]]
        assert lo - 9 <= np.median([n[1] for n in notes]) <= hi + 9
        if t["pattern"] not in ("sustained",):
            onsets = sorted({n[0] for n in notes})
            assert np.allclose(np.diff(onsets), 60.0 / t["tempo_bpm"], atol=1e-3)
            assert len(onsets) >= 4  # tempo clips last at least 4 beats


def test_duration_option_and_options_change_the_clip() -> None:
    c = render_sound_clip(3, duration_s=2.5)
    assert c.audio.size == 40000 and c.expected["duration_s"] == 2.5
    assert any("2.5" in t for t in c.captions)


def test_instruments_and_exclude() -> None:
    for s in range(6):
        c = render_sound_clip(s, instruments=["cello"])
        assert c.truth["instrument"] == "cello" and c.truth["kind"] == "music"
        assert render_sound_clip(s, exclude=["piano"]).truth["instrument"] != "piano"
    for s in range(4):
        c = render_sound_clip(s, instruments=["sitar"])
        assert c.truth["kind"] == "raga" and c.truth["raga"] in RAGAS
        assert c.expected["instruments"] == ["sitar"] and "raga" in c.expected["raga_words"]
        assert any("raga" in t for t in c.captions)
        assert [layer["kind"] for layer in c.truth["layers"]] == ["instrument", "drone"]


def test_exclude_keeps_effects_and_drums() -> None:
    kinds = {render_sound_clip(s, exclude=["piano"]).truth["kind"] for s in range(40)}
    assert {"sfx", "drums", "music"} <= kinds
    kinds = {render_sound_clip(s, instruments=["piano", "cello"]).truth["kind"] for s in range(20)}
    assert kinds == {"music"}


def test_silent_soundfont_keys_still_sound() -> None:
    # TimGM6mb's alto sax has no sample on E4 (64): SoundWorld retunes the key below
    x = sound.synthesize_notes([sound.Note(0.0, 64, 100, 0.5)], 65, SR // 2)
    assert np.max(np.abs(x)) > 0.05
    pitch = predominant_pitch(x.astype(np.float64), SR)[0]
    assert np.nanmedian(pitch) == pytest.approx(64, abs=0.4)


def test_heldout_modes() -> None:
    held = heldout_audio()
    for s in range(12):
        c = render_sound_clip(s, heldout="only")
        assert c.truth["heldout"] and (c.truth["instrument"], c.truth["pattern"]) in held
    for s in range(60):
        c = render_sound_clip(s, heldout="exclude")
        assert not c.truth["heldout"]
        assert (c.truth["instrument"], c.truth["pattern"]) not in held
    seen = {render_sound_clip(s, heldout="any").truth["heldout"] for s in range(120)}
    assert seen == {True, False}


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"seed": -1}, "seed"),
        ({"seed": "one"}, "seed"),
        ({"seed": 1, "duration_s": 0.5}, "duration"),
        ({"seed": 1, "duration_s": 11}, "duration"),
        ({"seed": 1, "heldout": "maybe"}, "heldout"),
        ({"seed": 1, "instruments": ["kazoo"]}, "kazoo"),
        ({"seed": 1, "instruments": []}, "instruments"),
        ({"seed": 1, "instruments": ["sitar"], "exclude": ["sitar"]}, "excluded"),
        ({"seed": 1, "instruments": ["sitar"], "heldout": "only"}, "heldout"),
    ],
)
def test_bad_inputs(kwargs: dict, match: str) -> None:
    with pytest.raises(AvgenError, match=match):
        render_sound_clip(**kwargs)


def test_missing_synthesizer_says_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sound_synth, "_SYNTH", {})
    monkeypatch.setitem(sys.modules, "tinysoundfont", None)
    with pytest.raises(AvgenError, match="pip install --no-deps tinysoundfont"):
        render_sound_clip(0, instruments=["piano"])


def test_the_checkers_agree_with_the_world(clips: list[SoundClip]) -> None:
    measured = matched = 0
    for c in clips[:20]:
        for r in check_audio(c.audio, c.sr, c.expected).values():
            measured += r["measurable"]
            matched += bool(r["match"])
    assert matched / measured >= 0.95


# ----------------------------------------------------------------------------- sound effects


@pytest.mark.parametrize("name", sorted(SOUND_EFFECTS))
def test_every_sound_effect(name: str) -> None:
    x = render_sfx(name, 3.0, np.random.default_rng(0))
    assert x.dtype == np.float32 and x.shape == (48000,) and np.isfinite(x).all()
    assert np.max(np.abs(x)) == pytest.approx(SFX_PEAK, abs=1e-4)
    y = render_sfx(name, 3.0, np.random.default_rng(0))
    assert x.tobytes() == y.tobytes()


def test_sound_effect_rhythms() -> None:
    rng = np.random.default_rng(1)
    _, ticks, bpm = render_sfx_events("clock", 5.0, rng)
    assert bpm == 60 and np.allclose(np.diff([e["t"] for e in ticks]), 1.0, atol=1e-3)
    _, steps, bpm = render_sfx_events("footsteps", 5.0, rng)
    assert 100 <= bpm <= 120 and np.allclose(np.diff([e["t"] for e in steps]), 60 / bpm, atol=1e-3)
    x, beeps, _ = render_sfx_events("alarm", 2.0, rng)
    assert np.allclose(np.diff([e["t"] for e in beeps]), 0.4, atol=1e-3)
    spec = np.abs(np.fft.rfft(x))
    assert abs(np.argmax(spec) * SR / x.size - 1000.0) < 5.0  # 1 kHz beeps


def test_impact_sounds_start_at_sample_zero() -> None:
    for kind in ("thud", "knock"):
        x = impact_sound(kind, np.random.default_rng(2))
        assert x.dtype == np.float32 and 0.1 * SR <= x.size <= 0.5 * SR
        assert np.max(np.abs(x)) == pytest.approx(SFX_PEAK, abs=1e-4)
        assert np.max(np.abs(x[:16])) > 0.3 * SFX_PEAK  # full level within 1 ms
        assert np.argmax(np.abs(x)) < 0.02 * SR


def test_sound_effect_bad_inputs() -> None:
    rng = np.random.default_rng(0)
    with pytest.raises(AvgenError, match="sound effect"):
        render_sfx("kazoo", 1.0, rng)
    with pytest.raises(AvgenError, match="duration"):
        render_sfx("rain", 0.0, rng)
    with pytest.raises(AvgenError, match="sample rate"):
        render_sfx("rain", 1.0, rng, sr=100)
    with pytest.raises(AvgenError, match="impact"):
        impact_sound("boom", rng)
