"""MotionWorld's sampler: a readable clip description drawn from a seed.

``sample_motion_spec(seed, ...)`` draws the setting (scene, camera, time word, particles,
duration, styles) and then up to three objects, each placed so that its whole path stays in
frame and clear of the others. Where docs/WORLDS.md leaves freedom the sampler keeps clips
readable at the clip's fps: a bounce's first drop lasts at least 3 frames and a fall at least
4; a spin turns at most 0.4 of its shape's symmetry period per frame; an orbit sweeps at least
60 degrees; objects' paths overlap only in deliberate stacks (an object falling or bouncing onto
a square) that make collision events; zooms (which move the ground line, not the objects) come
with floating objects only.
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np

from avgen.errors import AvgenError
from avgen.vocab import (
    DRIFT_SPEED_FW,
    GRAVITY_FW,
    MOVE_SPEED_FW,
    ORBIT_RADIUS_FW,
    ORBIT_TURNS_PER_S,
    REST_RISE_FW,
    RESTITUTION,
    RISE_SPEED_FW,
    SCENES,
    SHAPES,
    SIZES,
    SPIN_TURNS_PER_S,
    WORLD_VERSION,
)
from avgen.worlds import heldout as heldout_mod
from avgen.worlds import scenes as sc
from avgen.worlds.motion_captions import _STYLES
from avgen.worlds.motion_spec import (
    _DIR_VEC,
    BOTTOM_FACTOR,
    BOUND_FACTOR,
    MARGIN,
    MotionSpec,
    ObjectSpec,
    _check_duration,
    _check_fps,
    _check_size,
    motion_rate,
)

# The sampler makes a bouncing object's first drop last at least 3 frames and a fall at least
# 4, so the checkers see each flight arc (a time-lapse drop at 8 fps is otherwise a blur).
MIN_FALL_FRAMES = (3.0, 4.0)
MIN_ORBIT_TURNS = 1 / 6  # a circling object sweeps at least 60 degrees (else it reads as a line)
SPIN_MAX_FRACTION = 0.4  # the sampler keeps a spin below this fraction of the shape's symmetry
# period per frame, so the rotation stays measurable at the clip's frame rate

# Scenes a particle layer may fall over (snow over a snowy scene, rain over the sea, ...).
_PARTICLE_SCENES = {
    "snow": ("dark", "gray", "sky", "grass", "snow", "city"),
    "rain": ("dark", "gray", "sky", "grass", "city", "ocean"),
}


def _travel_box(o: ObjectSpec, rate: float, dur: float, aspect: float, floor: float):
    """Axis-aligned box (x0, y0, x1, y1) swept by an object over the clip, or None if it leaves."""
    d = SIZES[o.size]
    rb = BOUND_FACTOR[o.shape] * d * (2.0 if o.motion == "grow" else 1.0)
    x, y = float(o.x), float(o.y)
    xa = xb = x
    ya = yb = y
    if o.motion == "move":
        dx, dy = _DIR_VEC[o.direction or "right"]
        xb, yb = x + dx * MOVE_SPEED_FW * rate * dur, y + dy * MOVE_SPEED_FW * rate * dur
    elif o.motion == "rise":
        yb = y - RISE_SPEED_FW * rate * dur
    elif o.motion == "circle":
        xa, xb = 0.5 - ORBIT_RADIUS_FW, 0.5 + ORBIT_RADIUS_FW
        ya, yb = aspect / 2 - ORBIT_RADIUS_FW, aspect / 2 + ORBIT_RADIUS_FW
    elif o.motion in ("bounce", "fall"):
        yb = floor - BOTTOM_FACTOR[o.shape] * d
        if o.motion == "bounce" and o.direction in ("left", "right"):
            g = GRAVITY_FW * rate
            t_move = min(dur, _bounce_rest_time(yb - y, g))
            xb = x + _DIR_VEC[o.direction][0] * DRIFT_SPEED_FW * rate * t_move
    box = (min(xa, xb) - rb, min(ya, yb) - rb, max(xa, xb) + rb, max(ya, yb) + rb)
    if box[0] < MARGIN or box[2] > 1 - MARGIN or box[1] < MARGIN or box[3] > aspect - MARGIN / 2:
        return None
    return box


def _bounce_rest_time(h: float, g: float) -> float:
    """Time until a ball dropped from height h (fw) comes to rest (restitution, rest rule)."""
    v = math.sqrt(2 * g * max(h, 1e-9))
    t = v / g
    while True:
        v *= RESTITUTION
        if v * v / (2 * g) < REST_RISE_FW:
            return t
        t += 2 * v / g


def _overlaps(a, b, gap: float = 0.02) -> bool:
    return not (
        a[2] + gap <= b[0] or b[2] + gap <= a[0] or a[3] + gap <= b[1] or b[3] + gap <= a[1]
    )


_STACK_SIZES = {"small": 0.5, "medium": 0.5}
_MOTION_WEIGHTS = {
    "move": 0.2,
    "bounce": 0.2,
    "fall": 0.1,
    "rise": 0.07,
    "spin": 0.1,
    "grow": 0.06,
    "shrink": 0.06,
    "circle": 0.09,
    "still": 0.12,
}


def _pick(rng: np.random.Generator, weights: dict[str, float]) -> str:
    keys = list(weights)
    p = np.asarray([weights[k] for k in keys], np.float64)
    return keys[int(rng.choice(len(keys), p=p / p.sum()))]


def _draw_object(
    rng: np.random.Generator,
    colours: tuple[str, ...],
    heldout: str,
    time: str,
    fps: int,
    floating_only: bool = False,
    shapes: tuple[str, ...] | None = None,
    motions: dict[str, float] | None = None,
    sizes: dict[str, float] | None = None,
) -> ObjectSpec | None:
    """One object's attributes (no position), respecting held-out triples and aliasing limits."""
    for _ in range(200):
        colour = str(rng.choice(colours))
        shape = str(rng.choice(shapes or sorted(SHAPES)))
        motion = _pick(rng, motions or _MOTION_WEIGHTS)
        if floating_only and motion in ("bounce", "fall", "still"):
            continue
        if not heldout_mod.allowed(heldout_mod.is_heldout_visual(colour, shape, motion), heldout):
            continue
        size = _pick(rng, sizes or {"small": 0.3, "medium": 0.45, "large": 0.25})
        if motion == "grow" and size == "large" or motion == "shrink" and size == "small":
            continue
        speed = "normal"
        if motion in ("move", "rise", "spin", "circle"):
            speed = _pick(rng, {"normal": 0.6, "slow": 0.2, "fast": 0.2})
        direction = None
        if motion == "move":
            direction = _pick(rng, {"left": 0.35, "right": 0.35, "up": 0.15, "down": 0.15})
        elif motion == "bounce":
            direction = _pick(rng, {"": 0.4, "left": 0.3, "right": 0.3}) or None
        o = ObjectSpec(
            colour,
            shape,
            size,
            motion,
            direction,
            speed,
            turn=int(rng.choice([-1, 1])),
            angle=float(rng.uniform(0, 360)),
        )
        if motion == "spin" and shape != "circle":
            period = 90.0 if shape == "square" else 120.0
            per_frame = 360.0 * SPIN_TURNS_PER_S * motion_rate(o, time) / fps
            if per_frame > SPIN_MAX_FRACTION * period:
                continue
        if motion != "spin" or shape == "circle":
            o.angle = 0.0 if motion != "circle" else o.angle
        return o
    return None


def _place(
    o: ObjectSpec,
    rng: np.random.Generator,
    spec: MotionSpec,
    aspect: float,
    boxes: list,
    dur: float,
    fps: int,
) -> ObjectSpec | None:
    """Choose a start position whose whole path stays in frame and clear of the others."""
    floor = SCENES[spec.scene].floor * aspect
    d = SIZES[o.size]
    rb = BOUND_FACTOR[o.shape] * d
    bottom = BOTTOM_FACTOR[o.shape] * d
    rate = motion_rate(o, spec.time)
    g = GRAVITY_FW * rate
    for _ in range(40):
        x = rng.uniform(MARGIN + rb, 1 - MARGIN - rb)
        y = rng.uniform(MARGIN + rb, min(floor, aspect - MARGIN) - bottom)
        on_floor_ok = not spec.camera.startswith("zoom")
        if o.motion == "still" or (
            o.motion == "move"
            and o.direction in ("left", "right")
            and on_floor_ok
            and rng.random() < 0.5
        ):
            y = floor - bottom
        if o.motion == "move":
            dx, dy = _DIR_VEC[o.direction or "right"]
            travel = MOVE_SPEED_FW * rate * dur
            if dx:
                lo, hi = MARGIN + rb, 1 - MARGIN - rb - travel
                if hi < lo:
                    return None
                x = rng.uniform(lo, hi) if dx > 0 else 1 - rng.uniform(lo, hi)
            else:
                lo, hi = MARGIN + rb, aspect - MARGIN / 2 - rb - travel
                if hi < lo:
                    return None
                y = rng.uniform(lo, hi) if dy > 0 else aspect - MARGIN / 2 - rng.uniform(lo, hi)
        elif o.motion == "rise":
            travel = RISE_SPEED_FW * rate * dur
            lo = MARGIN + rb + travel
            hi = min(floor - bottom, aspect - MARGIN / 2 - rb)
            if hi < lo:
                return None
            y = rng.uniform(lo, hi)
        elif o.motion == "bounce":
            rest_y = floor - bottom
            hmax_fit = rest_y - MARGIN - rb
            # at least two floor contacts inside the clip
            hmax_time = g / 2 * ((dur - 0.15) / (1 + 2 * RESTITUTION)) ** 2
            hmax = min(hmax_fit, hmax_time, 0.65)
            hmin = max(0.12, g / 2 * (MIN_FALL_FRAMES[0] / fps) ** 2)
            if hmax < hmin:
                return None
            y = rest_y - rng.uniform(hmin, hmax)
        elif o.motion == "fall":
            rest_y = floor - bottom
            hmax = min(rest_y - MARGIN - rb, g / 2 * (dur - 0.35) ** 2)
            hmin = max(0.2, g / 2 * (MIN_FALL_FRAMES[1] / fps) ** 2)
            if hmax < hmin:
                return None
            y = rest_y - rng.uniform(max(hmin, 0.75 * hmax), hmax)
        elif o.motion == "circle":
            if ORBIT_TURNS_PER_S * rate * dur < MIN_ORBIT_TURNS:
                return None
            x, y = 0.5, aspect / 2
        cand = replace(o, x=float(x), y=float(y))
        box = _travel_box(cand, rate, dur, aspect, floor)
        if box is None or any(_overlaps(box, b) for b in boxes):
            continue
        return cand
    return None


def _stack_on(
    top: ObjectSpec,
    base: ObjectSpec,
    rng: np.random.Generator,
    spec: MotionSpec,
    aspect: float,
    dur: float,
    fps: int,
) -> tuple[ObjectSpec, ObjectSpec] | None:
    """Put a falling / bouncing object above a square that rests or falls to the floor, so it
    lands on it (a collision event). Returns (base, top): a falling base may be moved down."""
    d_base = SIZES[base.size]
    d = SIZES[top.size]
    rate = motion_rate(top, spec.time)
    g = GRAVITY_FW * rate
    block_top = SCENES[spec.scene].floor * aspect - d_base
    rest_y = block_top - BOTTOM_FACTOR[top.shape] * d
    rb = BOUND_FACTOR[top.shape] * d
    if base.motion == "fall":  # both fall from rest together; the top starts above the base
        gap = rng.uniform(0.02, 0.06)
        above = d_base / 2 + gap + BOTTOM_FACTOR[top.shape] * d
        lo = MARGIN + rb + above
        hi = block_top + d_base / 2 - max(0.2, g / 2 * (MIN_FALL_FRAMES[1] / fps) ** 2)
        if hi < lo:
            return None
        base = replace(base, y=rng.uniform(lo, min(hi, lo + 0.1)))
        y = float(base.y) - above
        if math.sqrt(2 * max(rest_y - y, 0.0) / g) > dur - 0.35:
            return None
        x = float(base.x) + rng.uniform(-0.2, 0.2) * max(0.0, d_base - d)
        return base, replace(top, x=x, y=y, direction=None)
    if top.motion == "bounce":
        hmax = min(rest_y - MARGIN - rb, g / 2 * ((dur - 0.15) / (1 + 2 * RESTITUTION)) ** 2, 0.6)
        hmin = max(0.12, g / 2 * (MIN_FALL_FRAMES[0] / fps) ** 2)
        if hmax < hmin:
            return None
        h = rng.uniform(hmin, hmax)
    else:
        hmax = min(rest_y - MARGIN - rb, g / 2 * (dur - 0.35) ** 2)
        hmin = max(0.15, g / 2 * (MIN_FALL_FRAMES[1] / fps) ** 2)
        if hmax < hmin:
            return None
        h = rng.uniform(max(hmin, 0.75 * hmax), hmax)
    x = float(base.x) + rng.uniform(-0.2, 0.2) * max(0.0, d_base - d)
    return base, replace(top, x=x, y=rest_y - h, direction=None)


def _sample_setting(
    rng: np.random.Generator, fps: int, duration_s: float | None
) -> tuple[MotionSpec, int]:
    """The clip without its objects (scene, camera, time, particles, duration, styles) and how
    many objects it will hold."""
    scene = str(rng.choice(sorted(SCENES)))
    camera = "static"
    if SCENES[scene].structured and rng.random() < 0.3:
        camera = str(rng.choice(["pan_left", "pan_right", "zoom_in", "zoom_out"]))
    time = _pick(rng, {"normal": 0.7, "slow_motion": 0.15, "time_lapse": 0.15})
    particles: list[str] = []
    if rng.random() < 0.25:
        p = str(rng.choice(["snow", "rain"]))
        if scene in _PARTICLE_SCENES[p]:
            particles = [p]
    flicker = scene == "city" and rng.random() < 0.5
    stars = scene in ("dark", "city") and rng.random() < 0.5
    dur = _sample_duration(rng, fps, duration_s)
    n = int(rng.choice([1, 2, 3], p=[0.55, 0.3, 0.15]))
    spec = MotionSpec(
        [], scene, camera, time, particles, dur, flicker, stars, seed=int(rng.integers(2**31))
    )
    styles = [s for s in _STYLES if rng.random() < 0.08]
    spec.styles = styles[:2]
    return spec, n


def _sample_duration(rng: np.random.Generator, fps: int, duration_s: float | None) -> float:
    """The clip length (given, or 2-6 s mostly), rounded to whole frames."""
    if duration_s is not None:
        dur = duration_s
    else:
        u = rng.random()
        lo, hi = (2.0, 6.0) if u < 0.6 else (1.0, 2.0) if u < 0.8 else (6.0, 10.0)
        dur = float(rng.integers(int(lo * 2), int(hi * 2) + 1)) / 2
    return max(1, int(round(dur * fps))) / fps


def _sample_objects(
    rng: np.random.Generator, spec: MotionSpec, n: int, aspect: float, fps: int, heldout: str
) -> list[ObjectSpec]:
    """Up to ``n`` placed objects; half the multi-object clips stack something on a square."""
    # a zoom moves the ground line but not the objects: keep objects off the floor then
    floating = spec.camera.startswith("zoom") and SCENES[spec.scene].floor != 0.5
    colours = sc.visible_colours(spec.scene, tuple(spec.particles))
    floor = SCENES[spec.scene].floor * aspect
    # a stack makes a collision event
    stack = n >= 2 and not floating and spec.scene != "ocean" and rng.random() < 0.5
    objs: list[ObjectSpec] = []
    boxes: list = []
    for i in range(n):
        o = _next_object(rng, i, objs, stack, colours, heldout, spec.time, fps, floating)
        if o is None:
            break
        if any(p.motion == "circle" for p in objs) and o.motion == "circle":
            continue
        placed = _position(o, i, objs, boxes, stack, rng, spec, aspect, fps, floor)
        if placed is not None:
            objs.append(placed)
    return objs


def _next_object(
    rng: np.random.Generator,
    i: int,
    objs: list[ObjectSpec],
    stack: bool,
    colours: tuple[str, ...],
    heldout: str,
    time: str,
    fps: int,
    floating: bool,
) -> ObjectSpec | None:
    """Object ``i``'s attributes: a stack's square or its top, a copy of the previous object
    ("two yellow balls", same group) or a fresh draw (group ``i``); None when none fits."""
    dup = False
    if stack and i == 0:
        o = _draw_object(
            rng,
            colours,
            heldout,
            time,
            fps,
            shapes=("square",),
            motions={"still": 0.5, "fall": 0.5},
            sizes=_STACK_SIZES,
        )
    elif stack and i == 1 and objs and objs[0].shape == "square":
        tops = {"fall": 0.6, "bounce": 0.4} if objs[0].motion == "still" else {"fall": 1}
        others = tuple(c for c in colours if c != objs[0].colour)
        o = _draw_object(rng, others, heldout, time, fps, motions=tops, sizes=_STACK_SIZES)
    elif objs and rng.random() < 0.35 and objs[-1].motion != "circle":
        dup = True  # "two yellow balls": the same group as the previous object
        o = replace(objs[-1], x=None, y=None)
    else:
        o = _draw_object(rng, colours, heldout, time, fps, floating)
    if o is not None and not dup:
        o.group = i
    return o


def _position(
    o: ObjectSpec,
    i: int,
    objs: list[ObjectSpec],
    boxes: list,
    stack: bool,
    rng: np.random.Generator,
    spec: MotionSpec,
    aspect: float,
    fps: int,
    floor: float,
) -> ObjectSpec | None:
    """``o`` with a start position: on the stack's square (which may move down, ``objs[0]``)
    or anywhere its path is free. Adds the path's box to ``boxes``; None when nothing fits."""
    dur, time = spec.duration_s, spec.time
    base = objs[0] if stack and i == 1 and objs and objs[0].shape == "square" else None
    if base is not None and o.motion in ("fall", "bounce"):
        pair = _stack_on(o, base, rng, spec, aspect, dur, fps)
        if pair is not None:
            base_box = _travel_box(pair[0], motion_rate(base, time), dur, aspect, floor)
            box = _travel_box(pair[1], motion_rate(o, time), dur, aspect, floor)
            if base_box is not None and box is not None:
                objs[0], boxes[0] = pair[0], base_box
                boxes.append(box)
                return pair[1]
    placed = _place(o, rng, spec, aspect, boxes, dur, fps)
    if placed is not None:
        boxes.append(_travel_box(placed, motion_rate(placed, time), dur, aspect, floor))
    return placed


def _renumber_groups(objs: list[ObjectSpec]) -> list[ObjectSpec]:
    """Groups numbered 0, 1, ... in order of appearance (in place)."""
    remap: dict[int, int] = {}
    for o in objs:
        o.group = remap.setdefault(o.group, len(remap))
    return objs


def sample_motion_spec(
    seed: int,
    *,
    size: int | tuple[int, int] = 64,
    fps: int = 8,
    duration_s: float | None = None,
    heldout: str = "exclude",
) -> MotionSpec:
    """Draw a clip description from ``seed`` (the sampler behind ``render_motion_clip``)."""
    h, w = _check_size(size)
    fps = _check_fps(fps)
    if duration_s is not None:
        duration_s = _check_duration(duration_s)
    if heldout not in ("exclude", "only", "any"):
        raise AvgenError(f"heldout {heldout!r} is unknown; use 'exclude', 'only' or 'any'.")
    aspect = h / w
    rng = np.random.default_rng(np.random.SeedSequence([WORLD_VERSION, 3, int(seed)]))
    for _ in range(500):
        spec, n = _sample_setting(rng, fps, duration_s)
        objs = _sample_objects(rng, spec, n, aspect, fps, heldout)
        if objs:
            spec.objects = _renumber_groups(objs)
            return spec
    raise AvgenError(f"no MotionWorld clip fits duration_s={duration_s} at size {size}.")
