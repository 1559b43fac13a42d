"""Motion plans (the JSON form, its checks, window, layout) and the planner (prompt -> plan)."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import numpy as np
import pytest

from avgen import cli
from avgen.plan import MotionPlan, PlanError, load_motion_plan, plan_from_motion_truth, plan_motion
from avgen.prompts import parse_prompt
from avgen.vocab import GRAVITY_FW, TIME_FACTORS


def _plan(prompt: str, seed: int = 0, duration: float = 4.0, **kw) -> MotionPlan | None:
    return plan_motion(parse_prompt(prompt), duration, seed, **kw)


def _track(plan: MotionPlan, i: int = 0) -> np.ndarray:
    """(F, 2) centres of object i."""
    return np.array([(f.x, f.y) for f in plan.objects[i].frames])


@pytest.fixture(scope="module")
def bounce() -> MotionPlan:
    return _plan("a red ball bouncing on the grass", seed=1)


@pytest.fixture(scope="module")
def small() -> dict:
    """A small valid plan: two objects, three frames, one event, a panning camera."""
    frame = {"x": 0.5, "y": 0.5, "w": 0.2, "h": 0.2, "angle": 0.0, "visible": True}
    return {
        "avgen_plan": 1,
        "kind": "motion",
        "fps": 8,
        "num_frames": 3,
        "objects": [
            {"id": 0, "frames": [dict(frame, x=0.2 + 0.1 * k) for k in range(3)]},
            {"id": 7, "meta": {"colour": "red"}, "frames": [dict(frame) for _ in range(3)]},
        ],
        "events": [
            {"t_s": 0.2, "kind": "collision", "objects": [0, 7], "surface": "object"},
        ],
        "camera": {"motion": "pan_left", "pan_x": [0.0, -0.025, -0.05]},
    }


# ----------------------------------------------------------------------------- the form


def test_round_trip_through_json(bounce):
    d = bounce.to_dict()
    text = json.dumps(d, allow_nan=False)
    again = MotionPlan.from_dict(json.loads(text))
    assert again.to_dict() == d
    assert d["kind"] == "motion" and d["num_frames"] == 32 and d["fps"] == 8
    assert d["objects"][0]["meta"]["colour"] == "red"


def test_small_plan_reads_and_fills_defaults(small):
    plan = MotionPlan.from_dict(copy.deepcopy(small))
    assert plan.duration_s == pytest.approx(3 / 8)
    assert [o.id for o in plan.objects] == [0, 7]
    # no end state given: the last frame, moving as between the last two frames
    assert plan.objects[0].end.x == pytest.approx(0.4)
    assert plan.objects[0].end.vx == pytest.approx(0.1 * 8)
    assert plan.camera.zoom == [1.0, 1.0, 1.0]
    assert MotionPlan.from_dict(plan.to_dict()).to_dict() == plan.to_dict()


def test_duration_instead_of_frames(small):
    d = copy.deepcopy(small)
    del d["num_frames"]
    d["duration_s"] = 0.375
    assert MotionPlan.from_dict(d).num_frames == 3


def _set(d: dict, path: list, value) -> dict:
    target = d
    for key in path[:-1]:
        target = target[key]
    if value is _DELETE:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return d


_DELETE = object()


@pytest.mark.parametrize(
    ("path", "value", "names"),
    [
        (["objects", 0, "frames", 2, "x"], float("nan"), "plan.objects[0].frames[2].x"),
        (["objects", 0, "frames", 1, "y"], float("inf"), "plan.objects[0].frames[1].y"),
        (["objects", 1, "frames", 0, "w"], 0, "plan.objects[1].frames[0].w"),
        (["objects", 1, "frames", 0, "visible"], "yes", "plan.objects[1].frames[0].visible"),
        (["objects", 1, "frames", 0, "colour"], "red", "plan.objects[1].frames[0]"),
        (["objects", 0, "frames"], [], "plan.objects[0].frames"),
        (["objects", 0, "id"], 1.5, "plan.objects[0].id"),
        (["objects", 1, "id"], 0, "plan.objects[1].id"),
        (["objects", 0, "speed"], 2, "plan.objects[0]"),
        (["events", 0, "t_s"], 0.375, "plan.events[0].t_s"),
        (["events", 0, "objects", 1], 3, "plan.events[0].objects[1]"),
        (["events", 0, "surface"], "ceiling", "plan.events[0].surface"),
        (["events", 0, "kind"], "splash", "plan.events[0].kind"),
        (["camera", "pan_x"], [0.0, 0.1], "plan.camera.pan_x"),
        (["camera", "motion"], "tilt", "plan.camera.motion"),
        (["fps"], 0, "plan.fps"),
        (["fps"], True, "plan.fps"),
        (["num_frames"], 4, "plan.objects[0].frames"),
        (["duration_s"], 1.0, "plan.duration_s"),
        (["avgen_plan"], 2, "plan.avgen_plan"),
        (["kind"], "notes", "plan.kind"),
        (["colour"], "red", "plan"),
        (["objects"], _DELETE, "plan.objects"),
    ],
)
def test_every_refusal_names_its_field(small, path, value, names):
    d = _set(copy.deepcopy(small), path, value)
    with pytest.raises(PlanError) as e:
        MotionPlan.from_dict(d)
    message = str(e.value)
    assert names in message, message
    assert message.endswith(".") and "\n" not in message


def test_newer_version_says_upgrade(small):
    d = dict(copy.deepcopy(small), avgen_plan=99)
    with pytest.raises(PlanError, match="upgrade avgen"):
        MotionPlan.from_dict(d)


def test_object_off_frame_the_whole_clip_is_refused(small):
    d = copy.deepcopy(small)
    for f in d["objects"][1]["frames"]:
        f["x"] = 1.5  # centre beyond the right edge, extent 0.2: wholly outside
    with pytest.raises(PlanError, match=r"plan\.objects\[1\] is outside the frame"):
        MotionPlan.from_dict(d)
    d["objects"][1]["frames"][2]["x"] = 1.05  # its left edge reaches into the frame once
    assert MotionPlan.from_dict(d).objects[1].frames[2].in_frame()
    d["objects"][1]["frames"][2]["visible"] = False  # hidden there: never seen again
    with pytest.raises(PlanError, match="outside the frame"):
        MotionPlan.from_dict(d)


def test_nan_in_a_file_is_refused(tmp_path: Path, small):
    path = tmp_path / "p.json"
    path.write_text(json.dumps(small).replace('"x": 0.5', '"x": NaN', 1))
    with pytest.raises(PlanError, match="NaN"):
        load_motion_plan(path)


# ----------------------------------------------------------------------------- use


def test_window_is_retimed_and_continues(bounce):
    w = bounce.window(8, 24)
    assert w.num_frames == 16
    assert w.objects[0].frames[0] == bounce.objects[0].frames[8]
    t0, t1 = 8 / 8, 24 / 8
    inside = [e for e in bounce.events if t0 <= e.t_s < t1]
    assert len(inside) >= 1
    assert [round(e.t_s + t0, 6) for e in w.events] == [round(e.t_s, 6) for e in inside]
    last = bounce.objects[0].frames[23]
    assert (w.objects[0].end.x, w.objects[0].end.y) == (last.x, last.y)
    tail = bounce.window(16, 32)
    assert tail.objects[0].end == bounce.objects[0].end
    MotionPlan.from_dict(w.to_dict())  # a window is itself a valid plan
    with pytest.raises(PlanError):
        bounce.window(10, 40)


def test_layout_marks_each_object_where_it_is(small):
    plan = MotionPlan.from_dict(copy.deepcopy(small))
    lay = plan.layout(3, 16, 16)
    assert lay.shape == (3, 16, 16) and lay.dtype == np.int16
    assert set(np.unique(lay)) == {0, 1, 2}
    # object 1 (index 1 -> id value 2) sits at the centre, object 0 moves right
    assert lay[0, 8, 8] == 2
    cols0 = [np.nonzero((lay[k] == 1).any(0))[0].mean() for k in range(3) if (lay[k] == 1).any()]
    assert cols0 == sorted(cols0) and cols0[0] < 8
    # an ellipse of 0.2 x 0.2 frames covers about pi * 1.6^2 cells of a 16 x 16 grid
    assert 4 <= int((lay[0] == 2).sum()) <= 12
    # a tiny object still marks the cell holding its centre
    tiny = copy.deepcopy(small)
    for f in tiny["objects"][1]["frames"]:
        f["w"] = f["h"] = 0.001
    assert MotionPlan.from_dict(tiny).layout([0], 4, 4)[0, 2, 2] == 2


def test_layout_carries_no_colour_or_shape():
    a = _plan("a red square moving right", seed=3)
    b = copy.deepcopy(a.to_dict())
    for o in b["objects"]:
        o["meta"] = {"colour": "blue", "shape": "circle"}
    assert np.array_equal(a.layout(a.num_frames, 8, 8), MotionPlan.from_dict(b).layout(32, 8, 8))


# ----------------------------------------------------------------------------- the planner


def test_same_seed_same_plan_other_seed_other_plan():
    a = _plan("two yellow balls bouncing", seed=5)
    b = _plan("two yellow balls bouncing", seed=5)
    c = _plan("two yellow balls bouncing", seed=6)
    assert a.to_dict() == b.to_dict()
    assert a.to_dict()["objects"] != c.to_dict()["objects"]
    assert len(a.objects) == 2


def test_a_falling_ball_accelerates_down_and_lands_when_its_event_says():
    plan = _plan("a blue ball falling on a grass field", seed=2)
    y = _track(plan)[:, 1]
    (land,) = [e for e in plan.events if e.kind == "land"]
    assert land.surface == "floor"
    k_land = int(land.t_s * plan.fps)  # the last frame before the contact
    steps = np.diff(y[: k_land + 1])
    assert np.all(steps > 0) and np.all(np.diff(steps) > 0)  # falling ever faster
    # g from the second differences before the landing: MotionWorld's 2.5 frame widths / s^2
    accel = np.diff(y[: k_land + 1], 2) * plan.fps**2 * (plan.height / plan.width)
    assert np.allclose(accel, GRAVITY_FW, rtol=0.05)
    # the free fall reaches the contact height at the event's time
    y0 = y[0]
    t_free = np.sqrt(2 * (land.y - plan.objects[0].frames[0].h / 2 - y0) / GRAVITY_FW)
    assert land.t_s == pytest.approx(t_free, abs=0.01)
    assert y[-1] == pytest.approx(land.y - plan.objects[0].frames[0].h / 2, abs=0.01)
    assert plan.objects[0].end.vy == pytest.approx(0.0, abs=1e-6)


def test_a_bounce_reverses_the_velocity(bounce):
    y = _track(bounce)[:, 1]
    first = bounce.events[0]
    assert first.kind == "bounce" and first.surface == "floor"
    k = int(first.t_s * bounce.fps)
    before = (y[k] - y[k - 1]) * bounce.fps
    after = (y[k + 2] - y[k + 1]) * bounce.fps
    assert before > 0 and after < 0  # down, then up
    assert sum(e.kind == "bounce" for e in bounce.events) >= 2


def test_slow_motion_spreads_the_same_fall_over_more_frames():
    """A fall from height h lasts sqrt(2h / g). MotionWorld's time words scale gravity like
    every other rate (docs/WORLDS.md: slow motion 0.5 x, time-lapse 2 x), so a slow-motion fall
    lasts sqrt(2) times as many frames and a time-lapse one 1 / sqrt(2) as many."""
    ratios = {}
    for time in ("normal", "slow motion", "time-lapse"):
        plan = _plan(f"a blue ball falling on the grass, {time}", seed=4, duration=6.0)
        (land,) = [e for e in plan.events if e.kind == "land"]
        f0 = plan.objects[0].frames[0]
        h = land.y - f0.h / 2 - f0.y
        ratios[time] = land.t_s / np.sqrt(h)
    assert ratios["slow motion"] / ratios["normal"] == pytest.approx(np.sqrt(2), rel=0.03)
    assert ratios["time-lapse"] / ratios["normal"] == pytest.approx(np.sqrt(0.5), rel=0.03)
    plan = _plan("a red ball moving right in slow motion", seed=1)
    assert plan.time_factor == TIME_FACTORS["slow_motion"]
    assert plan.objects[0].end.vx == pytest.approx(0.15, rel=1e-3)


@pytest.mark.parametrize(
    ("prompt", "axis", "sign"),
    [
        ("a red ball moving left", 0, -1),
        ("a green square sliding right", 0, 1),
        ("a purple ball rising", 1, -1),
        ("a white triangle moving down", 1, 1),
    ],
)
def test_moves_go_where_the_prompt_says(prompt, axis, sign):
    for seed in range(3):
        track = _track(_plan(prompt, seed))
        assert sign * (track[-1, axis] - track[0, axis]) > 0.1


def test_a_fall_onto_a_box_collides_with_it():
    plan = _plan("a red ball falling onto a green box", seed=0)
    hits = [e for e in plan.events if e.surface == "object"]
    assert hits and hits[0].objects == [0, 1]
    assert plan.objects[1].meta["shape"] == "square"


def test_colliding_objects_meet():
    plan = _plan("a red ball and a blue ball colliding", seed=2)
    (hit,) = [e for e in plan.events if e.surface == "object"]
    x0, x1 = _track(plan, 0)[:, 0], _track(plan, 1)[:, 0]
    k = int(hit.t_s * plan.fps)
    assert x0[k] < x1[k] and x0[1] > x0[0] and x1[1] < x1[0]  # approaching
    assert x0[-1] < x0[k + 1] or x1[-1] > x1[k + 1]  # and at least one pushed back


def test_spin_grow_camera_and_size():
    spin = _plan("a purple square spinning", seed=0)
    angles = [f.angle for f in spin.objects[0].frames]
    assert abs(angles[-1] - angles[0]) > 90
    grow = _plan("a yellow ball growing", seed=0)
    assert grow.objects[0].frames[-1].w > 1.9 * grow.objects[0].frames[0].w
    pan = _plan("a red ball bouncing on a beach, camera panning right", seed=0)
    assert pan.camera.motion == "pan_right" and pan.camera.pan_x[-1] > 0
    assert _plan("a red ball bouncing", seed=0).camera is None
    wide = _plan("a red ball moving right", seed=0, width=128, height=64)
    f = wide.objects[0].frames[0]
    assert f.h == pytest.approx(2 * f.w)  # the same object is twice as tall a share of 64 px


def test_a_long_move_leaves_the_frame_but_is_planned():
    plan = _plan("a blue ball moving right for 20 seconds", duration=20.0)
    frames = plan.objects[0].frames
    assert frames[0].visible and not frames[-1].visible
    MotionPlan.from_dict(plan.to_dict())


@pytest.mark.parametrize("prompt", ["a cat", "rain on a window", "five red balls bouncing"])
def test_nothing_to_plan_gets_no_plan(prompt):
    assert _plan(prompt) is None


def test_world_truth_becomes_a_plan():
    from avgen.worlds.motion import render_motion_clip

    clip = render_motion_clip(11, duration_s=3.0)
    plan = plan_from_motion_truth(clip.truth)
    assert plan.num_frames == clip.frames.shape[0]
    assert len(plan.objects) == len(clip.truth["objects"])
    assert plan.objects[0].frames[5].x == pytest.approx(clip.truth["objects"][0]["centre"][5][0])
    assert MotionPlan.from_dict(plan.to_dict()).to_dict() == plan.to_dict()


# ----------------------------------------------------------------------------- the command


def _cli(argv: list[str], capsys) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exc:
        cli.main(argv)
    out, err = capsys.readouterr()
    return int(exc.value.code), out, err


def test_cli_prints_and_writes_the_plan(tmp_path: Path, capsys):
    code, out, _ = _cli(["plan", "video", "a red ball bouncing", "--seed", "3"], capsys)
    assert code == 0
    printed = json.loads(out)
    assert printed["kind"] == "motion" and printed["meta"]["seed"] == 3
    path = tmp_path / "plan.json"
    argv = ["plan", "video", "a red ball bouncing", "--seed", "3", "-o", str(path), "--fps", "12"]
    code, out, _ = _cli(argv, capsys)
    assert code == 0 and out.strip() == str(path)
    plan = load_motion_plan(path)
    assert plan.fps == 12 and plan.num_frames == 48
    code, out, _ = _cli(["plan", "check", str(path)], capsys)
    assert code == 0 and "motion plan, 48 frames" in out


@pytest.mark.parametrize(
    "argv",
    [
        ["plan", "video", "a cat"],
        ["plan", "video", "a red ball", "--fps", "0"],
        ["plan", "video", "a red ball", "--duration", "199"],
        ["plan", "video", "  "],
    ],
)
def test_cli_refusals_exit_2_without_a_file(tmp_path: Path, capsys, argv):
    path = tmp_path / "plan.json"
    code, _, err = _cli([*argv, "-o", str(path)], capsys)
    assert code == 2 and err.startswith("avgen: ") and len(err.strip().splitlines()) == 1
    assert not path.exists()


def test_cli_bad_plan_file_exits_2(tmp_path: Path, capsys, small):
    bad = copy.deepcopy(small)
    bad["objects"][0]["frames"][1]["y"] = "low"
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(bad))
    code, _, err = _cli(["plan", "check", str(path)], capsys)
    assert code == 2 and "plan.objects[0].frames[1].y must be a number" in err
    assert len(err.strip().splitlines()) == 1


def test_api_takes_the_duration_from_the_prompt_and_checks_note_plans(tmp_path: Path):
    from avgen import api
    from avgen.plan import NotePlan

    plan = api.plan_video("a green square sliding left for 3 seconds", seed=1, fps=10)
    assert plan.num_frames == 30 and plan.fps == 10
    assert api.plan_video("a green square sliding left", duration_s=1.5).num_frames == 12
    notes = {"avgen_plan": 1, "kind": "notes", "duration_s": 2.0, "notes": []}
    assert isinstance(api.check_plan(notes), NotePlan)
    assert isinstance(api.check_plan(plan.to_dict()), MotionPlan)


def test_layout_leaves_out_hidden_objects(small):
    d = copy.deepcopy(small)
    d["objects"][1]["frames"][0]["visible"] = False
    lay = MotionPlan.from_dict(d).layout([0, 1], 16, 16)
    assert 2 not in lay[0] and 2 in lay[1]


def test_a_ball_rolling_into_a_resting_box_pushes_it():
    plan = _plan("a red ball rolling right into a blue box", seed=0)
    (hit,) = [e for e in plan.events if e.surface == "object"]
    k = int(hit.t_s * plan.fps)
    ball, box = _track(plan, 0)[:, 0], _track(plan, 1)[:, 0]
    assert ball[k] > ball[0] and box[k] == pytest.approx(box[0])  # the box waits
    assert box[-1] > box[k] + 0.05  # and is pushed right after the hit
    assert plan.objects[1].meta["motion"] == "still"


def test_direction_words_the_parser_leaves_unknown():
    for seed in range(3):
        track = _track(_plan("a blue ball drifting downward against the sky", seed))
        assert track[-1, 1] - track[0, 1] > 0.3
