"""MotionWorld's clip description: the specs, their validation and the prescribed motions.

A ``MotionSpec`` lists up to three ``ObjectSpec`` objects and the scene, camera, time word,
particles and duration; ``render_motion_spec`` (avgen.worlds.motion) turns it into frames.
Positions are in frame widths (fw), x right and y down; sizes are diameters in fw. The
prescribed (kinematic) motions are closed-form functions of time (``_kinematic_state``); bounces
and falls are simulated (avgen.worlds.motion_physics). See docs/WORLDS.md.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from avgen.errors import AvgenError
from avgen.vocab import (
    CAMERA,
    COLOURS,
    DIRECTIONS,
    MAX_OBJECTS,
    MOTIONS,
    MOVE_SPEED_FW,
    ORBIT_RADIUS_FW,
    ORBIT_TURNS_PER_S,
    PARTICLES,
    RISE_SPEED_FW,
    SCENES,
    SHAPES,
    SIZES,
    SPEED_FACTORS,
    SPIN_TURNS_PER_S,
    TIME_FACTORS,
)

MIN_SIZE, MAX_SIZE = 16, 1024
MAX_FPS = 120
DURATION_RANGE = (1.0, 10.0)
MARGIN = 0.03  # fw kept free at the frame edges
# Shape area / diameter^2 (diameter = circle diameter, square side, triangle side).
AREA_FACTOR = {"circle": math.pi / 4, "square": 1.0, "triangle": math.sqrt(3) / 4}
# Farthest point of a shape from its centre (its centroid), / diameter.
BOUND_FACTOR = {"circle": 0.5, "square": math.sqrt(0.5), "triangle": 1 / math.sqrt(3)}
# Lowest point below the centroid when upright (angle 0), / diameter.
BOTTOM_FACTOR = {"circle": 0.5, "square": 0.5, "triangle": 0.5 / math.sqrt(3)}


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
    """The factor on an object's motion: speed word x time factor (docs/WORLDS.md)."""
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
