"""Video checker, part 2: what one tracked object does (motion class, rates, contacts, gravity).

A track's motion class comes from its size trend (grow / shrink), a steady orbit about the
frame centre, floor contacts with gravity (bounce / fall), a net drift (move) or rotation
(spin), else still. Floor contacts are the lowest points of the height track reached by a fall
of at least ``MIN_CONTACT_FALL``; gravity is the median second difference of height over frame
triples strictly inside one flight arc. See avgen.worlds.video_checks.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from avgen.vocab import ORBIT_RADIUS_FW
from avgen.worlds.video_tracking import ObjectTrack

MIN_CONTACT_FALL = 0.008  # fw: a smaller dip is noise, not a floor contact
MIN_REBOUND = 0.02  # fw: a rise after a contact that counts as a bounce
FALL_REBOUND = 0.05  # fw: the "small bounce" a falling object may make (docs/WORLDS.md)
STILL_SPEED = 0.015  # fw/s: slower is still (the slowest world motion is 0.0375 fw/s)
STILL_TRAVEL = 0.03  # fw: and so is a smaller net displacement
MIN_SPIN = 0.08  # turns/s


# ----------------------------------------------------------------------------- track physics


def _fit_line(t: np.ndarray, v: np.ndarray) -> tuple[float, float]:
    """(slope, intercept) of a least-squares line; slope 0 for fewer than two points."""
    if len(t) < 2:
        return 0.0, float(v[0]) if len(v) else 0.0
    a = np.polyfit(t, v, 1)
    return float(a[0]), float(a[1])


def _contacts(y: np.ndarray) -> tuple[list[int], list[float]]:
    """Floor contacts of a height track (y down): the frames nearest each contact.

    A contact is a lowest point reached by a fall of at least ``MIN_CONTACT_FALL``; it is
    followed by a rise (its height, fw, is returned with it) or by rest (0).
    """
    eps = 1e-3
    idx: list[int] = []
    rebound: list[float] = []
    n = len(y)
    top = y[0]
    for i in range(1, n - 1):  # the last frame's future is unknown
        top = min(top, y[i])
        if y[i] - top < MIN_CONTACT_FALL or y[i] < y[i - 1] - eps:
            continue
        nxt = y[i + 1]
        if nxt > y[i] + eps:
            continue  # still falling
        idx.append(i)
        j, peak = i + 1, y[i]
        while j < n and y[j] <= y[j - 1] + eps:  # until it falls again
            peak = min(peak, y[j])
            j += 1
        rebound.append(float(y[i] - peak))
        top = y[i]
    return idx, rebound


def _gravity(t: np.ndarray, y: np.ndarray, contacts: list[int]) -> tuple[float | None, int]:
    """Median second difference of y (fw/s^2) over frame triples strictly inside flight arcs."""
    n = len(y)
    if n < 3:
        return None, 0
    bounds = [-10, *contacts, n + 10]
    acc = []
    for a, b in zip(bounds[:-1], bounds[1:]):
        lo = max(1, a + 2) if a >= 0 else 1
        hi = min(n - 2, b - 2)
        for k in range(lo, hi + 1):
            d1, d2 = t[k] - t[k - 1], t[k + 1] - t[k]
            if abs(d1 - d2) > 1e-6:
                continue  # a gap in the track
            tri = y[k - 1 : k + 2]
            if tri.max() - tri.min() < 0.006:
                continue  # resting, or too little motion to say anything
            acc.append(((y[k + 1] - y[k]) / d2 - (y[k] - y[k - 1]) / d1) / d2)
    if len(acc) < 2:
        return None, len(acc)
    return float(np.median(acc)), len(acc)


@dataclass
class TrackMotion:
    """What one track does, measured."""

    motion: str
    direction: str | None
    velocity: tuple[float, float]  # fw/s
    size_ratio: float  # d(end of clip) / d(0) from a linear fit
    spin: float | None  # turns/s (None: not measurable)
    orbit: float | None  # turns/s about the frame centre (None: not an orbit)
    contacts: int
    rebound: float  # the highest rise after a contact (fw)
    gravity: float | None
    gravity_n: int
    diameter0: float


def track_motion(tr: ObjectTrack, fps: float, aspect: float, duration: float) -> TrackMotion:
    """Classify and measure one track's motion (positions in fw, y down)."""
    seen = tr.seen
    t = np.nonzero(seen)[0] / fps
    x, y = tr.centre[seen, 0], tr.centre[seen, 1]
    dseen = np.isfinite(tr.diameter) & tr.whole
    td = np.nonzero(dseen)[0] / fps
    dd = tr.diameter[dseen]
    if len(dd) >= 2:
        ds, d0 = _fit_line(td, dd)
        ratio = (d0 + ds * duration) / max(d0, 1e-6)
    else:
        d0 = float(np.nanmedian(tr.diameter)) if np.isfinite(tr.diameter).any() else 0.0
        ratio = 1.0
    vx, _ = _fit_line(t, x)
    vy, _ = _fit_line(t, y)
    # spin from the harmonic phase of the measured shape
    spin = None
    if tr.shape != "circle":
        m = 3 if tr.shape == "triangle" else 4
        z = tr.m3 if m == 3 else tr.m4
        ok = tr.apart & np.isfinite(z)
        pair = ok[1:] & ok[:-1]
        if pair.sum() >= 2:
            period = 2 * np.pi / m
            ang = -np.angle(z) / m
            d = (np.diff(ang) + period / 2) % period - period / 2
            spin = float(np.degrees(np.mean(d[pair])) * fps / 360.0)
    # orbit about the frame centre
    orbit = None
    rho = np.hypot(x - 0.5, y - aspect / 2)
    if len(x) >= 4 and np.all(np.abs(rho - ORBIT_RADIUS_FW) < 0.05) and np.std(rho) < 0.012:
        phi = np.unwrap(np.arctan2(y - aspect / 2, x - 0.5))
        slope, icpt = _fit_line(t, phi)
        resid = float(np.std(phi - (slope * t + icpt)))
        sweep = abs(phi[-1] - phi[0])
        heading = np.unwrap(np.arctan2(np.diff(y), np.diff(x)))
        turn = abs(heading[-1] - heading[0]) if len(heading) > 1 else 0.0
        if sweep > 0.5 and resid < 0.08 * sweep and turn > 0.5 * sweep:
            orbit = slope / (2 * np.pi)
    contacts, rebounds = _contacts(y)
    g, g_n = _gravity(t, y, contacts)
    speed = math.hypot(vx, vy)
    direction = None
    if abs(ratio - 1) > 0.35 and (ratio > 1.35 or ratio < 0.74):
        motion = "grow" if ratio > 1 else "shrink"
    elif orbit is not None:
        motion = "circle"
    elif contacts and (g is None or g > 0.3) and (max(rebounds) >= MIN_REBOUND or (g or 0) > 0.3):
        motion = "bounce" if max(rebounds) >= FALL_REBOUND else "fall"
        dx = float(x[-1] - x[0])
        if abs(dx) > 0.03:
            direction = "right" if dx > 0 else "left"
    elif speed > STILL_SPEED and speed * (t[-1] - t[0] if len(t) > 1 else 0) > STILL_TRAVEL:
        motion = "move"
        if abs(vx) >= abs(vy):
            direction = "right" if vx > 0 else "left"
        else:
            direction = "down" if vy > 0 else "up"
    elif spin is not None and abs(spin) > MIN_SPIN:
        motion = "spin"
    else:
        motion = "still"
    return TrackMotion(
        motion,
        direction,
        (vx, vy),
        float(ratio),
        spin,
        orbit,
        len(contacts),
        max(rebounds, default=0.0),
        g,
        g_n,
        float(d0),
    )
