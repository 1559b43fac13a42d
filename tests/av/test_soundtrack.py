"""avgen.av.soundtrack: one-shots cut at their attack, placed to the sample, over a bed."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pytest

from avgen import api
from avgen.av.events import Event
from avgen.av.soundtrack import (
    PRE_ROLL_S,
    attack,
    impact_prompt,
    make_soundtrack,
    one_shot,
    soften_attacks,
)
from avgen.worlds.av_checks import audio_onsets

SR = 16000


@dataclass
class _Out:
    audio: np.ndarray
    sample_rate: int = SR


@dataclass
class _FakeAudioPipe:
    """A stand-in audio model: a hit at 0.3 s in each clip, or steady noise for a bed."""

    calls: list = field(default_factory=list)
    follows_plans: bool = False

    def __call__(self, prompt: str, audio_length_in_s: float, generator=None, **kw) -> _Out:
        self.calls.append(prompt)
        n = int(audio_length_in_s * SR)
        rng = np.random.default_rng(len(prompt))
        x = 0.01 * rng.normal(size=n)
        if "thud" in prompt or "knock" in prompt:
            k = int(0.3 * SR)
            t = np.arange(n - k) / SR
            x[k:] += np.sin(2 * np.pi * 80 * t) * np.exp(-t / 0.08)
        return _Out(x.astype(np.float32))


def test_attack_is_where_the_hit_rises() -> None:
    x = np.zeros(SR)
    x[5000:] = np.exp(-np.arange(SR - 5000) / 800.0) * np.sin(np.arange(SR - 5000) * 0.1 + 0.3)
    assert abs(attack(x, SR) - 5000) <= 10
    shot = one_shot(x, SR, "thud")
    pre = int(PRE_ROLL_S * SR)
    assert shot[0] == 0.0 and abs(shot[-1]) < 1e-3  # faded in and out: no clicks
    assert attack(shot, SR) == pytest.approx(pre, abs=10)
    assert np.max(np.abs(shot)) == pytest.approx(0.5, rel=1e-4)


def test_impacts_land_on_their_events_to_the_sample() -> None:
    pipe = _FakeAudioPipe()
    events = [
        Event(0.5117, "bounce", "floor", speed=1.2, size=0.3),
        Event(1.25, "bounce", "floor", speed=0.6, size=0.3),
        Event(2.0031, "collision", "object", speed=0.4, size=0.12),
    ]
    st = make_soundtrack(pipe, events, 3.0, bed_prompt="rain", scene="gray", seed=1)
    assert len(st.audio) == 3 * SR and st.sample_rate == SR
    assert [i["sample"] for i in st.impacts] == [round(e.t * SR) for e in events]
    assert sorted(set(pipe.calls)) == ["a loud thud", "a soft knock", "rain"]  # one clip each
    onsets = np.array([o["t"] for o in audio_onsets(st.audio, SR)])
    for e in events:
        assert np.min(np.abs(onsets - e.t)) < 0.003
    assert abs(st.audio[0]) < 1e-3 and abs(st.audio[-1]) < 1e-3  # the bed fades in and out
    assert st.impacts[0]["gain"] > st.impacts[1]["gain"]  # a harder hit is louder
    cache: dict = {}
    again = make_soundtrack(pipe, events[::-1], 3.0, bed_prompt="rain", scene="gray", seed=1,
                            cache=cache)  # fmt: skip
    np.testing.assert_array_equal(again.audio, st.audio)  # one prompt, one clip, any order
    n = len(pipe.calls)
    make_soundtrack(pipe, events, 3.0, bed_prompt="rain", scene="gray", seed=1, cache=cache)
    assert len(pipe.calls) == n  # the cache served them


def test_timbre_follows_size_and_ground() -> None:
    assert impact_prompt(Event(1, "land", "floor", size=0.3), "grass") == "a loud muffled thud"
    assert impact_prompt(Event(1, "land", "floor", size=0.12), "gray") == "a soft thud"
    assert impact_prompt(Event(1, "collision", "object", size=0.2), "snow") == "a knock"


def test_the_bed_loses_its_own_attacks() -> None:
    rng = np.random.default_rng(0)
    x = 0.02 * rng.normal(size=2 * SR)
    for k in (4000, 12000, 20000):
        x[k : k + 400] += rng.normal(size=400)  # sharp bursts in a quiet bed
    assert len(audio_onsets(x, SR)) >= 3
    y = soften_attacks(x, SR)
    assert len(audio_onsets(y, SR)) == 0
    assert np.sqrt(np.mean(y[8000:11000] ** 2)) == pytest.approx(0.02, rel=0.3)  # kept


def test_the_shipped_model_makes_a_thud_that_lands_on_time(one_thread) -> None:
    pipe = api.audio_pipeline()
    st = make_soundtrack(pipe, [Event(0.73, "land", "floor", speed=1.0, size=0.2)], 1.5, seed=3)
    onsets = [o["t"] for o in audio_onsets(st.audio, st.sample_rate)]
    assert len(onsets) >= 1 and min(abs(t - 0.73) for t in onsets) < 0.002
    assert st.one_shots["a thud"]["samples"] > 0
