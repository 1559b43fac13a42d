"""The motion planner: a motion plan from a parsed prompt, seeded (the video planner of "plan,
then render").

It reads what the prompt parser found (objects with their count, shape, size, motion, direction
and speed; the scene's floor; the time word; the camera) and simulates the clip with
MotionWorld's own physics (``worlds.motion_physics``: pymunk for falls, bounces and what they
hit, the prescribed motions as kinematic bodies), so a planned prompt moves exactly the way the
training clips moved. What the prompt leaves open (where each object starts, the direction of
a move, which way a spin or orbit turns) is drawn from ``seed`` with MotionWorld's
placement rules: each path stays in frame and clear of the others, a fall or bounce onto a
square makes a stack (a collision event), a bounce makes at least two floor contacts; an
unstated size is MotionWorld's default, medium (its captions always name any other size). When a
path cannot fit (a move longer than the frame, a clip too short for a bounce) the object still
gets a plan: it starts where the path is longest in view. Two objects "colliding" (or one moving
"into" or "hitting" the other) start on the floor and meet (pymunk, restitution 0.8).

A prompt without an object (or with more than MotionWorld's three) gets no plan (None).
``plan_from_motion_truth`` turns a rendered MotionWorld clip's truth into its plan (what a
plan-following model is trained on).
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

import numpy as np
import pymunk

from avgen.plan.motion import (
    CameraTrack,
    ContactEvent,
    EndState,
    MotionPlan,
    ObjectFrame,
    PlannedObject,
    state_at,
)
from avgen.vocab import (
    CAMERA,
    GRAVITY_FW,
    MAX_OBJECTS,
    MOTIONS,
    MOVE_SPEED_FW,
    RESTITUTION,
    SCENES,
    SHAPES,
    SIZES,
    SPEED_FACTORS,
    TIME_FACTORS,
)
from avgen.worlds.motion_physics import UNITS, _PhysicsRun, _prescribed
from avgen.worlds.motion_render import _camera_track
from avgen.worlds.motion_sampling import (
    _DIR_VEC,
    MIN_FALL_FRAMES,
    _place,
    _stack_on,
    _travel_box,
)
from avgen.worlds.motion_spec import (
    BOTTOM_FACTOR,
    BOUND_FACTOR,
    MARGIN,
    MotionSpec,
    ObjectSpec,
    _kinematic_state,
    _shape_vertices,
    motion_rate,
)

_SALT = 0x6D6F74  # the planner's stream, apart from MotionWorld's own
_MOVE_WEIGHTS = {"left": 0.35, "right": 0.35, "up": 0.15, "down": 0.15}
#: Words the parser leaves unknown that still name a motion.
_EXTRA_MOTIONS = {"floating": "rise", "float": "rise", "floats": "rise", "hovering": "still"}
_ONTO_WORDS = {"onto", "lands", "landing"}
_COLLIDE_WORDS = {
    "colliding",
    "collide",
    "collides",
    "collision",
    "crashing",
    "crash",
    "crashes",
    "hits",
    "hit",
    "hitting",
    "bumping",
    "bumps",
    "into",
}
#: Direction words the parser leaves unknown ("drifting downward").
_EXTRA_DIRECTIONS = {
    "downward": "down",
    "downwards": "down",
    "upward": "up",
    "upwards": "up",
    "leftward": "left",
    "leftwards": "left",
    "rightward": "right",
    "rightwards": "right",
}


def plan_motion(
    parsed: Any,
    duration_s: float,
    seed: int = 0,
    *,
    fps: int = 8,
    width: int = 64,
    height: int = 64,
) -> MotionPlan | None:
    """The motion plan for ``parsed`` (a ``ParsedPrompt`` or its dict) over ``duration_s`` at
    ``fps`` for a ``width`` x ``height`` output; None when there is nothing to move."""
    p = parsed.to_dict() if hasattr(parsed, "to_dict") else dict(parsed)
    if p.get("kind") == "audio" or not p.get("objects"):
        return None
    rng = np.random.default_rng(np.random.SeedSequence([_SALT, int(seed)]))
    scene = p.get("scene") if p.get("scene") in SCENES else "gray"
    time = p.get("time") if p.get("time") in TIME_FACTORS else "normal"
    camera = p.get("camera") if p.get("camera") in CAMERA else "static"
    n_frames = max(1, int(round(duration_s * fps)))
    dur = n_frames / fps
    aspect = height / width
    spec = MotionSpec([], scene, camera, time, duration_s=dur)
    text = str(p.get("text") or "").lower().split() + list(p.get("unknown_words") or [])
    words = {w.strip(",.;:!?\"'()") for w in text}
    objs = _objects(p["objects"], words, rng, time, fps)
    if objs is None:
        return None
    collide = (
        len(objs) == 2
        and bool(words & _COLLIDE_WORDS)
        and all(o.motion in ("move", "still") for o in objs)
    )
    if collide:
        sim = _collide(objs, spec, aspect, fps, n_frames, rng)
    else:
        spec.objects = _placed(objs, spec, aspect, fps, rng, onto=bool(words & _ONTO_WORDS))
        sim = _run(spec, aspect, fps, n_frames)
    pan, zoom = _camera_track(spec, np.arange(n_frames) / fps, dur)
    cam = None if camera == "static" else CameraTrack(camera, pan.tolist(), zoom.tolist())
    meta = {
        "prompt": p.get("text"),
        "seed": int(seed),
        "scene": scene,
        "floor_y": SCENES[scene].floor,
        "time": time,
        "camera": camera,
    }
    return _to_plan(
        sim,
        spec.objects if not collide else objs,
        fps,
        n_frames,
        width,
        height,
        cam,
        TIME_FACTORS[time],
        "planner",
        meta,
    )


#: A bouncing object that starts a shot resting on the floor is kicked up to this height (fw).
KICK_HEIGHT_FW = 0.3


def plan_continuation(
    parsed: Any, duration_s: float, previous: MotionPlan, seed: int = 0
) -> MotionPlan | None:
    """The next shot's plan (stories): ``parsed`` planned as ``plan_motion`` does, but every
    object the previous shot had (matched in order: the k-th object named is the k-th object
    of ``previous``) starts where ``previous`` left it: its end position and angle, and a
    falling or bouncing object keeps its end velocity (one resting on the floor that is now
    to bounce is kicked up to ``KICK_HEIGHT_FW``). Objects the prompt adds are placed by
    MotionWorld's rules; objects it no longer names leave the shot. Same fps and frame size
    as ``previous``; None when the prompt names nothing to move. Two objects colliding are
    planned afresh (their meeting sets where they start)."""
    fps, width, height = previous.fps, previous.width, previous.height
    p = parsed.to_dict() if hasattr(parsed, "to_dict") else dict(parsed)
    fresh = plan_motion(p, duration_s, seed, fps=fps, width=width, height=height)
    if fresh is None or not previous.objects:
        return fresh
    rng = np.random.default_rng(np.random.SeedSequence([_SALT, int(seed), 1]))
    scene = fresh.meta["scene"]
    time, camera = fresh.meta["time"], fresh.meta["camera"]
    n_frames = fresh.num_frames
    aspect = height / width
    spec = MotionSpec([], scene, camera, time, duration_s=n_frames / fps)
    text = str(p.get("text") or "").lower().split() + list(p.get("unknown_words") or [])
    words = {w.strip(",.;:!?\"'()") for w in text}
    objs = _objects(p["objects"], words, rng, time, fps)
    if objs is None:
        return None
    if (
        len(objs) == 2
        and words & _COLLIDE_WORDS
        and all(o.motion in ("move", "still") for o in objs)
    ):
        return fresh
    placed = _placed(objs, spec, aspect, fps, rng, onto=bool(words & _ONTO_WORDS))
    floor = SCENES[scene].floor * aspect
    start_vel: dict[int, tuple[float, float]] = {}
    for i, o in enumerate(placed):
        if i >= len(previous.objects):
            continue
        end = previous.objects[i].end
        x, y = float(end.x), float(end.y) * aspect  # frame widths, y down
        placed[i] = replace(o, x=x, y=y, angle=float(end.angle) if o.motion == "spin" else o.angle)
        if o.motion in ("bounce", "fall"):
            vx, vy = float(end.vx), float(end.vy) * aspect
            resting = y + BOTTOM_FACTOR[o.shape] * SIZES[o.size] >= floor - 0.01
            if o.motion == "bounce" and resting and abs(vy) < 0.05:
                g = GRAVITY_FW * motion_rate(o, time)
                vy = -math.sqrt(2.0 * g * KICK_HEIGHT_FW)
            start_vel[i] = (vx, vy)
    spec.objects = placed
    sim = _run(spec, aspect, fps, n_frames, start_vel)
    pan, zoom = _camera_track(spec, np.arange(n_frames) / fps, n_frames / fps)
    cam = None if camera == "static" else CameraTrack(camera, pan.tolist(), zoom.tolist())
    meta = dict(fresh.meta, continues=True)
    return _to_plan(
        sim, placed, fps, n_frames, width, height, cam, TIME_FACTORS[time], "planner", meta
    )


# ----------------------------------------------------------------------------- objects


def _objects(
    parsed_objs: list[dict], words: set[str], rng: np.random.Generator, time: str, fps: int
) -> list[ObjectSpec] | None:
    """One ``ObjectSpec`` per object the prompt names (a group of ``count`` alike objects gives
    ``count``), with what the prompt leaves open drawn from ``rng``; None when there are more
    than MotionWorld's ``MAX_OBJECTS``."""
    if sum(max(1, int(o.get("count") or 1)) for o in parsed_objs) > MAX_OBJECTS:
        return None
    extra = next((m for w, m in _EXTRA_MOTIONS.items() if w in words), None)
    out: list[ObjectSpec] = []
    for group, o in enumerate(parsed_objs):
        motion = o.get("motion") if o.get("motion") in MOTIONS else (extra or "still")
        shape = o.get("shape") if o.get("shape") in SHAPES else "circle"
        # an unstated size is MotionWorld's default (its captions always name any other size)
        size = o.get("size") if o.get("size") in SIZES else "medium"
        direction = o.get("direction")
        if direction is None and motion == "move":
            direction = next((d for w, d in _EXTRA_DIRECTIONS.items() if w in words), None)
        if motion == "move" and direction not in _DIR_VEC:
            direction = _pick(rng, _MOVE_WEIGHTS)
        elif motion == "bounce" and direction not in ("left", "right"):
            direction = None
        elif motion not in ("move", "bounce"):
            direction = None
        speed = o.get("speed") if o.get("speed") in SPEED_FACTORS else "normal"
        turn = int(rng.choice([-1, 1]))
        angle = float(rng.uniform(0, 360)) if motion in ("spin", "circle") else 0.0
        for k in range(max(1, int(o.get("count") or 1))):
            a = (angle + 180.0 * k) % 360.0 if motion == "circle" else angle
            spec = ObjectSpec(
                str(o.get("colour") or ""),
                shape,
                size,
                motion,
                direction,
                speed,
                turn=turn,
                angle=a,
                group=group,
            )
            out.append(spec)
    return out


def _pick(rng: np.random.Generator, weights: dict[str, float]) -> str:
    keys = list(weights)
    p = np.asarray([weights[k] for k in keys], np.float64)
    return keys[int(rng.choice(len(keys), p=p / p.sum()))]


def _placed(
    objs: list[ObjectSpec],
    spec: MotionSpec,
    aspect: float,
    fps: int,
    rng: np.random.Generator,
    onto: bool = False,
) -> list[ObjectSpec]:
    """Start positions by MotionWorld's rules (a stack on a square half the time it can be
    made, always when the prompt says "onto"), falling back to ``_loose`` for a path that
    cannot fit; the prompt's order is kept."""
    dur, floor = spec.duration_s, SCENES[spec.scene].floor * aspect
    order = list(range(len(objs)))
    base = next(
        (i for i, o in enumerate(objs) if o.shape == "square" and o.motion in ("still", "fall")),
        None,
    )
    top = next(
        (i for i, o in enumerate(objs) if i != base and o.motion in ("fall", "bounce")), None
    )
    stack = (
        base is not None
        and top is not None
        and spec.scene != "ocean"
        and (onto or rng.random() < 0.5)
    )
    if stack:
        order = [base, top] + [i for i in order if i not in (base, top)]
    placed: dict[int, ObjectSpec] = {}
    boxes: list = []
    for rank, i in enumerate(order):
        o = objs[i]
        if stack and rank == 0:
            # the base first, placed like a resting or falling square of the world
            cand = _world_rule(_place, o, rng, spec, aspect, boxes, dur, fps)
        elif stack and rank == 1 and base in placed:
            pair = _world_rule(_stack_on, o, placed[base], rng, spec, aspect, dur, fps)
            if pair is None and onto:  # asked for: drop it straight onto the base
                pair = placed[base], _dropped_on(o, placed[base], rng, spec, aspect, fps)
            cand = None
            if pair is not None:
                # the top lands on the base: neither path's box needs to fit beside the other
                bbox = _travel_box(pair[0], motion_rate(pair[0], spec.time), dur, aspect, floor)
                placed[base], cand = pair
                boxes[0] = bbox if bbox is not None else boxes[0]
            if cand is None:
                cand = _world_rule(_place, o, rng, spec, aspect, boxes, dur, fps)
        else:
            cand = _world_rule(_place, o, rng, spec, aspect, boxes, dur, fps)
        if cand is None:
            cand = _loose(o, rng, spec, aspect, fps)
        box = _travel_box(cand, motion_rate(cand, spec.time), dur, aspect, floor)
        boxes.append(box if box is not None else (0.0, 0.0, 0.0, 0.0))
        placed[i] = cand
    return [placed[i] for i in range(len(objs))]


def _world_rule(rule, *args):
    """MotionWorld's placement ``rule`` (``_place``, ``_stack_on``), or None where its ranges
    are empty (frames much wider than tall, where the world never draws)."""
    try:
        return rule(*args)
    except ValueError:
        return None


def _loose(
    o: ObjectSpec, rng: np.random.Generator, spec: MotionSpec, aspect: float, fps: int
) -> ObjectSpec:
    """A start for a path that cannot stay in frame by MotionWorld's rules (its floor at the
    frame's bottom edge, a move longer than the frame): a move or rise starts at the side it
    leaves from, a bounce or fall from MotionWorld's drop heights (``_drop_height``) with its
    drift towards the wider side, anything else anywhere."""
    floor = SCENES[spec.scene].floor * aspect
    d = SIZES[o.size]
    rb, bottom = BOUND_FACTOR[o.shape] * d, BOTTOM_FACTOR[o.shape] * d
    x = float(rng.uniform(MARGIN + rb, 1 - MARGIN - rb))
    y = float(rng.uniform(MARGIN + rb, max(MARGIN + rb, floor - bottom)))
    if o.motion == "still":
        y = floor - bottom
    elif o.motion == "move":
        dx, dy = _DIR_VEC[o.direction or "right"]
        if dx:
            x = MARGIN + rb if dx > 0 else 1 - MARGIN - rb
        else:
            y = MARGIN + rb if dy > 0 else floor - bottom
    elif o.motion == "rise":
        y = floor - bottom
    elif o.motion in ("bounce", "fall"):
        y = floor - bottom - _drop_height(o, spec, rng, fps, floor - bottom - MARGIN - rb)
        if o.direction in ("left", "right"):  # drift away from the side it drifts to
            half = (MARGIN + rb, 0.5) if o.direction == "right" else (0.5, 1 - MARGIN - rb)
            x = float(rng.uniform(*half))
    elif o.motion == "circle":
        x, y = 0.5, aspect / 2
    return replace(o, x=x, y=y)


def _dropped_on(
    top: ObjectSpec,
    base: ObjectSpec,
    rng: np.random.Generator,
    spec: MotionSpec,
    aspect: float,
    fps: int,
) -> ObjectSpec:
    """``top`` above the middle of ``base`` (a square on the floor), dropped from a height
    ``_drop_height`` allows: the stack MotionWorld's sampler could not fit in the clip."""
    rb = BOUND_FACTOR[top.shape] * SIZES[top.size]
    block_top = float(base.y) - SIZES[base.size] / 2
    rest_y = block_top - BOTTOM_FACTOR[top.shape] * SIZES[top.size]
    h = _drop_height(top, spec, rng, fps, rest_y - MARGIN - rb)
    return replace(top, x=float(base.x), y=rest_y - h, direction=None)


def _drop_height(
    o: ObjectSpec, spec: MotionSpec, rng: np.random.Generator, fps: int, room: float
) -> float:
    """A bounce's or fall's drop height (fw) by MotionWorld's sampler: a bounce's first drop
    lasts at least 3 frames and leaves time for two floor contacts, a fall's at least 4 frames
    and lands 0.35 s before the end; at most ``room``."""
    g = GRAVITY_FW * motion_rate(o, spec.time)
    dur = spec.duration_s
    if o.motion == "bounce":
        hmax = min(room, g / 2 * ((dur - 0.15) / (1 + 2 * RESTITUTION)) ** 2, 0.65)
        hmin = max(0.12, g / 2 * (MIN_FALL_FRAMES[0] / fps) ** 2)
    else:
        hmax = min(room, g / 2 * max(dur - 0.35, 0.1) ** 2)
        hmin = max(0.2, g / 2 * (MIN_FALL_FRAMES[1] / fps) ** 2)
        hmin = max(hmin, 0.75 * hmax)
    hmax = max(hmax, 0.05)
    return float(rng.uniform(min(hmin, hmax), hmax))


# ----------------------------------------------------------------------------- simulation


class _Run:
    """A simulated clip: (F, n, 2) centres and (F, n) angles and diameters (frame widths, y
    down), end velocities (n, 2) fw/s and the contact events (MotionWorld's truth form)."""

    def __init__(self, pos, angle, diam, vel, events):
        self.pos, self.angle, self.diam, self.vel, self.events = pos, angle, diam, vel, events


def _run(
    spec: MotionSpec,
    aspect: float,
    fps: int,
    n_frames: int,
    start_vel: dict[int, tuple[float, float]] | None = None,
) -> _Run:
    """MotionWorld's physics for ``spec`` (pymunk when something falls or bounces);
    ``start_vel`` gives falling or bouncing objects a start velocity (fw/s, y down)."""
    last_t = (n_frames - 1) / fps
    dur = n_frames / fps
    vel = np.zeros((len(spec.objects), 2))
    for i, o in enumerate(spec.objects):
        vel[i] = _kinematic_state(o, last_t, motion_rate(o, spec.time), dur, aspect)[4:6]
    if not any(o.motion in ("bounce", "fall") for o in spec.objects):
        sim = _prescribed(spec, aspect, fps, n_frames)
        return _Run(sim.pos, sim.angle, sim.diam, vel, sim.events)
    run = _PhysicsRun(spec, aspect, fps, n_frames)
    for i, (vx, vy) in (start_vel or {}).items():
        if run.dynamic[i]:
            run.bodies[i].velocity = (vx * UNITS, vy * UNITS)
    sim = run.run()
    for i, dynamic in enumerate(run.dynamic):
        if dynamic:
            vel[i] = np.asarray(run.bodies[i].velocity) / UNITS
    return _Run(sim.pos, sim.angle, sim.diam, vel, sim.events)


def _collide(
    objs: list[ObjectSpec],
    spec: MotionSpec,
    aspect: float,
    fps: int,
    n_frames: int,
    rng: np.random.Generator,
) -> _Run:
    """Two objects on the floor meet mid-clip and collide (pymunk, restitution 0.8, no
    friction, gravity keeping them down). Both slide towards each other at MotionWorld's move
    speed x their rate, or only the one the prompt moves ("a red ball rolling into a blue box")
    while the other rests; a mover's direction, when given, says which side it comes from."""
    floor = SCENES[spec.scene].floor * aspect
    dur = n_frames / fps
    sub = max(1, math.ceil(480 / fps))
    dt = 1.0 / (fps * sub)
    space = pymunk.Space()
    space.iterations = 20
    u = UNITS
    space.gravity = (0.0, GRAVITY_FW * TIME_FACTORS[spec.time] * u)
    ground = pymunk.Segment(space.static_body, (-10 * u, floor * u), (11 * u, floor * u), 0)
    ground.elasticity, ground.friction, ground.collision_type = 0.0, 0.0, 1
    space.add(ground)
    movers = [i for i, o in enumerate(objs) if o.motion == "move"]
    if len(movers) != 1:
        movers = [0, 1]
    sides = [-1.0, 1.0]  # object 0 starts on the left unless a lone mover says otherwise
    if len(movers) == 1 and objs[movers[0]].direction == "left":
        sides[movers[0]], sides[1 - movers[0]] = 1.0, -1.0
    meet = float(rng.uniform(0.35, 0.6)) * dur
    centre = float(rng.uniform(0.4, 0.6))
    bodies, events = [], []
    for i, o in enumerate(objs):
        d = SIZES[o.size]
        v = MOVE_SPEED_FW * max(motion_rate(o, spec.time), 0.25) if i in movers else 0.0
        x = centre + sides[i] * (d / 2 + v * meet)
        x = min(max(x, MARGIN + d / 2), 1 - MARGIN - d / 2)
        y = floor - BOTTOM_FACTOR[o.shape] * d
        if i in movers:
            heading = "right" if sides[i] < 0 else "left"
            objs[i] = replace(o, x=x, y=y, motion="move", direction=heading)
        else:
            objs[i] = replace(o, x=x, y=y, motion="still", direction=None)
        body = pymunk.Body(1.0, float("inf"))
        body.position = (x * u, y * u)
        body.velocity = (-sides[i] * v * u, 0.0)
        if o.shape == "circle":
            shape = pymunk.Circle(body, d / 2 * u)
        else:
            verts = [tuple(p) for p in _shape_vertices(o.shape, d * u, 0.0)]
            shape = pymunk.Poly(body, verts)
        shape.elasticity, shape.friction = RESTITUTION, 0.0
        space.add(body, shape)
        bodies.append(body)
    state = {"t": 0.0}

    def on_hit(arb: pymunk.Arbiter, _space: pymunk.Space, _data: Any) -> None:
        vn = abs(bodies[0].velocity.x - bodies[1].velocity.x)
        pts = arb.contact_point_set.points
        px = sum((q.point_a.x + q.point_b.x) / 2 for q in pts) / max(len(pts), 1) / u
        py = sum((q.point_a.y + q.point_b.y) / 2 for q in pts) / max(len(pts), 1) / u
        events.append(
            {
                "t": state["t"] + dt,
                "kind": "collision",
                "pos": [px, py / aspect],
                "objects": [0, 1],
                "surface": "object",
                "speed": vn / u,
            }
        )

    space.on_collision(0, 0, begin=on_hit)
    pos = np.zeros((n_frames, 2, 2))
    diam = np.array([[SIZES[o.size] for o in objs]] * n_frames)
    for k in range(n_frames):
        pos[k] = [(b.position.x / u, b.position.y / u) for b in bodies]
        if k == n_frames - 1:
            break
        for _ in range(sub):
            space.step(dt)
            state["t"] += dt
    vel = np.array([(b.velocity.x / u, b.velocity.y / u) for b in bodies])
    return _Run(pos, np.zeros((n_frames, 2)), diam, vel, events)


# ----------------------------------------------------------------------------- plan form


def _to_plan(
    sim: _Run,
    objs: list[ObjectSpec],
    fps: int,
    n_frames: int,
    width: int,
    height: int,
    camera: CameraTrack | None,
    time_factor: float,
    source: str,
    meta: dict,
) -> MotionPlan:
    """The simulation in the plan's normalised frame (x / width, y / height)."""
    aspect = height / width
    planned = []
    for i, o in enumerate(objs):
        frames = []
        for k in range(n_frames):
            x, y = float(sim.pos[k, i, 0]), float(sim.pos[k, i, 1]) / aspect
            d = float(sim.diam[k, i])
            f = ObjectFrame(x, y, d, d / aspect, float(sim.angle[k, i]), True)
            f.visible = f.in_frame()
            frames.append(f)
        last = frames[-1]
        vx, vy = float(sim.vel[i, 0]), float(sim.vel[i, 1]) / aspect
        end = EndState(last.x, last.y, vx, vy, last.angle)
        info = {
            "colour": o.colour or None,
            "shape": o.shape,
            "size": o.size,
            "motion": o.motion,
            "direction": o.direction,
            "speed": o.speed,
            "group": o.group,
        }
        planned.append(PlannedObject(i, frames, end, info))
    events = _events(sim.events, n_frames / fps)
    plan = MotionPlan(
        fps, n_frames, width, height, planned, events, camera, time_factor, source, meta
    )
    # the plan as its JSON says (rounded), so a rerun from the sidecar follows the same numbers
    return plan.rounded()


def _events(raw: list[dict], duration_s: float) -> list[ContactEvent]:
    """MotionWorld's events (``t``, ``kind``, ``pos``, ``objects``, ``surface``, ``speed``) as
    the plan's, those before ``duration_s``."""
    return [
        ContactEvent(
            float(e["t"]),
            e["kind"],
            float(e["pos"][0]),
            float(e["pos"][1]),
            [int(j) for j in e["objects"]],
            e["surface"],
            float(e["speed"]),
        )
        for e in raw
        if e["t"] < duration_s
    ]


def plan_from_motion_truth(truth: dict) -> MotionPlan:
    """The plan of a rendered MotionWorld clip (``MotionClip.truth``): its tracks, events and
    camera, in the plan's form (end velocities by a backward difference of the last frames)."""
    h, w = truth["size"]
    fps, n = int(truth["fps"]), int(truth["num_frames"])
    aspect = h / w
    objs = []
    for o in truth["objects"]:
        frames = []
        for (x, y), a, d in zip(o["centre"], o["angle"], o["diameters"]):
            f = ObjectFrame(float(x), float(y), float(d), float(d) / aspect, float(a), True)
            f.visible = f.in_frame()
            frames.append(f)
        end = state_at(frames, n - 1, fps)
        keys = ("colour", "shape", "size", "motion", "direction", "speed", "group")
        objs.append(PlannedObject(int(o["id"]), frames, end, {k: o.get(k) for k in keys}))
    events = _events(truth.get("events", []), n / fps)
    camera = None
    if truth.get("camera", "static") != "static":
        track = truth["camera_track"]
        camera = CameraTrack(truth["camera"], list(track["pan_x"]), list(track["zoom"]))
    meta = {
        "world_seed": truth.get("seed"),
        "scene": truth.get("scene"),
        "floor_y": truth.get("floor_y"),
        "time": truth.get("time"),
    }
    return MotionPlan(
        fps,
        n,
        int(w),
        int(h),
        objs,
        events,
        camera,
        float(truth.get("time_factor", 1.0)),
        "world",
        meta,
    )
