"""MotionWorld physics: falls and bounces simulated with pymunk, contacts turned into events.

Objects that fall or bounce are dynamic bodies of the pymunk 2D physics engine (Chipmunk) under
their own gravity (2.5 fw/s^2 x speed factor x time factor), restitution 0.8 for a bounce and 0
for a fall; every other motion is prescribed (``_kinematic_state``) and enters the engine as a
kinematic body moved before each step, so a ball that falls onto a resting box really lands on
it. The floor is a segment at the scene's ground line and the frame's sides are walls. The
engine steps at ``STEPS_PER_SECOND`` (rounded up to a multiple of the fps) and frame k is the
state at time k / fps. A contact's time is interpolated inside its step by penetration depth;
an object whose rebound would rise less than ``REST_RISE_FW`` comes to rest. See docs/WORLDS.md.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pymunk

from avgen.vocab import DRIFT_SPEED_FW, GRAVITY_FW, REST_RISE_FW, RESTITUTION, SCENES, SIZES
from avgen.worlds.motion_spec import (
    _DIR_VEC,
    BOTTOM_FACTOR,
    MotionSpec,
    ObjectSpec,
    _kinematic_state,
    _shape_vertices,
    motion_rate,
)

STEPS_PER_SECOND = 480  # physics rate (at least; rounded up to a multiple of the fps)
UNITS = 100.0  # pymunk units per frame width
EVENT_MIN_SPEED = 0.1  # fw/s: slower contacts (resting objects settling) are not events
FALL_RESTITUTION = 0.0  # a falling object lands and rests: exactly one event
# pymunk collision types
_OBJECT, _FLOOR, _WALL = 1, 2, 3


@dataclass
class _Sim:
    pos: np.ndarray  # (F, n, 2) fw
    angle: np.ndarray  # (F, n) deg
    diam: np.ndarray  # (F, n) fw
    events: list[dict]


def _simulate(spec: MotionSpec, aspect: float, fps: int, n_frames: int) -> _Sim:
    """Run the clip's physics; frames are sampled at k / fps from a STEPS_PER_SECOND simulation."""
    if not any(o.motion in ("bounce", "fall") for o in spec.objects):
        return _prescribed(spec, aspect, fps, n_frames)
    return _PhysicsRun(spec, aspect, fps, n_frames).run()


def _prescribed(spec: MotionSpec, aspect: float, fps: int, n_frames: int) -> _Sim:
    """Nothing is pushed around: the prescribed motions, sampled at the frame times, are the
    answer (no engine, no events)."""
    objs = spec.objects
    n = len(objs)
    dur = n_frames / fps
    rates = [motion_rate(o, spec.time) for o in objs]
    pos = np.zeros((n_frames, n, 2))
    angle = np.zeros((n_frames, n))
    diam = np.zeros((n_frames, n))
    times = np.arange(n_frames) / fps
    for i, o in enumerate(objs):
        for k, t in enumerate(times):
            x, y, a, d, *_ = _kinematic_state(o, t, rates[i], dur, aspect)
            pos[k, i], angle[k, i], diam[k, i] = (x, y), a, d
    return _Sim(pos, angle, diam, [])


class _PhysicsRun:
    """One clip's pymunk space: its bodies, the contact handlers that record events, the tracks.

    Lengths inside the engine are in ``UNITS`` per frame width; the tracks and events it returns
    are in frame widths (event positions: x in frame widths, y in frame heights).
    """

    def __init__(self, spec: MotionSpec, aspect: float, fps: int, n_frames: int) -> None:
        self.objs = spec.objects
        n = len(self.objs)
        self.aspect, self.fps, self.n_frames = aspect, fps, n_frames
        self.dur = n_frames / fps
        self.rates = [motion_rate(o, spec.time) for o in self.objs]
        self.dynamic = [o.motion in ("bounce", "fall") for o in self.objs]
        self.pos = np.zeros((n_frames, n, 2))
        self.angle = np.zeros((n_frames, n))
        self.diam = np.zeros((n_frames, n))
        self.sub = max(1, math.ceil(STEPS_PER_SECOND / fps))  # engine steps per frame
        self.dt = 1.0 / (fps * self.sub)
        self.floor_y = SCENES[spec.scene].floor * aspect
        self.events: list[dict] = []
        self.to_rest: dict[int, float | None] = {}  # object -> y (units) to snap to, or None
        self.t = 0.0  # time at the start of the current step
        self.space = self._space()
        self.bodies: list[pymunk.Body] = []
        self.shapes: list[pymunk.Shape] = []
        self.gravity = [0.0] * n  # units/s^2 of each dynamic object
        for i, o in enumerate(self.objs):
            self._add_object(i, o)
        self.space.on_collision(_OBJECT, _FLOOR, begin=self._on_floor)
        self.space.on_collision(_OBJECT, _WALL, begin=self._on_wall)
        self.space.on_collision(_OBJECT, _OBJECT, begin=self._on_object)

    # ------------------------------------------------------------------------- building

    def _space(self) -> pymunk.Space:
        """An empty space with the floor and the two side walls (static segments)."""
        space = pymunk.Space()
        space.collision_slop = 0.02
        space.iterations = 20
        u, fy = UNITS, self.floor_y
        floor = pymunk.Segment(space.static_body, (-10 * u, fy * u), (11 * u, fy * u), 0)
        walls = [
            pymunk.Segment(space.static_body, (0, -10 * u), (0, fy * u), 0),
            pymunk.Segment(space.static_body, (u, -10 * u), (u, fy * u), 0),
        ]
        for seg, ctype in [(floor, _FLOOR), (walls[0], _WALL), (walls[1], _WALL)]:
            seg.elasticity, seg.friction, seg.collision_type = 1.0, 0.0, ctype
            space.add(seg)
        return space

    def _add_object(self, i: int, o: ObjectSpec) -> None:
        """Object ``i``'s body (dynamic or kinematic) and its collision shape."""
        u = UNITS
        if self.dynamic[i]:
            body, d = self._dynamic_body(i, o), SIZES[o.size]
        else:
            body = pymunk.Body(body_type=pymunk.Body.KINEMATIC)
            x, y, a, d, *_ = _kinematic_state(o, 0.0, self.rates[i], self.dur, self.aspect)
            body.position, body.angle = (x * u, y * u), math.radians(a)
        if o.shape == "circle":
            shape = pymunk.Circle(body, d / 2 * u)
        else:
            shape = pymunk.Poly(body, [tuple(v) for v in _shape_vertices(o.shape, d * u, 0.0)])
        shape.elasticity = (
            RESTITUTION if o.motion == "bounce" else FALL_RESTITUTION if o.motion == "fall" else 1.0
        )
        shape.friction = 0.0
        shape.collision_type = _OBJECT
        shape.idx = i  # type: ignore[attr-defined]
        self.space.add(body, shape)
        self.bodies.append(body)
        self.shapes.append(shape)

    def _dynamic_body(self, i: int, o: ObjectSpec) -> pymunk.Body:
        """A body that does not rotate, falls under its own gravity and may drift sideways."""
        u = UNITS
        body = pymunk.Body(1.0, float("inf"))
        body.position = (o.x * u, o.y * u)
        g = GRAVITY_FW * self.rates[i] * u
        self.gravity[i] = g

        def vfunc(b, _grav, _damp, step, g=g):
            pymunk.Body.update_velocity(b, (0.0, g), 1.0, step)

        body.velocity_func = vfunc
        if o.motion == "bounce" and o.direction in ("left", "right"):
            body.velocity = (_DIR_VEC[o.direction][0] * DRIFT_SPEED_FW * self.rates[i] * u, 0.0)
        return body

    # ------------------------------------------------------------------------- contacts

    def _contact_time(self, arb: pymunk.Arbiter, vn: float) -> float:
        """When the contact began inside the step: the penetration depth undone at speed vn."""
        depth = max(0.0, -min(p.distance for p in arb.contact_point_set.points))
        tau = self.dt - depth / max(vn, 1e-9)
        return self.t + min(max(tau, 0.0), self.dt)

    def _maybe_rest(self, i: int, vn: float, e: float, snap: float | None = None) -> None:
        """Object ``i`` comes to rest after this step when its rebound would rise too little."""
        g = self.gravity[i]
        if g > 0 and (e * vn) ** 2 / (2 * g) < REST_RISE_FW * UNITS:
            self.to_rest[i] = snap

    @staticmethod
    def _object_index(arb: pymunk.Arbiter) -> int:
        shp = arb.shapes[0] if arb.shapes[0].collision_type == _OBJECT else arb.shapes[1]
        return shp.idx

    def _on_floor(self, arb: pymunk.Arbiter, _space: pymunk.Space, _data: Any) -> None:
        u = UNITS
        i = self._object_index(arb)
        body, o = self.bodies[i], self.objs[i]
        vn = body.velocity.y
        if not self.dynamic[i] or vn < EVENT_MIN_SPEED * u:
            return
        rest_y = (self.floor_y - BOTTOM_FACTOR[o.shape] * SIZES[o.size]) * u
        self._maybe_rest(i, vn, arb.restitution, rest_y)
        self.events.append(
            {
                "t": self._contact_time(arb, vn),
                "kind": "bounce" if o.motion == "bounce" else "land",
                "pos": [body.position.x / u, self.floor_y / self.aspect],
                "objects": [i],
                "surface": "floor",
                "speed": vn / u,
            }
        )

    def _on_wall(self, arb: pymunk.Arbiter, _space: pymunk.Space, _data: Any) -> None:
        u = UNITS
        i = self._object_index(arb)
        vn = abs(self.bodies[i].velocity.x)
        if not self.dynamic[i] or vn < EVENT_MIN_SPEED * u:
            return
        p = self.bodies[i].position
        self.events.append(
            {
                "t": self._contact_time(arb, vn),
                "kind": "collision",
                "pos": [round(p.x / u), p.y / u / self.aspect],
                "objects": [i],
                "surface": "wall",
                "speed": vn / u,
            }
        )

    def _on_object(self, arb: pymunk.Arbiter, _space: pymunk.Space, _data: Any) -> None:
        u = UNITS
        a, b = arb.shapes[0].idx, arb.shapes[1].idx
        nrm = arb.normal
        vn = (self.bodies[a].velocity - self.bodies[b].velocity).dot(nrm)
        if vn < EVENT_MIN_SPEED * u:
            return
        # a dynamic object landing on top of another may come to rest there
        for top, sign in ((a, 1.0), (b, -1.0)):
            if self.dynamic[top] and sign * nrm.y > 0.7:
                self._maybe_rest(top, vn, arb.restitution)
        pts = arb.contact_point_set.points
        px = sum((p.point_a.x + p.point_b.x) / 2 for p in pts) / len(pts) / u
        py = sum((p.point_a.y + p.point_b.y) / 2 for p in pts) / len(pts) / u
        self.events.append(
            {
                "t": self._contact_time(arb, vn),
                "kind": "collision",
                "pos": [px, py / self.aspect],
                "objects": sorted([a, b]),
                "surface": "object",
                "speed": vn / u,
            }
        )

    # ------------------------------------------------------------------------- stepping

    def _drive_kinematic(self, t: float) -> None:
        """Move every prescribed body (and resize a growing or shrinking one) to time t."""
        u = UNITS
        for i, o in enumerate(self.objs):
            if self.dynamic[i]:
                continue
            x, y, a, d, vx, vy, om = _kinematic_state(o, t, self.rates[i], self.dur, self.aspect)
            body = self.bodies[i]
            body.position, body.velocity = (x * u, y * u), (vx * u, vy * u)
            body.angle, body.angular_velocity = math.radians(a), math.radians(om)
            if o.motion in ("grow", "shrink"):
                if o.shape == "circle":
                    self.shapes[i].unsafe_set_radius(d / 2 * u)
                else:
                    verts = [tuple(v) for v in _shape_vertices(o.shape, d * u, 0.0)]
                    self.shapes[i].unsafe_set_vertices(verts)

    def _settle(self) -> None:
        """Stop the objects that came to rest in the last step (on the floor: snapped to it)."""
        for i, snap in self.to_rest.items():
            self.bodies[i].velocity = (0.0, 0.0)
            if snap is not None:
                self.bodies[i].position = (self.bodies[i].position.x, snap)
        self.to_rest.clear()

    def _record(self, k: int) -> None:
        """Frame k's positions, angles and diameters of every object."""
        u = UNITS
        for i, o in enumerate(self.objs):
            if self.dynamic[i]:
                p = self.bodies[i].position
                self.pos[k, i] = (p.x / u, p.y / u)
                self.angle[k, i] = math.degrees(self.bodies[i].angle)
                self.diam[k, i] = SIZES[o.size]
            else:
                x, y, a, d, *_ = _kinematic_state(
                    o, k / self.fps, self.rates[i], self.dur, self.aspect
                )
                self.pos[k, i], self.angle[k, i], self.diam[k, i] = (x, y), a, d

    def run(self) -> _Sim:
        """Step the engine through the clip, recording every frame; events sorted by time."""
        self._record(0)
        for step in range((self.n_frames - 1) * self.sub):
            self.t = step * self.dt
            self._drive_kinematic(self.t)
            self.space.step(self.dt)
            self._settle()
            if (step + 1) % self.sub == 0:
                self._record((step + 1) // self.sub)
        self.events.sort(key=lambda e: e["t"])
        return _Sim(self.pos, self.angle, self.diam, self.events)
