"""A story's plans continue from the previous shot's end state; its soundtrack joins shots with
equal-power crossfades and no clicks."""

from __future__ import annotations

import math

import numpy as np
import pytest

from avgen.plan import MotionPlan, plan_continuation, plan_motion
from avgen.prompts import parse_prompt
from avgen.story import (
    CROSSFADE_S,
    edge_fades,
    equal_power_join,
    plan_shots,
    story_soundtrack,
)


def test_next_shot_starts_where_the_last_one_ended() -> None:
    first = plan_motion(parse_prompt("a small red ball sliding to the right"), 2.0, seed=3)
    end = first.objects[0].end
    nxt = plan_continuation(parse_prompt("a small red ball sliding up"), 1.5, first, seed=4)
    assert nxt is not None and nxt.num_frames == 12 and nxt.fps == first.fps
    start = nxt.objects[0].frames[0]
    assert (start.x, start.y) == pytest.approx((end.x, end.y), abs=1e-6)
    assert nxt.objects[0].frames[-1].y < start.y - 0.2  # and moves on: up, as asked
    assert nxt.objects[0].frames[-1].x == pytest.approx(start.x, abs=1e-6)
    fresh = plan_motion(parse_prompt("a small red ball sliding up"), 1.5, seed=4)
    assert abs(fresh.objects[0].frames[0].x - end.x) > 1e-3  # a fresh plan would jump
    assert nxt.meta["continues"] is True
    MotionPlan.from_dict(nxt.to_dict())  # a valid plan


def test_a_resting_ball_that_now_bounces_is_kicked_up() -> None:
    first = plan_motion(parse_prompt("a small red ball resting"), 1.0, seed=0)
    nxt = plan_continuation(parse_prompt("a small red ball bouncing"), 2.0, first, seed=1)
    ys = [f.y for f in nxt.objects[0].frames]
    assert ys[0] == pytest.approx(first.objects[0].end.y, abs=1e-6)
    assert min(ys) < ys[0] - 0.1  # it rises from where it rested...
    assert any(e.surface == "floor" for e in nxt.events)  # ...and lands again


def test_plan_shots_chains_the_shots() -> None:
    prompts = ["a small red ball falling", "a small red ball sliding to the left", "nothing here"]
    plans = plan_shots(prompts, [16, 12, 8], 8, 64, 64, seed=0)
    assert plans[2] is None  # names nothing to move
    a, b = plans[0].objects[0], plans[1].objects[0]
    assert (b.frames[0].x, b.frames[0].y) == pytest.approx((a.end.x, a.end.y), abs=1e-6)


def test_equal_power_join_keeps_level_and_has_no_click() -> None:
    sr = 16000
    t = np.arange(sr) / sr
    a = (0.5 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    b = (0.5 * np.sin(2 * np.pi * 330 * t + 1.0)).astype(np.float32)  # another tone and phase
    overlap = round(CROSSFADE_S * sr)
    joined = equal_power_join([a, b], overlap)
    assert len(joined) == 2 * sr - overlap
    # a click is a kink: the second difference jumps far above a smooth tone's own
    inside = np.abs(np.diff(a, 2)).max()
    assert np.abs(np.diff(joined, 2)).max() <= 1.6 * inside  # summed tones: up to sqrt(2) x
    cut = np.concatenate([a[: sr - overlap], b])  # a hard cut clicks
    assert np.abs(np.diff(cut, 2)).max() > 5 * inside
    # two unrelated noises: the crossfade keeps the power level (equal power, not equal gain)
    rng = np.random.default_rng(0)
    n1, n2 = rng.standard_normal((2, sr)).astype(np.float32)
    mid = equal_power_join([n1, n2], overlap)[sr - overlap : sr]
    assert np.mean(mid**2) == pytest.approx(1.0, rel=0.15)


def test_edge_fades_start_and_end_at_zero() -> None:
    wave = edge_fades(np.ones(16000, np.float32), 16000)
    assert abs(wave[0]) < 1e-6 and abs(wave[-1]) < 1e-6 and wave[8000] == 1.0


class _FakeAudio:
    """A stand-in audio pipeline: a tone whose phase comes from the seed."""

    config = {"sample_rate": 1000}
    model_id = "fake"

    def __init__(self) -> None:
        self.calls: list[tuple[str, float]] = []

    def __call__(self, prompt, audio_length_in_s, generator, **_):
        self.calls.append((prompt, audio_length_in_s))
        phase = float(generator.initial_seed())
        hz = 60.0  # one pitch: any kink at a join would be the join's
        t = np.arange(round(audio_length_in_s * 1000)) / 1000

        class Out:
            audio = (0.5 * np.sin(2 * math.pi * hz * t + phase)).astype(np.float32)

        return Out()


def test_story_soundtrack_lengths_and_joins() -> None:
    fake = _FakeAudio()
    wave, sr = story_soundtrack(["rain", "a gentle piano", "rain"], [1.5, 0.5, 2.0], fake, seed=4)
    assert sr == 1000 and wave.shape == (4000,) and wave.dtype == np.float32
    # every shot but the last carries the crossfade; the model makes at least 1 s
    assert fake.calls == [("rain", 1.75), ("a gentle piano", 1.0), ("rain", 2.0)]
    assert abs(wave[0]) < 1e-6 and abs(wave[-1]) < 1e-6
    inside = np.abs(np.diff(wave[100:1400], 2)).max()
    for join in (1500, 2000):
        around = np.abs(np.diff(wave[join - 50 : join + 300], 2))
        assert around.max() <= 1.6 * inside
