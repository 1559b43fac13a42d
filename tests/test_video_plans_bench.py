"""The plan-adherence and permanence measures of benchmarks/video_plans.py on rendered clips
whose answers are known: a MotionWorld clip against its own truth plan, and against a shifted
one."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

from video_plans import blob_counts, centre_errors, permanent  # noqa: E402

from avgen.plan import MotionPlan, plan_from_motion_truth  # noqa: E402
from avgen.worlds.motion import render_motion_clip  # noqa: E402


def _clip():
    for seed in range(20):
        clip = render_motion_clip(seed, duration_s=2.0, size=64, fps=8)
        if clip.expected.get("camera") == "static" and len(clip.expected["objects"]) == 1:
            return clip
    raise AssertionError("no single-object static clip in 20 seeds")


def test_truth_plan_is_followed_within_a_pixel_and_shift_is_seen():
    clip = _clip()
    plan = plan_from_motion_truth(clip.truth)
    counts, tracks = blob_counts(clip.frames, clip.expected)
    assert permanent(counts)
    err = centre_errors(plan, tracks, 64, 64)
    assert err["unmatched"] == 0 and err["planned"] == len(plan.objects)
    assert np.median(err["distances"]) < 1.0
    moved = plan.to_dict()
    for o in moved["objects"]:
        for f in o["frames"]:
            f["x"] += 0.1  # 6.4 px to the right
    err2 = centre_errors(MotionPlan.from_dict(moved), tracks, 64, 64)
    assert 5.0 < np.median(err2["distances"]) < 8.0


def test_permanence_needs_a_steady_nonzero_count():
    assert permanent([1] * 16)
    assert not permanent([0] * 16)
    assert not permanent([1] * 12 + [2] * 4)
    assert permanent([2] * 15 + [1])
