"""Tests for avgen.worlds.audio_checks on hand-made signals (positive and negative cases)."""

from __future__ import annotations

import numpy as np
import pytest

from avgen.errors import AvgenError
from avgen.worlds.audio_checks import check_audio, estimate_tempo, measure_register

SR = 16000


def _tone(midi: float, dur: float, amp: float = 0.5, harmonics: int = 4) -> np.ndarray:
    """A harmonic tone (decaying partials 1/h), the shape of most instrument notes."""
    t = np.arange(int(dur * SR)) / SR
    f = 440.0 * 2 ** ((midi - 69) / 12)
    x = sum(np.sin(2 * np.pi * h * f * t) / h for h in range(1, harmonics + 1))
    return amp * x / np.max(np.abs(x))


def _notes(pitches: list[int], beat: float) -> np.ndarray:
    out = []
    for p in pitches:
        x = _tone(p, beat)
        x *= np.minimum(1.0, np.arange(x.size)[::-1] / (0.02 * SR))  # short release
        out.append(x)
    return np.concatenate(out)


def _clicks(bpm: float, dur: float, accent_every: int = 0, offbeat: float = 0.0) -> np.ndarray:
    """A click track: 15 ms decaying noise bursts on every beat (optional accents/off-beats)."""
    rng = np.random.default_rng(0)
    x = np.zeros(int(dur * SR))
    click = rng.standard_normal(int(0.015 * SR)) * np.exp(-np.arange(int(0.015 * SR)) / 40)
    beat = 60.0 / bpm
    for k, t in enumerate(np.arange(0.05, dur - 0.05, beat)):
        amp = 1.0 if accent_every and k % accent_every == 0 else 0.6
        i = int(t * SR)
        x[i : i + click.size] += amp * click[: x.size - i]
        j = int((t + beat / 2) * SR)
        if offbeat and j < x.size:
            x[j : j + click.size] += offbeat * click[: x.size - j]
    return 0.5 * x / np.max(np.abs(x))


def _check(x: np.ndarray, **expected) -> dict:
    return check_audio(x, SR, expected)


def _contract(res: dict) -> None:
    for r in res.values():
        assert {"expected", "measured", "match", "measurable"} <= set(r)
        assert (r["match"] is None) == (not r["measurable"])


def test_only_present_attributes_are_checked() -> None:
    res = _check(_tone(60, 1.0))
    assert set(res) == {"silence", "clipping"}
    assert res["silence"]["match"] and res["clipping"]["match"]
    res = _check(_tone(60, 1.0), register=None, fades=[], dynamics=None, tempo_bpm=None)
    assert set(res) == {"silence", "clipping"}


def test_rising_vs_falling_sweep() -> None:
    t = np.arange(3 * SR) / SR
    up = 0.5 * np.sin(2 * np.pi * 220.0 * (4.0 ** (t / 3) - 1) * 3 / np.log(4.0))  # 220 -> 880 Hz
    down = up[::-1].copy()
    r = _check(up, pitch_direction="rising", duration_s=3.0)["pitch_direction"]
    assert r["match"] and r["measured"]["direction"] == "rising" and r["measured"]["ups"] > 5
    assert not _check(down, pitch_direction="rising")["pitch_direction"]["match"]
    assert _check(down, pitch_direction="falling")["pitch_direction"]["match"]
    scale = [60, 62, 64, 65, 67, 69, 71, 72]
    assert _check(_notes(scale, 0.4), pitch_direction="rising")["pitch_direction"]["match"]
    assert _check(_notes(scale[::-1], 0.4), pitch_direction="falling")["pitch_direction"]["match"]
    steady = _check(_notes([60, 64, 60, 64, 60, 64, 60, 64], 0.4), pitch_direction="rising")
    assert steady["pitch_direction"]["measured"]["direction"] == "none"


def test_click_track_tempo() -> None:
    x = _clicks(120, 8.0)
    res = _check(x, tempo_bpm=120.0, tempo_class="fast", patterns=["staccato"])
    assert res["tempo_bpm"]["match"] and res["tempo_class"]["match"]
    assert abs(res["tempo_bpm"]["measured"]["bpm"] - 120) <= 2
    res = _check(x, tempo_bpm=90.0, tempo_class="moderate", drums="rock beat")
    assert res["tempo_bpm"]["match"] is False and res["tempo_class"]["match"] is False
    assert not _check(_clicks(90, 8.0), tempo_bpm=120.0, drums="swing")["tempo_bpm"]["match"]
    assert _check(_clicks(90, 8.0), tempo_bpm=90.0, drums="swing")["tempo_bpm"]["match"]
    _contract(res)


def test_tempo_octaves_resolve_to_the_beat() -> None:
    # accented bars do not halve the tempo; faint off-beats (-22 dB) do not double it
    assert abs(estimate_tempo(_clicks(140, 8.0, accent_every=4), SR)["bpm"] - 140) <= 3
    assert abs(estimate_tempo(_clicks(75, 8.0, offbeat=0.05), SR)["bpm"] - 75) <= 2
    assert abs(estimate_tempo(_clicks(75, 8.0, offbeat=1.0), SR)["bpm"] - 150) <= 3  # eighths


def test_tempo_not_measurable() -> None:
    short = _check(_clicks(60, 2.0), tempo_bpm=60.0, patterns=["staccato"])["tempo_bpm"]
    assert short["measurable"] is False and short["match"] is None and "beats" in short["note"]
    held = _check(_tone(60, 4.0), tempo_bpm=100.0, patterns=["sustained"])["tempo_bpm"]
    assert held["measurable"] is False and held["match"] is None


def test_register() -> None:
    assert measure_register(_tone(40, 2.0), SR)["register"] == "low"
    assert measure_register(_tone(62, 2.0), SR)["register"] == "mid"
    assert measure_register(_tone(84, 2.0), SR)["register"] == "high"
    r = _check(_tone(84, 2.0), register="high")["register"]
    assert r["match"] and abs(r["measured"]["median_midi"] - 84) < 0.5
    assert not _check(_tone(40, 2.0), register="high")["register"]["match"]
    chord = _tone(60, 2.0) + _tone(64, 2.0) + _tone(67, 2.0)  # no sub-octave "virtual pitch"
    assert _check(chord, register="mid")["register"]["match"]


def test_octave_ambiguous_instruments_are_not_measured() -> None:
    res = _check(_tone(62, 2.0), register="mid", pitch_direction="rising", instruments=["organ"])
    for key in ("register", "pitch_direction"):
        assert res[key]["measurable"] is False and res[key]["match"] is None
        assert "organ" in res[key]["note"]


def test_noise_vs_tone() -> None:
    noise = 0.3 * np.random.default_rng(0).standard_normal(3 * SR)
    tone = _tone(57, 3.0)
    assert _check(noise, tonal=False)["tonal"]["match"]
    assert not _check(noise, tonal=True)["tonal"]["match"]
    assert _check(tone, tonal=True)["tonal"]["match"]
    assert not _check(tone, tonal=False)["tonal"]["match"]
    brown = np.cumsum(np.random.default_rng(1).standard_normal(3 * SR))
    brown = 0.5 * (brown - brown.mean()) / np.max(np.abs(brown - brown.mean()))
    assert _check(brown, tonal=False)["tonal"]["match"]  # coloured noise is still noise


def test_fades() -> None:
    noise = 0.4 * np.random.default_rng(2).standard_normal(5 * SR)
    ramp = np.linspace(0, 1, noise.size)
    res = _check(noise * ramp, fades=["fade_in"])
    assert res["fade_in"]["match"] and res["fade_out"]["match"]
    assert res["fade_in"]["measured"]["fade"] and not res["fade_out"]["measured"]["fade"]
    res = _check(noise * ramp[::-1], fades=["fade_in"])
    assert not res["fade_in"]["match"] and not res["fade_out"]["match"]
    res = _check(noise * np.minimum(ramp, ramp[::-1]), fades=["fade_in", "fade_out"])
    assert res["fade_in"]["match"] and res["fade_out"]["match"]
    assert not _check(noise, fades=["fade_out"])["fade_out"]["match"]


def test_silence() -> None:
    res = _check(np.zeros(SR), register="mid", tonal=True)
    assert res["silence"]["measured"]["silent"] and res["silence"]["match"] is False
    assert res["register"]["match"] is False and res["tonal"]["match"] is False
    assert _check(np.zeros(SR), silent=True)["silence"]["match"]
    assert _check(1e-5 * _tone(60, 1.0))["silence"]["measured"]["silent"]


def test_clipping() -> None:
    clipped = np.clip(3.0 * _tone(60, 1.0), -1.0, 1.0)
    res = _check(clipped)["clipping"]
    assert res["measured"]["clipped"] and res["match"] is False
    assert res["measured"]["longest_run"] >= 3
    clean = _tone(60, 1.0) / np.max(np.abs(_tone(60, 1.0)))  # one sample at full scale is fine
    assert _check(clean)["clipping"]["match"]
    assert _check(_tone(60, 1.0, amp=1.5))["clipping"]["measured"]["clipped"]  # over full scale


def test_soft_vs_loud() -> None:
    soft, loud = _tone(60, 1.0, amp=0.15), _tone(60, 1.0, amp=0.9)
    assert _check(soft, dynamics="soft")["dynamics"]["match"]
    assert not _check(soft, dynamics="loud")["dynamics"]["match"]
    assert _check(loud, dynamics="loud")["dynamics"]["match"]
    r = _check(loud, dynamics="soft")["dynamics"]
    assert not r["match"] and r["measured"]["class"] == "loud"
    assert r["measured"]["peak"] == pytest.approx(0.9, abs=1e-3)


def test_duration() -> None:
    assert _check(_tone(60, 4.0), duration_s=4.0)["duration_s"]["match"]
    r = _check(_tone(60, 4.0), duration_s=6.0)["duration_s"]
    assert not r["match"] and r["measured"] == pytest.approx(4.0)


def test_input_forms() -> None:
    x = _tone(62, 2.0)
    assert check_audio(np.stack([x, x]), SR, {"register": "mid"})["register"]["match"]
    assert check_audio(np.stack([x, x], 1), SR, {"register": "mid"})["register"]["match"]
    pcm = (x * 32767).astype(np.int16)
    assert check_audio(pcm, SR, {"dynamics": "normal"})["dynamics"]["measured"]["peak"] < 0.6
    _contract(check_audio(x, SR, {"register": "mid", "tempo_bpm": 100.0, "duration_s": 2.0}))


@pytest.mark.parametrize(
    ("audio", "sr", "expected", "match"),
    [
        (np.zeros((3, 100)), SR, {}, "shape"),
        (np.zeros(0), SR, {}, "shape"),
        (np.array([0.0, np.nan, 0.0]), SR, {}, "NaN"),
        (np.zeros(100), 0, {}, "sample rate"),
        (np.zeros(100), 16000.0, {}, "sample rate"),
        (np.zeros(100), SR, "rain", "dict"),
        (np.array(["a", "b"]), SR, {}, "numeric"),
    ],
)
def test_bad_inputs(audio, sr, expected, match: str) -> None:
    with pytest.raises(AvgenError, match=match):
        check_audio(audio, sr, expected)


def test_tempo_class_is_the_parsers_nearest_class() -> None:
    # regression: "175 BPM" parses as "fast"; a measured ~175 BPM (above the 120-160 range)
    # must be judged fast too, with the very rule the parser uses
    from avgen.prompts import parse_prompt, tempo_class_of

    assert parse_prompt("a drum loop at 175 BPM").tempo_class == tempo_class_of(175) == "fast"
    x = _clicks(175, 8.0)
    res = _check(x, tempo_bpm=175.0, tempo_class="fast", drums="rock beat")
    assert res["tempo_class"]["match"] is True, res["tempo_class"]
    assert _check(x, tempo_class="moderate", drums="rock beat")["tempo_class"]["match"] is False
    slow = _check(_clicks(62, 10.0), tempo_class="slow", drums="rock beat")["tempo_class"]
    assert slow["match"] is True
