"""MotionWorld: reproducibility, options, physics sanity, colours, captions and bad inputs."""

from __future__ import annotations

import json
import math
import re

import numpy as np
import pytest

from avgen.errors import AvgenError
from avgen.vocab import COLOURS, GRAVITY_FW, RESTITUTION, SCENE_RGB, SIZES, WORLD_VERSION
from avgen.worlds.heldout import is_heldout_visual
from avgen.worlds.motion import (
    MotionSpec,
    ObjectSpec,
    render_background,
    render_motion_clip,
    render_motion_spec,
    sample_motion_spec,
)
from avgen.worlds.scenes import visible_colours

EXPECTED_KEYS = {"kind", "scene", "objects", "camera", "time", "particles", "duration_s"}
GROUP_KEYS = {"count", "colour", "shape", "size", "motion", "direction", "speed"}


def _spec(*objects: ObjectSpec, **kw) -> MotionSpec:
    kw.setdefault("duration_s", 4.0)
    return MotionSpec(list(objects), **kw)


# ----------------------------------------------------------------------------- reproducibility


def test_same_seed_same_bytes():
    a = render_motion_clip(11)
    b = render_motion_clip(11)
    assert a.frames.tobytes() == b.frames.tobytes()
    assert a.captions == b.captions
    assert json.dumps(a.truth, sort_keys=True) == json.dumps(b.truth, sort_keys=True)
    c = render_motion_clip(12)
    assert c.frames.tobytes() != a.frames.tobytes()


def test_clip_fields_and_schema():
    for seed in range(6):
        clip = render_motion_clip(seed)
        f, h, w, ch = clip.frames.shape
        assert clip.frames.dtype == np.uint8 and (h, w, ch) == (64, 64, 3)
        assert clip.fps == 8
        t = clip.truth
        assert t["world"] == "motion" and t["world_version"] == WORLD_VERSION and t["seed"] == seed
        assert t["num_frames"] == f and math.isclose(t["duration_s"], f / 8)
        assert 1.0 <= t["duration_s"] <= 10.0
        for o in t["objects"]:
            assert len(o["centre"]) == len(o["angle"]) == len(o["diameters"]) == f
            assert o["rgb"] == list(COLOURS[o["colour"]].rgb)
        for e in t["events"]:
            assert 0 <= e["t"] <= t["duration_s"] and e["kind"] in ("bounce", "land", "collision")
        json.dumps(t)  # JSON-serialisable
        assert set(clip.expected) == EXPECTED_KEYS
        assert sum(g["count"] for g in clip.expected["objects"]) == len(t["objects"])
        for g in clip.expected["objects"]:
            assert set(g) == GROUP_KEYS
        assert len(clip.captions) >= 3 and all(isinstance(c, str) and c for c in clip.captions)
        assert len(clip.captions[0]) < len(clip.captions[2])  # terse first, layered later


def test_size_fps_duration_options():
    clip = render_motion_clip(5, size=32, fps=12, duration_s=2.0)
    assert clip.frames.shape == (24, 32, 32, 3)
    spec = _spec(ObjectSpec("red", "circle", motion="move", direction="right"), duration_s=1.5)
    wide = render_motion_spec(spec, size=(48, 80), fps=10)
    assert wide.frames.shape == (15, 48, 80, 3)
    assert render_background(spec, (48, 80), 10).shape == (15, 48, 80, 3)


def test_heldout_modes():
    for seed in range(25):
        for o in sample_motion_spec(seed, heldout="exclude").objects:
            assert not is_heldout_visual(o.colour, o.shape, o.motion)
        for o in sample_motion_spec(seed, heldout="only").objects:
            assert is_heldout_visual(o.colour, o.shape, o.motion)


def test_no_invisible_colour_pairs():
    assert "white" not in visible_colours("snow")
    assert "green" not in visible_colours("grass")
    assert "white" not in visible_colours("sky", ("snow",))
    for seed in range(150):
        spec = sample_motion_spec(seed)
        ok = visible_colours(spec.scene, tuple(spec.particles))
        assert all(o.colour in ok for o in spec.objects)
        assert spec.camera == "static" or spec.scene in ("grass", "beach", "snow", "city", "ocean")


def test_bad_inputs():
    with pytest.raises(AvgenError, match="size"):
        render_motion_clip(0, size=8)
    with pytest.raises(AvgenError, match="fps"):
        render_motion_clip(0, fps=0)
    with pytest.raises(AvgenError, match="fps"):
        render_motion_clip(0, fps=-3)
    with pytest.raises(AvgenError, match="duration"):
        render_motion_clip(0, duration_s=20)
    with pytest.raises(AvgenError, match="heldout"):
        render_motion_clip(0, heldout="sometimes")
    with pytest.raises(AvgenError, match="seed"):
        render_motion_clip(-1)
    with pytest.raises(AvgenError, match="colour"):
        render_motion_spec(_spec(ObjectSpec("teal", "circle")))
    with pytest.raises(AvgenError, match="direction"):
        render_motion_spec(_spec(ObjectSpec("red", "circle", motion="move")))


# ----------------------------------------------------------------------------- rendering


def test_exact_colours_and_antialiasing():
    clip = render_motion_spec(_spec(ObjectSpec("blue", "square", "large", x=0.5, y=0.5)))
    f0 = clip.frames[0]
    assert tuple(f0[32, 32]) == COLOURS["blue"].rgb  # flat object colour
    assert tuple(f0[2, 2]) == SCENE_RGB["gray"]["bg"]  # flat backdrop
    # the square's side (0.3 fw = 19.2 px) lands between pixels: its edge columns are blends
    row = f0[32, :, 2].astype(int)
    blends = [v for v in row if v not in (128, 230)]
    assert 1 <= len(blends) <= 4


def test_scene_anchor_colours():
    sky = render_background(_spec(ObjectSpec("red", "circle"), scene="sky"))[0]
    assert np.abs(sky[0, 32].astype(int) - SCENE_RGB["sky"]["top"]).max() <= 3
    assert np.abs(sky[-1, 32].astype(int) - SCENE_RGB["sky"]["bottom"]).max() <= 3
    grass = render_background(_spec(ObjectSpec("red", "circle"), scene="grass"))[0]
    ground = grass[-3:].reshape(-1, 3)
    share = np.mean(np.all(ground == SCENE_RGB["grass"]["ground"], axis=1))
    assert share > 0.5


def test_animated_scene_and_static_scene():
    still = render_background(_spec(ObjectSpec("red", "circle"), scene="gray"))
    assert (still == still[0]).all()
    ocean = render_background(_spec(ObjectSpec("red", "circle"), scene="ocean"))
    assert not (ocean == ocean[0]).all()  # the wave lines move
    assert (ocean[:, :20] == ocean[0, :20]).all()  # the sky does not


# ----------------------------------------------------------------------------- physics


def test_bounce_events_restitution_and_rest():
    h = 0.6
    spec = _spec(ObjectSpec("red", "circle", motion="bounce", x=0.5, y=0.9 - h), duration_s=8)
    clip = render_motion_spec(spec)
    ev = clip.truth["events"]
    assert all(e["kind"] == "bounce" and e["objects"] == [0] for e in ev)
    # analytic contact times with restitution 0.8 and the rest rule
    g, v = GRAVITY_FW, math.sqrt(2 * GRAVITY_FW * h)
    t, times = v / g, [v / g]
    while True:
        v *= RESTITUTION
        if v * v / (2 * g) < 0.02:
            break
        t += 2 * v / g
        times.append(t)
    assert len(ev) == len(times)
    for e, ta in zip(ev, times):
        assert abs(e["t"] - ta) < 0.012
        assert e["pos"][1] == pytest.approx(1.0)  # on the floor (bottom edge)
    speeds = [e["speed"] for e in ev]
    ratios = np.array(speeds[1:]) / np.array(speeds[:-1])
    assert np.allclose(ratios, RESTITUTION, atol=0.02)
    y = np.array(clip.truth["objects"][0]["centre"])[:, 1]
    rest = 1.0 - SIZES["medium"] / 2
    assert np.allclose(y[-10:], rest, atol=1e-3)  # at rest on the floor after the last bounce


def test_fall_one_landing_and_time_factor():
    for time, factor in (("normal", 1.0), ("slow_motion", 0.5)):
        spec = _spec(ObjectSpec("yellow", "square", motion="fall", x=0.4, y=0.2), time=time)
        clip = render_motion_spec(spec)
        ev = clip.truth["events"]
        assert [e["kind"] for e in ev] == ["land"]
        h = 0.9 - 0.2
        assert ev[0]["t"] == pytest.approx(math.sqrt(2 * h / (GRAVITY_FW * factor)), abs=0.01)
        y = np.array(clip.truth["objects"][0]["centre"])[:, 1]
        assert y[-1] == pytest.approx(0.9, abs=1e-3) and np.all(np.diff(y) >= -1e-6)


def test_collision_with_resting_block():
    spec = _spec(
        ObjectSpec("yellow", "square", "large", "still", x=0.5),
        ObjectSpec("red", "circle", "small", "fall", x=0.52, y=0.15),
        scene="grass",
        duration_s=3,
    )
    clip = render_motion_spec(spec)
    ev = clip.truth["events"]
    assert len(ev) == 1 and ev[0]["kind"] == "collision" and ev[0]["objects"] == [0, 1]
    block_top = 0.7 - SIZES["large"]
    assert ev[0]["pos"][1] == pytest.approx(block_top, abs=0.01)
    y = np.array(clip.truth["objects"][1]["centre"])[:, 1]
    assert y[-1] == pytest.approx(block_top - SIZES["small"] / 2, abs=2e-3)


def test_prescribed_motions():
    dur = 2.0
    spec = _spec(
        ObjectSpec("red", "circle", "small", "move", "right", x=0.2, y=0.2),
        ObjectSpec("blue", "square", "small", "spin", x=0.8, y=0.2, speed="fast"),
        ObjectSpec("pink", "circle", "small", "grow", x=0.5, y=0.8),
        duration_s=dur,
        time="slow_motion",
    )
    t = render_motion_spec(spec).truth
    move, spin, grow = t["objects"]
    c = np.array(move["centre"])
    assert c[-1, 0] - c[0, 0] == pytest.approx(0.3 * 0.5 * (dur - 1 / 8), abs=1e-6)
    assert spin["angle"][-1] - spin["angle"][0] == pytest.approx(
        spin["spin_turns_per_s"] * 360 * (dur - 1 / 8), abs=1e-6
    )
    assert abs(spin["spin_turns_per_s"]) == pytest.approx(0.5 * 2 * 0.5)
    assert grow["diameters"][0] == SIZES["small"]
    assert grow["diameters"][-1] == pytest.approx(SIZES["small"] * (1 + (dur - 1 / 8) / dur))
    orbit = render_motion_spec(_spec(ObjectSpec("red", "circle", motion="circle"))).truth
    c = np.array(orbit["objects"][0]["centre"])
    assert np.allclose(np.hypot(c[:, 0] - 0.5, c[:, 1] - 0.5), 0.25, atol=1e-6)


def test_captions_mention_scene_and_sometimes_duration():
    with_duration = 0
    n = 0
    for seed in range(30):
        clip = render_motion_clip(seed)
        for cap in clip.captions:
            n += 1
            with_duration += bool(re.search(r"\d(-second| s\b| seconds?\b)", cap))
        layered = clip.captions[2].lower()
        colour = clip.expected["objects"][0]["colour"]
        assert any(w in layered for w in COLOURS[colour].words)
    assert 0.2 < with_duration / n < 0.5  # about a third of the phrasings


def test_render_speed():
    import time

    t0 = time.perf_counter()
    for seed in range(10):
        render_motion_clip(seed, duration_s=4.0)
    per_clip = (time.perf_counter() - t0) / 10
    assert per_clip < 1.0  # measured ~0.05 s; generous for a shared CI machine
