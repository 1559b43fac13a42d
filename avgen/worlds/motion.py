"""MotionWorld: seeded procedural video clips with captions and exact ground truth (WORLD.md).

A clip is up to three flat-coloured shapes (circle, square, triangle) moving over one of eight
scenes, with optional particle layers and a static, panning or zooming camera. Objects that fall
or bounce are simulated with the pymunk 2D physics engine (Chipmunk) at ``STEPS_PER_SECOND``;
the other motions are prescribed analytically and enter the engine as kinematic bodies, so a
ball that falls onto a resting box really lands on it. Frames are sampled from the simulation
at the clip's fps and rendered with 4 x 4 supersampled coverage (anti-aliased, no texture).

Conventions. Positions are in frame widths (fw) for both axes inside the simulation (x right,
y down, the frame is 1 fw wide and H/W fw tall); speeds in fw/s, gravity in fw/s^2, sizes are
diameters in fw (a square's side, an equilateral triangle's side). The camera moves the scene
only (background and its animation): objects keep their world motion on screen, so every object
attribute reads the same under every camera. "panning left" turns the camera left, so the scene
slides right on screen. Speed words and the time factor scale every motion, gravity, drift and
particle speed; grow / shrink are always x2 / x0.5 over the clip; the camera is not time scaled.

``MotionClip.truth`` (stable; AVWorld and the checkers read it)::

    world, world_version, seed        "motion", vocab.WORLD_VERSION, the seed (None: explicit spec)
    size [H, W], fps, num_frames, duration_s (= num_frames / fps)
    scene, stars, flicker, particles  scene key, bools, list of vocab.PARTICLES keys
    camera                            vocab.CAMERA key
    camera_track {"pan_x": [F], "zoom": [F]}  camera x offset (fw) and zoom factor per frame
    time, time_factor                 vocab.TIME_FACTORS key and value
    floor_y                           floor / ground line as a fraction of frame height
    objects [ {id, group, colour, rgb, shape, size, diameter (fw, at t=0), motion, direction,
               speed, rate (speed factor x time factor), gravity (fw/s^2 or None),
               spin_turns_per_s (signed, + = clockwise on screen),
               centre [[x, y]] per frame (x in frame widths, y in frame heights, screen),
               angle [deg] per frame (+ = clockwise), diameters [fw] per frame} ]
    events [ {t (s, sub-frame exact), kind "bounce" | "land" | "collision",
              pos [x, y] (frame widths / heights), objects [ids], surface "floor" | "object" |
              "wall", speed (impact normal speed, fw/s)} ]   sorted by t

Frame k shows time k / fps. Event times come from the contact inside the physics step
(interpolated by penetration depth), so they are good to about a millisecond of the simulated
motion the frames show; the bounce rule of WORLD.md is exact: restitution 0.8 at the floor, and an
object whose rebound would rise less than 0.02 fw comes to rest (that last contact is still an
event). A falling object has restitution 0: it lands (one event) and rests.

``MotionClip.expected`` is the truth in the parsed-prompt schema (CONTRACT.md section 1):
kind, scene, objects [{count, colour, shape, size, motion, direction, speed}], camera, time,
particles, duration_s. Identical objects form one entry with ``count`` > 1.

API: ``render_motion_clip(seed, ...)`` samples a ``MotionSpec`` (``sample_motion_spec``) and
renders it (``render_motion_spec(spec, size, fps)``, which AVWorld and the benchmarks call with
explicit specs); ``render_background(spec, size, fps)`` gives the same clip without objects.

Where WORLD.md leaves freedom the sampler keeps clips readable at the clip's fps: moving and
rising objects, drifts and orbits stay inside the frame for the whole clip; a bounce's first
drop lasts at least 3 frames and a fall at least 4; a spin turns at most 0.4 of its shape's
symmetry period per frame; an orbit sweeps at least 60 degrees; objects' paths do not overlap,
except in deliberate stacks (an object falling or bouncing onto a square) that make collision
events; zooms (which move the ground line, not the objects) come with floating objects only.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pymunk
from PIL import Image, ImageDraw

from avgen.errors import AvgenError
from avgen.vocab import (
    CAMERA,
    COLOURS,
    DIRECTIONS,
    DRIFT_SPEED_FW,
    GRAVITY_FW,
    MAX_OBJECTS,
    MOTIONS,
    MOVE_SPEED_FW,
    ORBIT_RADIUS_FW,
    ORBIT_TURNS_PER_S,
    PAN_SPEED_FW,
    PARTICLES,
    REST_RISE_FW,
    RESTITUTION,
    RISE_SPEED_FW,
    SCENES,
    SHAPES,
    SIZES,
    SPEED_FACTORS,
    SPIN_TURNS_PER_S,
    TIME_FACTORS,
    WORLD_VERSION,
    ZOOM_RANGE,
)
from avgen.worlds import heldout as heldout_mod
from avgen.worlds import scenes as sc

STEPS_PER_SECOND = 480  # physics rate (at least; rounded up to a multiple of the fps)
OBJECT_SUPERSAMPLE = 4  # per axis: 16 coverage samples per pixel
MIN_SIZE, MAX_SIZE = 16, 1024
MAX_FPS = 120
DURATION_RANGE = (1.0, 10.0)
UNITS = 100.0  # pymunk units per frame width
EVENT_MIN_SPEED = 0.1  # fw/s: slower contacts (resting objects settling) are not events
MARGIN = 0.03  # fw kept free at the frame edges
FALL_RESTITUTION = 0.0  # a falling object lands and rests: exactly one event
# Shape area / diameter^2 (diameter = circle diameter, square side, triangle side).
AREA_FACTOR = {"circle": math.pi / 4, "square": 1.0, "triangle": math.sqrt(3) / 4}
# Farthest point of a shape from its centre (its centroid), / diameter.
BOUND_FACTOR = {"circle": 0.5, "square": math.sqrt(0.5), "triangle": 1 / math.sqrt(3)}
# Lowest point below the centroid when upright (angle 0), / diameter.
BOTTOM_FACTOR = {"circle": 0.5, "square": 0.5, "triangle": 0.5 / math.sqrt(3)}
# The sampler makes a bouncing object's first drop last at least 3 frames and a fall at least
# 4, so the checkers see each flight arc (a time-lapse drop at 8 fps is otherwise a blur).
MIN_FALL_FRAMES = (3.0, 4.0)
MIN_ORBIT_TURNS = 1 / 6  # a circling object sweeps at least 60 degrees (else it reads as a line)
SPIN_MAX_FRACTION = 0.4  # the sampler keeps a spin below this fraction of the shape's symmetry
# period per frame, so the rotation stays measurable at the clip's frame rate

MOTION_RATE_KEYS = ("move", "rise", "spin", "circle", "bounce", "fall")


# ----------------------------------------------------------------------------- specs


@dataclass
class ObjectSpec:
    """One object: what it is, how it moves and where it starts (fw; None: the renderer picks)."""

    colour: str
    shape: str
    size: str = "medium"
    motion: str = "still"
    direction: str | None = None  # move: left/right/up/down; bounce: drift left/right or None
    speed: str = "normal"  # slow | normal | fast
    x: float | None = None  # start centre, frame widths from the left
    y: float | None = None  # start centre, frame widths from the top
    turn: int = 1  # +1 clockwise, -1 counter-clockwise (spin and circling)
    angle: float = 0.0  # start angle in degrees (circling: start angle on the orbit)
    group: int = 0  # objects with the same group are "two yellow balls"


@dataclass
class MotionSpec:
    """Everything a MotionWorld clip shows; ``render_motion_spec`` turns it into frames."""

    objects: list[ObjectSpec]
    scene: str = "gray"
    camera: str = "static"
    time: str = "normal"
    particles: list[str] = field(default_factory=list)
    duration_s: float = 4.0
    flicker: bool = False
    stars: bool = False
    styles: list[str] = field(default_factory=list)
    seed: int = 0  # scene layout, particles, flicker and caption wording


@dataclass
class MotionClip:
    """A rendered clip: frames (F, H, W, 3) uint8, fps, captions, truth, expected, spec."""

    frames: np.ndarray
    fps: int
    captions: list[str]
    truth: dict[str, Any]
    expected: dict[str, Any]
    spec: MotionSpec


# ----------------------------------------------------------------------------- validation


def _check_size(size: int | tuple[int, int]) -> tuple[int, int]:
    hw = (size, size) if isinstance(size, int | np.integer) else tuple(size)
    if len(hw) != 2 or any(not MIN_SIZE <= int(v) <= MAX_SIZE for v in hw):
        raise AvgenError(
            f"size {size!r} is out of range; use {MIN_SIZE} to {MAX_SIZE} pixels (int or (H, W))."
        )
    return int(hw[0]), int(hw[1])


def _check_fps(fps: float) -> int:
    if not isinstance(fps, int | float | np.integer) or not 0 < fps <= MAX_FPS or fps != int(fps):
        raise AvgenError(f"fps {fps!r} is invalid; use a whole number from 1 to {MAX_FPS}.")
    return int(fps)


def _check_duration(d: float) -> float:
    lo, hi = DURATION_RANGE
    if not isinstance(d, int | float | np.integer | np.floating) or not lo <= d <= hi:
        raise AvgenError(f"duration_s {d!r} is out of range; use {lo:g} to {hi:g} seconds.")
    return float(d)


def _check_spec(spec: MotionSpec) -> None:
    def bad(what: str, value: Any, allowed: Any) -> None:
        raise AvgenError(f"{what} {value!r} is unknown; use one of {sorted(allowed)}.")

    if spec.scene not in SCENES:
        bad("scene", spec.scene, SCENES)
    if spec.camera not in CAMERA:
        bad("camera", spec.camera, CAMERA)
    if spec.time not in TIME_FACTORS:
        bad("time", spec.time, TIME_FACTORS)
    for p in spec.particles:
        if p not in PARTICLES:
            bad("particle layer", p, PARTICLES)
    if not 1 <= len(spec.objects) <= MAX_OBJECTS:
        raise AvgenError(f"{len(spec.objects)} objects is out of range; use 1 to {MAX_OBJECTS}.")
    for o in spec.objects:
        if o.colour not in COLOURS:
            bad("colour", o.colour, COLOURS)
        if o.shape not in SHAPES:
            bad("shape", o.shape, SHAPES)
        if o.size not in SIZES:
            bad("size", o.size, SIZES)
        if o.motion not in MOTIONS:
            bad("motion", o.motion, MOTIONS)
        if o.speed not in SPEED_FACTORS:
            bad("speed", o.speed, SPEED_FACTORS)
        if o.direction is not None and o.direction not in DIRECTIONS:
            bad("direction", o.direction, DIRECTIONS)
        if o.motion == "move" and o.direction is None:
            raise AvgenError("a moving object needs a direction; use left, right, up or down.")
    _check_duration(spec.duration_s)


# ----------------------------------------------------------------------------- motion model


def motion_rate(o: ObjectSpec, time: str) -> float:
    """The factor on an object's motion: speed word x time factor (WORLD.md)."""
    return SPEED_FACTORS[o.speed] * TIME_FACTORS[time]


_DIR_VEC = {"left": (-1.0, 0.0), "right": (1.0, 0.0), "up": (0.0, -1.0), "down": (0.0, 1.0)}


def _kinematic_state(o: ObjectSpec, t: float, rate: float, dur: float, aspect: float):
    """(x, y, angle_deg, diameter, vx, vy, omega_deg) of a prescribed motion at time t."""
    d0 = SIZES[o.size]
    x, y, ang, d = float(o.x), float(o.y), float(o.angle), d0
    vx = vy = om = 0.0
    if o.motion == "move":
        dx, dy = _DIR_VEC[o.direction or "right"]
        vx, vy = dx * MOVE_SPEED_FW * rate, dy * MOVE_SPEED_FW * rate
        x, y = x + vx * t, y + vy * t
    elif o.motion == "rise":
        vy = -RISE_SPEED_FW * rate
        y = y + vy * t
    elif o.motion == "spin":
        om = o.turn * 360.0 * SPIN_TURNS_PER_S * rate
        ang = ang + om * t
    elif o.motion == "grow":
        d = d0 * (1.0 + t / dur)
    elif o.motion == "shrink":
        d = d0 * (1.0 - 0.5 * t / dur)
    elif o.motion == "circle":
        w = o.turn * 2 * math.pi * ORBIT_TURNS_PER_S * rate
        phi = math.radians(o.angle) + w * t
        cx, cy = 0.5, aspect / 2
        x, y = cx + ORBIT_RADIUS_FW * math.cos(phi), cy + ORBIT_RADIUS_FW * math.sin(phi)
        vx, vy = -ORBIT_RADIUS_FW * w * math.sin(phi), ORBIT_RADIUS_FW * w * math.cos(phi)
        ang = 0.0
    return x, y, ang, d, vx, vy, om


def _shape_vertices(shape: str, d: float, ang_deg: float) -> np.ndarray:
    """(n, 2) polygon vertices about the centroid, y down, rotated clockwise by ``ang_deg``."""
    if shape == "square":
        base = np.array([[-0.5, -0.5], [0.5, -0.5], [0.5, 0.5], [-0.5, 0.5]]) * d
    else:  # equilateral triangle, apex up, centroid at the origin
        r = d / math.sqrt(3)
        a = np.radians([-90.0, 30.0, 150.0])
        base = np.stack([r * np.cos(a), r * np.sin(a)], 1)
    c, s = math.cos(math.radians(ang_deg)), math.sin(math.radians(ang_deg))
    rot = np.array([[c, -s], [s, c]])
    return base @ rot.T


@dataclass
class _Sim:
    pos: np.ndarray  # (F, n, 2) fw
    angle: np.ndarray  # (F, n) deg
    diam: np.ndarray  # (F, n) fw
    events: list[dict]


def _simulate(spec: MotionSpec, aspect: float, fps: int, n_frames: int) -> _Sim:
    """Run the clip's physics; frames are sampled at k / fps from a STEPS_PER_SECOND simulation."""
    objs = spec.objects
    n = len(objs)
    dur = n_frames / fps
    rates = [motion_rate(o, spec.time) for o in objs]
    pos = np.zeros((n_frames, n, 2))
    angle = np.zeros((n_frames, n))
    diam = np.zeros((n_frames, n))
    dynamic = [o.motion in ("bounce", "fall") for o in objs]
    times = np.arange(n_frames) / fps

    if not any(dynamic):  # nothing is pushed around: the prescribed motions are the answer
        for i, o in enumerate(objs):
            for k, t in enumerate(times):
                x, y, a, d, *_ = _kinematic_state(o, t, rates[i], dur, aspect)
                pos[k, i], angle[k, i], diam[k, i] = (x, y), a, d
        return _Sim(pos, angle, diam, [])

    sub = max(1, math.ceil(STEPS_PER_SECOND / fps))
    dt = 1.0 / (fps * sub)
    space = pymunk.Space()
    space.collision_slop = 0.02
    space.iterations = 20
    floor_y = SCENES[spec.scene].floor * aspect
    u = UNITS
    floor = pymunk.Segment(space.static_body, (-10 * u, floor_y * u), (11 * u, floor_y * u), 0)
    walls = [
        pymunk.Segment(space.static_body, (0, -10 * u), (0, floor_y * u), 0),
        pymunk.Segment(space.static_body, (u, -10 * u), (u, floor_y * u), 0),
    ]
    for seg, ctype in [(floor, 2), (walls[0], 3), (walls[1], 3)]:
        seg.elasticity, seg.friction, seg.collision_type = 1.0, 0.0, ctype
        space.add(seg)

    bodies: list[pymunk.Body] = []
    shapes: list[pymunk.Shape] = []
    gravity = [0.0] * n
    for i, o in enumerate(objs):
        d = SIZES[o.size]
        if dynamic[i]:
            body = pymunk.Body(1.0, float("inf"))
            body.position = (o.x * u, o.y * u)
            g = GRAVITY_FW * rates[i] * u
            gravity[i] = g

            def vfunc(b, _grav, _damp, step, g=g):
                pymunk.Body.update_velocity(b, (0.0, g), 1.0, step)

            body.velocity_func = vfunc
            if o.motion == "bounce" and o.direction in ("left", "right"):
                body.velocity = (_DIR_VEC[o.direction][0] * DRIFT_SPEED_FW * rates[i] * u, 0.0)
        else:
            body = pymunk.Body(body_type=pymunk.Body.KINEMATIC)
            x, y, a, d, *_ = _kinematic_state(o, 0.0, rates[i], dur, aspect)
            body.position, body.angle = (x * u, y * u), math.radians(a)
        if o.shape == "circle":
            shape = pymunk.Circle(body, d / 2 * u)
        else:
            shape = pymunk.Poly(body, [tuple(v) for v in _shape_vertices(o.shape, d * u, 0.0)])
        shape.elasticity = (
            RESTITUTION if o.motion == "bounce" else FALL_RESTITUTION if o.motion == "fall" else 1.0
        )
        shape.friction = 0.0
        shape.collision_type = 1
        shape.idx = i  # type: ignore[attr-defined]
        space.add(body, shape)
        bodies.append(body)
        shapes.append(shape)

    events: list[dict] = []
    to_rest: dict[int, float | None] = {}  # object -> y (units) to snap to on the floor, or None
    clock = {"t": 0.0}

    def contact_time(arb: pymunk.Arbiter, vn: float) -> float:
        depth = max(0.0, -min(p.distance for p in arb.contact_point_set.points))
        tau = dt - depth / max(vn, 1e-9)
        return clock["t"] + min(max(tau, 0.0), dt)

    def maybe_rest(i: int, vn: float, e: float, snap: float | None = None) -> None:
        if gravity[i] > 0 and (e * vn) ** 2 / (2 * gravity[i]) < REST_RISE_FW * u:
            to_rest[i] = snap

    def on_floor(arb: pymunk.Arbiter, _space: pymunk.Space, _data: Any) -> None:
        shp = arb.shapes[0] if arb.shapes[0].collision_type == 1 else arb.shapes[1]
        i = shp.idx
        vn = bodies[i].velocity.y
        if not dynamic[i] or vn < EVENT_MIN_SPEED * u:
            return
        maybe_rest(
            i,
            vn,
            arb.restitution,
            (floor_y - BOTTOM_FACTOR[objs[i].shape] * SIZES[objs[i].size]) * u,
        )
        x = bodies[i].position.x / u
        events.append(
            {
                "t": contact_time(arb, vn),
                "kind": "bounce" if objs[i].motion == "bounce" else "land",
                "pos": [x, floor_y / aspect],
                "objects": [i],
                "surface": "floor",
                "speed": vn / u,
            }
        )

    def on_wall(arb: pymunk.Arbiter, _space: pymunk.Space, _data: Any) -> None:
        shp = arb.shapes[0] if arb.shapes[0].collision_type == 1 else arb.shapes[1]
        i = shp.idx
        vn = abs(bodies[i].velocity.x)
        if not dynamic[i] or vn < EVENT_MIN_SPEED * u:
            return
        p = bodies[i].position
        events.append(
            {
                "t": contact_time(arb, vn),
                "kind": "collision",
                "pos": [round(p.x / u), p.y / u / aspect],
                "objects": [i],
                "surface": "wall",
                "speed": vn / u,
            }
        )

    def on_object(arb: pymunk.Arbiter, _space: pymunk.Space, _data: Any) -> None:
        a, b = arb.shapes[0].idx, arb.shapes[1].idx
        nrm = arb.normal
        va, vb = bodies[a].velocity, bodies[b].velocity
        vn = (va - vb).dot(nrm)
        if vn < EVENT_MIN_SPEED * u:
            return
        # a dynamic object landing on top of another may come to rest there
        for top, sign in ((a, 1.0), (b, -1.0)):
            if dynamic[top] and sign * nrm.y > 0.7:
                maybe_rest(top, vn, arb.restitution)
        pts = arb.contact_point_set.points
        px = sum((p.point_a.x + p.point_b.x) / 2 for p in pts) / len(pts) / u
        py = sum((p.point_a.y + p.point_b.y) / 2 for p in pts) / len(pts) / u
        events.append(
            {
                "t": contact_time(arb, vn),
                "kind": "collision",
                "pos": [px, py / aspect],
                "objects": sorted([a, b]),
                "surface": "object",
                "speed": vn / u,
            }
        )

    space.on_collision(1, 2, begin=on_floor)
    space.on_collision(1, 3, begin=on_wall)
    space.on_collision(1, 1, begin=on_object)

    def record(k: int) -> None:
        for i, o in enumerate(objs):
            if dynamic[i]:
                p = bodies[i].position
                pos[k, i] = (p.x / u, p.y / u)
                angle[k, i] = math.degrees(bodies[i].angle)
                diam[k, i] = SIZES[o.size]
            else:
                x, y, a, d, *_ = _kinematic_state(o, k / fps, rates[i], dur, aspect)
                pos[k, i], angle[k, i], diam[k, i] = (x, y), a, d

    record(0)
    n_steps = (n_frames - 1) * sub
    for step in range(n_steps):
        t = step * dt
        clock["t"] = t
        for i, o in enumerate(objs):
            if dynamic[i]:
                continue
            x, y, a, d, vx, vy, om = _kinematic_state(o, t, rates[i], dur, aspect)
            body = bodies[i]
            body.position, body.velocity = (x * u, y * u), (vx * u, vy * u)
            body.angle, body.angular_velocity = math.radians(a), math.radians(om)
            if o.motion in ("grow", "shrink"):
                if o.shape == "circle":
                    shapes[i].unsafe_set_radius(d / 2 * u)
                else:
                    verts = [tuple(v) for v in _shape_vertices(o.shape, d * u, 0.0)]
                    shapes[i].unsafe_set_vertices(verts)
        space.step(dt)
        for i, snap in to_rest.items():
            bodies[i].velocity = (0.0, 0.0)
            if snap is not None:
                bodies[i].position = (bodies[i].position.x, snap)
        to_rest.clear()
        if (step + 1) % sub == 0:
            record((step + 1) // sub)
    events.sort(key=lambda e: e["t"])
    return _Sim(pos, angle, diam, events)


# ----------------------------------------------------------------------------- rendering


def _coverage(shape: str, cx: float, cy: float, d: float, ang: float, h: int, w: int):
    """Anti-aliased coverage of one shape (pixel units): (y0, x0, (ny, nx) float32) or None."""
    rb = BOUND_FACTOR[shape] * d
    x0, x1 = max(0, math.floor(cx - rb) - 1), min(w, math.ceil(cx + rb) + 2)
    y0, y1 = max(0, math.floor(cy - rb) - 1), min(h, math.ceil(cy + rb) + 2)
    if x1 <= x0 or y1 <= y0:
        return None
    ss = OBJECT_SUPERSAMPLE
    xs = x0 + (np.arange((x1 - x0) * ss) + 0.5) / ss - cx
    ys = y0 + (np.arange((y1 - y0) * ss) + 0.5) / ss - cy
    if shape == "circle":
        inside = (xs[None, :] ** 2 + ys[:, None] ** 2) <= (d / 2) ** 2
    else:
        v = _shape_vertices(shape, d, ang)
        inside = np.ones((ys.size, xs.size), bool)
        for j in range(len(v)):
            (ax, ay), (bx, by) = v[j], v[(j + 1) % len(v)]
            # clockwise on screen (y down) = counter-clockwise in math axes: interior to the right
            inside &= ((bx - ax) * (ys[:, None] - ay) - (by - ay) * (xs[None, :] - ax)) >= 0
    cov = inside.reshape(y1 - y0, ss, x1 - x0, ss).mean(axis=(1, 3), dtype=np.float32)
    return y0, x0, cov


def _camera_track(spec: MotionSpec, times: np.ndarray, dur: float) -> tuple[np.ndarray, np.ndarray]:
    pan = np.zeros_like(times)
    zoom = np.ones_like(times)
    if spec.camera == "pan_left":
        pan = -PAN_SPEED_FW * times
    elif spec.camera == "pan_right":
        pan = PAN_SPEED_FW * times
    elif spec.camera == "zoom_in":
        zoom = ZOOM_RANGE[0] + (ZOOM_RANGE[1] - ZOOM_RANGE[0]) * times / dur
    elif spec.camera == "zoom_out":
        zoom = ZOOM_RANGE[1] - (ZOOM_RANGE[1] - ZOOM_RANGE[0]) * times / dur
    return pan, zoom


def _render_background(
    spec: MotionSpec,
    lay: sc.SceneLayout,
    h: int,
    w: int,
    times: np.ndarray,
    pan: np.ndarray,
    zoom: np.ndarray,
    rng: np.random.Generator,
) -> np.ndarray:
    """(F, H, W, 3) float32 background frames: scene, its animation, particles, the camera."""
    ss = sc.SUPERSAMPLE
    s = w * ss  # hi-res pixels per frame width
    tf = TIME_FACTORS[spec.time]
    fields = [sc.sample_particles(p, lay.aspect, rng) for p in spec.particles]
    flicker = spec.flicker and bool(lay.windows)
    animated = bool(fields) or bool(lay.waves) or flicker or spec.camera != "static"
    x_left = float(min(pan.min(), 0.0))
    width = float(max(pan.max(), 0.0)) - x_left + 1.0
    base = sc.paint_static(lay, x_left, width, s)
    if lay.windows and not flicker:
        sc.draw_windows(ImageDraw.Draw(base), lay, np.ones(len(lay.windows), bool), x_left, s)
    out = np.empty((len(times), h, w, 3), np.float32)
    if not animated:
        out[:] = np.asarray(base.reduce(ss), np.float32)[None]
        return out
    hi = (w * ss, h * ss)
    centre = (hi[0] / 2, hi[1] / 2)
    for k, t in enumerate(times):
        st = t * tf  # scene time: animation and particles follow the time factor
        if spec.camera.startswith("pan"):
            off = int(round((pan[k] - x_left) * s))
            img = base.crop((off, 0, off + hi[0], hi[1]))
        elif spec.camera.startswith("zoom"):
            z = float(zoom[k])
            cx, cy = centre
            img = base.transform(
                hi, Image.AFFINE, (1 / z, 0, cx - cx / z, 0, 1 / z, cy - cy / z), Image.BILINEAR
            )
        else:
            img = base.copy()
        draw = ImageDraw.Draw(img)
        if flicker:
            sc.draw_windows(
                draw, lay, sc.windows_lit(lay, st, True), float(pan[k]), s, float(zoom[k]), centre
            )
        if lay.waves:
            sc.draw_waves(draw, lay, st, float(pan[k]), s, float(zoom[k]), centre)
        for pf in fields:
            img = sc.draw_particles(img, pf, st, lay.aspect, s)
        out[k] = np.asarray(img.reduce(ss), np.float32)
    return out


def _background_frames(spec: MotionSpec, h: int, w: int, fps: int, n_frames: int):
    """Object-free frames (F, H, W, 3) float32 and the camera track (pan, zoom) of a spec."""
    ss = np.random.SeedSequence([WORLD_VERSION, 7, int(spec.seed)])
    rng_layout, rng_particles = (np.random.default_rng(c) for c in ss.spawn(2))
    times = np.arange(n_frames) / fps
    pan, zoom = _camera_track(spec, times, n_frames / fps)
    lay = sc.sample_layout(spec.scene, h / w, rng_layout, spec.stars)
    frames = _render_background(spec, lay, h, w, times, pan, zoom, rng_particles)
    return frames, pan, zoom


def render_background(
    spec: MotionSpec, size: int | tuple[int, int] = 64, fps: int = 8
) -> np.ndarray:
    """The clip of ``spec`` without its objects: (F, H, W, 3) uint8, same scene and camera."""
    h, w = _check_size(size)
    fps = _check_fps(fps)
    _check_spec(spec)
    n_frames = max(1, int(round(spec.duration_s * fps)))
    frames, _, _ = _background_frames(spec, h, w, fps, n_frames)
    return np.clip(np.round(frames), 0, 255).astype(np.uint8)


def render_motion_spec(
    spec: MotionSpec,
    size: int | tuple[int, int] = 64,
    fps: int = 8,
    *,
    seed: int | None = None,
) -> MotionClip:
    """Render an explicit spec: frames, truth, expected and captions (worded from ``spec.seed``).

    ``size`` is an int (square) or (H, W). Objects without a start position are placed on an
    even row above the floor. ``seed`` only goes into ``truth["seed"]``.
    """
    h, w = _check_size(size)
    fps = _check_fps(fps)
    _check_spec(spec)
    aspect = h / w
    spec = replace(spec, objects=_default_positions(spec.objects, spec.scene, aspect))
    n_frames = max(1, int(round(spec.duration_s * fps)))
    dur = n_frames / fps
    rng_words = np.random.default_rng(np.random.SeedSequence([WORLD_VERSION, 8, int(spec.seed)]))
    sim = _simulate(spec, aspect, fps, n_frames)
    frames, pan, zoom = _background_frames(spec, h, w, fps, n_frames)
    for i, o in enumerate(spec.objects):
        rgb = np.asarray(COLOURS[o.colour].rgb, np.float32)
        for k in range(n_frames):
            cov = _coverage(
                o.shape,
                sim.pos[k, i, 0] * w,
                sim.pos[k, i, 1] * w,
                sim.diam[k, i] * w,
                sim.angle[k, i],
                h,
                w,
            )
            if cov is None:
                continue
            y0, x0, a = cov
            patch = frames[k, y0 : y0 + a.shape[0], x0 : x0 + a.shape[1]]
            patch += (rgb - patch) * a[..., None]
    frames_u8 = np.clip(np.round(frames), 0, 255).astype(np.uint8)  # (F, H, W, 3)
    truth = _truth(spec, sim, h, w, fps, n_frames, pan, zoom, seed)
    expected = _expected(spec, dur)
    captions = make_captions(spec, dur, rng_words)
    return MotionClip(frames_u8, fps, captions, truth, expected, spec)


def _default_positions(objs: list[ObjectSpec], scene: str, aspect: float) -> list[ObjectSpec]:
    """Fill missing start positions: an even row, resting objects on the floor."""
    floor = SCENES[scene].floor * aspect
    out = []
    for i, o in enumerate(objs):
        d = SIZES[o.size]
        x = o.x if o.x is not None else (i + 1) / (len(objs) + 1)
        if o.y is not None:
            y = o.y
        elif o.motion in ("still", "move") and o.direction not in ("up", "down"):
            y = floor - BOTTOM_FACTOR[o.shape] * d
        elif o.motion in ("bounce", "fall"):
            y = max(MARGIN + d, floor - 0.5 * (floor - d))
        elif o.motion == "rise":
            y = floor - d
        else:
            y = aspect / 2
        out.append(replace(o, x=float(x), y=float(y)))
    return out


def _truth(
    spec: MotionSpec,
    sim: _Sim,
    h: int,
    w: int,
    fps: int,
    n_frames: int,
    pan: np.ndarray,
    zoom: np.ndarray,
    seed: int | None,
) -> dict[str, Any]:
    aspect = h / w
    tf = TIME_FACTORS[spec.time]
    objects = []
    for i, o in enumerate(spec.objects):
        rate = motion_rate(o, spec.time)
        centre = np.stack([sim.pos[:, i, 0], sim.pos[:, i, 1] / aspect], 1)
        objects.append(
            {
                "id": i,
                "group": o.group,
                "colour": o.colour,
                "rgb": list(COLOURS[o.colour].rgb),
                "shape": o.shape,
                "size": o.size,
                "diameter": SIZES[o.size],
                "motion": o.motion,
                "direction": o.direction,
                "speed": o.speed,
                "rate": rate,
                "gravity": GRAVITY_FW * rate if o.motion in ("bounce", "fall") else None,
                "spin_turns_per_s": o.turn * SPIN_TURNS_PER_S * rate if o.motion == "spin" else 0.0,
                "centre": np.round(centre, 6).tolist(),
                "angle": np.round(sim.angle[:, i], 4).tolist(),
                "diameters": np.round(sim.diam[:, i], 6).tolist(),
            }
        )
    events = [
        {
            **e,
            "t": round(float(e["t"]), 6),
            "pos": [round(float(v), 6) for v in e["pos"]],
            "speed": round(float(e["speed"]), 6),
        }
        for e in sim.events
    ]
    return {
        "world": "motion",
        "world_version": WORLD_VERSION,
        "seed": seed,
        "size": [h, w],
        "fps": fps,
        "num_frames": n_frames,
        "duration_s": n_frames / fps,
        "scene": spec.scene,
        "stars": spec.stars,
        "flicker": spec.flicker,
        "particles": list(spec.particles),
        "camera": spec.camera,
        "camera_track": {"pan_x": np.round(pan, 6).tolist(), "zoom": np.round(zoom, 6).tolist()},
        "time": spec.time,
        "time_factor": tf,
        "floor_y": SCENES[spec.scene].floor,
        "objects": objects,
        "events": events,
    }


def _expected(spec: MotionSpec, dur: float) -> dict[str, Any]:
    groups: dict[int, dict[str, Any]] = {}
    for o in spec.objects:
        if o.group in groups:
            groups[o.group]["count"] += 1
            continue
        groups[o.group] = {
            "count": 1,
            "colour": o.colour,
            "shape": o.shape,
            "size": o.size,
            "motion": o.motion,
            "direction": o.direction,
            "speed": o.speed,
        }
    return {
        "kind": "video",
        "scene": spec.scene,
        "objects": list(groups.values()),
        "camera": spec.camera,
        "time": spec.time,
        "particles": list(spec.particles),
        "duration_s": dur,
    }


# ----------------------------------------------------------------------------- sampling


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


def _bounce_contacts(h: float, g: float, until: float) -> int:
    v = math.sqrt(2 * g * max(h, 1e-9))
    t, n = v / g, 0
    while t <= until:
        n += 1
        v *= RESTITUTION
        if v * v / (2 * g) < REST_RISE_FW:
            break
        t += 2 * v / g
    return n


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
        scene = str(rng.choice(sorted(SCENES)))
        structured = SCENES[scene].structured
        camera = "static"
        if structured and rng.random() < 0.3:
            camera = str(rng.choice(["pan_left", "pan_right", "zoom_in", "zoom_out"]))
        time = _pick(rng, {"normal": 0.7, "slow_motion": 0.15, "time_lapse": 0.15})
        particles: list[str] = []
        if rng.random() < 0.25:
            p = str(rng.choice(["snow", "rain"]))
            ok = {
                "snow": ("dark", "gray", "sky", "grass", "snow", "city"),
                "rain": ("dark", "gray", "sky", "grass", "city", "ocean"),
            }
            if scene in ok[p]:
                particles = [p]
        flicker = scene == "city" and rng.random() < 0.5
        stars = scene in ("dark", "city") and rng.random() < 0.5
        if duration_s is not None:
            dur = duration_s
        else:
            u = rng.random()
            lo, hi = (2.0, 6.0) if u < 0.6 else (1.0, 2.0) if u < 0.8 else (6.0, 10.0)
            dur = float(rng.integers(int(lo * 2), int(hi * 2) + 1)) / 2
        dur = max(1, int(round(dur * fps))) / fps
        n = int(rng.choice([1, 2, 3], p=[0.55, 0.3, 0.15]))
        # a zoom moves the ground line but not the objects: keep objects off the floor then
        floating = camera.startswith("zoom") and SCENES[scene].floor != 0.5
        colours = sc.visible_colours(scene, tuple(particles))
        spec = MotionSpec(
            [], scene, camera, time, particles, dur, flicker, stars, seed=int(rng.integers(2**31))
        )
        styles = [s for s in _STYLES if rng.random() < 0.08]
        spec.styles = styles[:2]
        objs: list[ObjectSpec] = []
        boxes: list = []
        floor = SCENES[scene].floor * aspect
        # half the multi-object clips stack something on a square: a collision event
        stack = n >= 2 and not floating and scene != "ocean" and rng.random() < 0.5
        for i in range(n):
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
            if o is None:
                break
            if not dup:
                o.group = i
            if any(p.motion == "circle" for p in objs) and o.motion == "circle":
                continue
            placed = None
            base = objs[0] if stack and i == 1 and objs and objs[0].shape == "square" else None
            if base is not None and o.motion in ("fall", "bounce"):
                pair = _stack_on(o, base, rng, spec, aspect, dur, fps)
                if pair is not None:
                    base_box = _travel_box(pair[0], motion_rate(base, time), dur, aspect, floor)
                    box = _travel_box(pair[1], motion_rate(o, time), dur, aspect, floor)
                    if base_box is not None and box is not None:
                        objs[0], boxes[0], placed = pair[0], base_box, pair[1]
                        boxes.append(box)
            if placed is None:
                placed = _place(o, rng, spec, aspect, boxes, dur, fps)
                if placed is not None:
                    boxes.append(_travel_box(placed, motion_rate(placed, time), dur, aspect, floor))
            if placed is not None:
                objs.append(placed)
        if not objs:
            continue
        # renumber groups 0.. in order of appearance
        remap: dict[int, int] = {}
        for o in objs:
            o.group = remap.setdefault(o.group, len(remap))
        spec.objects = objs
        return spec
    raise AvgenError(f"no MotionWorld clip fits duration_s={duration_s} at size {size}.")


def render_motion_clip(
    seed: int,
    *,
    size: int = 64,
    fps: int = 8,
    duration_s: float | None = None,
    heldout: str = "exclude",
) -> MotionClip:
    """Render MotionWorld clip number ``seed``: same (WORLD_VERSION, seed, options), same bytes."""
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise AvgenError(f"seed {seed!r} is invalid; use a non-negative integer.")
    spec = sample_motion_spec(seed, size=size, fps=fps, duration_s=duration_s, heldout=heldout)
    return render_motion_spec(spec, size, fps, seed=int(seed))


# ----------------------------------------------------------------------------- captions

_STYLES = (
    "cinematic",
    "dramatic",
    "4K",
    "8K",
    "HD",
    "Pixar-style",
    "photorealistic",
    "vibrant",
    "minimalist",
    "shot on film",
    "35mm",
)
_SCENE_PHRASES = {
    "dark": ("on a dark background", "against a black backdrop", "in the dark", "at night"),
    "gray": ("on a gray background", "in a gray studio", "in a studio", "against a grey wall"),
    "sky": ("against a daytime sky", "in the sky", "against a clear sky"),
    "grass": ("on a grass field", "in a meadow", "on the grass"),
    "beach": ("on a beach at sunset", "on the beach at sunset", "at a sunset beach"),
    "snow": ("in the snowy mountains", "against snowy mountains", "before snow-capped mountains"),
    "city": ("in a city at night", "in a neon city", "over a city at night"),
    "ocean": ("over the ocean", "by the sea", "above the sea"),
}
_SCENE_SENTENCES = {
    "dark": ("A dark, empty background.", "A black backdrop at night."),
    "gray": ("A plain gray studio.", "A gray studio backdrop."),
    "sky": ("A clear daytime sky.", "An open sky in daytime."),
    "grass": ("A grass field under a clear sky.", "An open meadow in daylight."),
    "beach": ("A beach at sunset.", "A sandy beach at sunset, the sun setting over the sand."),
    "snow": ("Snowy mountains under a clear sky.", "Snow-capped mountains in daylight."),
    "city": ("A city at night, its windows lit.", "A neon city skyline at night."),
    "ocean": ("The open ocean under a clear sky.", "A calm sea with rolling waves."),
}
_PLURAL = {"box": "boxes"}
_NUMBER = {1: "a", 2: "two", 3: "three"}
_PARTICLE_PHRASES = {
    "snow": ("with snow falling", "in falling snow", "as snowfall drifts down"),
    "rain": ("with rain falling", "in falling rain"),
}
_CAMERA_PHRASES = {
    "static": ("static camera", "static shot", "locked-off shot", "tripod shot"),
    "pan_left": ("camera panning left", "the camera pans left", "pan left"),
    "pan_right": ("camera panning right", "the camera pans right", "pan right"),
    "zoom_in": ("camera zooming in", "the camera zooms in", "push in"),
    "zoom_out": ("camera zooming out", "the camera zooms out", "pull back"),
}
_TIME_PHRASES = {
    "slow_motion": ("in slow motion", "slow motion", "slow-motion shot", "slow-mo"),
    "time_lapse": ("time-lapse", "sped up", "in time-lapse"),
}
# (participle, finite) forms of each motion's verbs
_VERBS = {
    "move": (
        ("moving", "moves"),
        ("sliding", "slides"),
        ("gliding", "glides"),
        ("drifting", "drifts"),
    ),
    "bounce": (("bouncing", "bounces"),),
    "fall": (("falling", "falls"), ("dropping", "drops")),
    "rise": (("rising", "rises"), ("floating up", "floats up")),
    "spin": (("spinning", "spins"), ("rotating", "rotates")),
    "grow": (("growing", "grows"), ("expanding", "expands")),
    "shrink": (("shrinking", "shrinks"),),
    "circle": (("circling", "circles"), ("orbiting", "orbits")),
    "still": (
        ("resting", "rests"),
        ("sitting still", "sits still"),
        ("standing still", "stands still"),
    ),
}


def _choice(rng: np.random.Generator, seq) -> Any:
    return seq[int(rng.integers(len(seq)))]


def _noun(rng: np.random.Generator, shape: str, count: int) -> str:
    word = _choice(rng, SHAPES[shape])
    return word if count == 1 else _PLURAL.get(word, word + "s")


def _object_phrase(rng: np.random.Generator, g: dict, finite: bool, terse: bool) -> str:
    """'two small crimson balls bouncing along to the right' (or the finite-verb form)."""
    count = g["count"]
    words = []
    if not terse or count > 1:
        words.append(_NUMBER[count])
    if g["size"] != "medium" or (not terse and rng.random() < 0.2):
        words.append(
            _choice(
                rng,
                {
                    "small": ("small", "tiny"),
                    "medium": ("medium-sized",),
                    "large": ("large", "big"),
                }[g["size"]],
            )
        )
    words.append(_choice(rng, COLOURS[g["colour"]].words))
    words.append(_noun(rng, g["shape"], count))
    motion = g["motion"]
    forms = list(_VERBS[motion])
    if motion == "move" and g["shape"] == "circle":
        forms.append(("rolling", "rolls"))
    part, fin = _choice(rng, forms)
    verb = part if not finite else fin if count == 1 else _plural_verb(fin)
    direction = g["direction"]
    tail = ""
    if motion == "move":
        tail = (
            _choice(rng, (f" to the {direction}", f" {direction}"))
            if direction in ("left", "right")
            else f" {direction}"
        )
    elif motion == "bounce" and direction:
        tail = _choice(rng, (f" along to the {direction}", f" to the {direction}"))
    elif motion == "bounce" and rng.random() < 0.3:
        tail = " up and down"
    elif motion == "circle" and not terse and rng.random() < 0.5:
        tail = " around the centre"
    elif motion == "fall" and not terse and rng.random() < 0.5:
        tail = " to the ground"
    adverb = {
        "slow": "slowly",
        "fast": _choice(rng, ("quickly", "fast", "rapidly", "swiftly")),
        "normal": "",
    }[g["speed"]]
    if adverb == "fast":
        phrase = f"{verb}{tail} fast"
    elif adverb and rng.random() < 0.5:
        phrase = f"{adverb} {verb}{tail}"
    elif adverb:
        phrase = f"{verb} {adverb}{tail}"
    else:
        phrase = f"{verb}{tail}"
    if words[0] == "a" and len(words) > 1 and words[1][0] in "aeiou":
        words[0] = "an"
    return " ".join(words) + " " + phrase


def _plural_verb(fin: str) -> str:
    """Finite verb for a plural subject: 'bounces' -> 'bounce', 'floats up' -> 'float up'."""
    head, _, rest = fin.partition(" ")
    return (head[:-1] + " " + rest).strip()


def _fmt_duration(rng: np.random.Generator, d: float) -> str:
    v = f"{d:g}"
    unit = "second" if v == "1" else "seconds"
    return _choice(rng, (f"for {v} {unit}", f"{v} s", f"{v}-second clip", f"lasting {v} {unit}"))


def make_captions(spec: MotionSpec, dur: float, rng: np.random.Generator) -> list[str]:
    """Four phrasings, terse to layered (scene, then motion, then style / camera / time)."""
    groups = _expected(spec, dur)["objects"]

    def objects(finite: bool, terse: bool) -> list[str]:
        return [_object_phrase(rng, g, finite, terse) for g in groups]

    def join(items: list[str]) -> str:
        return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]

    extras_scene = []
    if spec.flicker:
        extras_scene.append("with neon lights flickering")
    if spec.stars and rng.random() < 0.5:
        extras_scene.append("under faint stars")
    parts_particles = [_choice(rng, _PARTICLE_PHRASES[p]) for p in spec.particles]
    cam = _choice(rng, _CAMERA_PHRASES[spec.camera])
    time_word = _choice(rng, _TIME_PHRASES[spec.time]) if spec.time != "normal" else ""
    styles = list(spec.styles) or ([_choice(rng, _STYLES)] if rng.random() < 0.3 else [])
    sizes = {g["size"] for g in groups}
    if sizes == {"large"} and rng.random() < 0.3:
        styles.append("close-up")
    elif sizes == {"small"} and rng.random() < 0.3:
        styles.append("wide shot")

    caps = []
    # 1. terse
    terse = join(objects(False, True))
    if time_word and rng.random() < 0.5:
        terse += f", {time_word}"
    caps.append(terse)
    # 2. one sentence
    one = join(objects(False, False)) + " " + _choice(rng, _SCENE_PHRASES[spec.scene])
    for extra in extras_scene + parts_particles:
        one += f" {extra}"
    if spec.camera != "static":
        one += f", {cam}"
    if time_word:
        one += f", {time_word}"
    caps.append(one[0].upper() + one[1:])
    # 3. layered: scene, then motion, then style / camera / time / length
    scene_s = _choice(rng, _SCENE_SENTENCES[spec.scene])
    if extras_scene or parts_particles:
        scene_s = scene_s[:-1] + " " + " ".join(extras_scene + parts_particles) + "."
    motion_s = " ".join(s[0].upper() + s[1:] + "." for s in objects(True, False))
    tail = [*styles]
    if spec.camera != "static" or rng.random() < 0.4:
        tail.append(cam)
    if time_word:
        tail.append(time_word)
    layered = f"{scene_s} {motion_s}"
    if tail:
        layered += " " + ", ".join(tail)[0].upper() + ", ".join(tail)[1:] + "."
    caps.append(layered)
    # 4. camera / time first ("Slow-motion shot of ...")
    lead = {
        "slow_motion": _choice(rng, ("Slow-motion shot of ", "Slow motion footage of ")),
        "time_lapse": _choice(rng, ("Time-lapse of ", "Sped up footage of ")),
        "normal": _choice(rng, ("Video of ", "Footage of ", "A clip of ")),
    }[spec.time]
    four = lead + join(objects(False, False)) + " " + _choice(rng, _SCENE_PHRASES[spec.scene])
    for extra in extras_scene + parts_particles:
        four += f" {extra}"
    if spec.camera != "static":
        four += f", {cam}"
    if styles and rng.random() < 0.5:
        four += ", " + ", ".join(styles)
    caps.append(four[0].upper() + four[1:])
    # the duration in about a third of the phrasings
    out = []
    for c in caps:
        if rng.random() < 1 / 3:
            end = "." if c.endswith(".") else ""
            c = c.rstrip(".") + ", " + _fmt_duration(rng, dur) + end
        out.append(c)
    return out
