"""The instants sounds go on: a motion plan's contact events, or events found in the frames.

``plan_events`` reads a motion plan's contacts (time to the sample, surface, bodies, impact
speed and the objects' sizes). Without a plan, ``detect_events`` finds them in the generated
frames with a detector of the pipeline's own (independent of the benchmark checker in
``avgen.worlds.av_checks``): moving regions are segmented by colour (the prompt's object colours,
when it names any) or as foreground against the clip's per-pixel temporal median, linked from
frame to frame into tracks of area-weighted centres, and an event is a kink in a track:

- a floor contact, where a region moving down stops or turns up; its instant is where the
  parabola through the last frames of the fall meets the parabola (bounce) or the rest level
  (landing) after it, so it falls between frames;
- a collision, where two tracks close to each other turn their horizontal motion at the same
  frame; its instant is where the straight lines before and after the turn meet.

The sub-frame fits follow the usual kinematic picture (constant gravity between contacts,
constant velocity between collisions); AV-sync work such as Owens and Efros (2018) learns the
same cue, we measure it directly.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from scipy import ndimage

COLOUR_DIST = 60.0  # RGB distance under which a pixel belongs to an object colour
FOREGROUND_DIST = 40.0  # RGB distance from the temporal median that makes a pixel foreground
MIN_AREA_FRAC = 0.0015  # regions smaller than this share of the frame are noise
LINK_DIST_FRAC = 0.25  # a region moves at most this share of the frame between frames
MIN_SPEED_FRAC = 0.15  # frame heights (or widths) per second a contact must come in at
MIN_TRACK = 4  # frames a track needs to be read
MIN_FILL = 0.35  # share of its bounding box a region must fill
MAX_ASPECT = 3.0  # longest over shortest side of a region's bounding box
FOREGROUND_MIN_AREA_FRAC = 0.006  # foreground regions are noisier: keep only object-sized ones
AREA_CHANGE = 1.6  # a region whose area changes more than this across a contact is not one body
MAX_RESIDUAL = 0.02  # mean distance (frame heights) of a track from its fitted fall and hop
GRAVITY_SLACK = 0.5  # a fall may decelerate at most this many frame heights / s^2


@dataclass
class Event:
    """One instant a sound goes on: time (s), kind ("bounce", "land", "collision"), where
    (x, y as frame fractions), the surface ("floor" or "object"), the impact speed (frame
    widths a second, when known) and the size of the object (diameter, frame widths)."""

    t: float
    kind: str
    surface: str
    x: float = 0.5
    y: float = 1.0
    speed: float | None = None
    size: float | None = None

    def to_dict(self) -> dict:
        d = asdict(self)
        for k in ("t", "x", "y", "speed", "size"):
            if d[k] is not None:
                d[k] = round(float(d[k]), 5)
        return d


# ----------------------------------------------------------------------------- plans


def plan_events(plan) -> list[Event]:
    """The contact events of a motion plan (``avgen.plan.MotionPlan``), with the largest size of
    the bodies involved (from their frames at the contact)."""
    out = []
    for e in plan.events:
        k = min(plan.num_frames - 1, max(0, int(round(e.t_s * plan.fps))))
        sizes = []
        for oid in e.objects:
            try:
                f = plan.objects[plan.object_index(oid)].frames[k]
            except ValueError:
                continue
            sizes.append(max(f.w, f.h * plan.height / plan.width))
        surface = "floor" if e.surface == "floor" else "object"
        out.append(Event(e.t_s, e.kind, surface, e.x, e.y, e.speed, max(sizes) if sizes else None))
    return out


# ----------------------------------------------------------------------------- tracks


@dataclass
class _Track:
    centres: np.ndarray  # (F, 2) pixels (x, y), NaN where unseen
    areas: np.ndarray  # (F,) pixels


def _masks(frames: np.ndarray, colours: list[tuple[int, int, int]] | None) -> list[np.ndarray]:
    """One boolean (F, H, W) mask per object colour, or one foreground mask."""
    x = frames.astype(np.float32)
    if colours:
        return [
            np.linalg.norm(x - np.asarray(c, np.float32), axis=-1) < COLOUR_DIST for c in colours
        ]
    background = np.median(x, axis=0)  # (H, W, 3): what stays put
    return [np.linalg.norm(x - background, axis=-1) > FOREGROUND_DIST]


def _regions(mask: np.ndarray, min_area: float) -> list[tuple[float, float, float]]:
    """(x, y, area) of each compact connected region of one frame's mask: at least
    ``min_area`` pixels, filling at least MIN_FILL of its bounding box, whose sides differ by at
    most MAX_ASPECT (an object, not a streak of rain or a line of waves)."""
    labels, n = ndimage.label(mask)
    if n == 0:
        return []
    out = []
    for i, box in enumerate(ndimage.find_objects(labels), start=1):
        if box is None:
            continue
        sub = labels[box] == i
        area = float(sub.sum())
        h, w = sub.shape
        if area < min_area or area < MIN_FILL * h * w or max(h, w) > MAX_ASPECT * min(h, w):
            continue
        ys, xs = np.nonzero(sub)
        out.append((float(xs.mean() + box[1].start), float(ys.mean() + box[0].start), area))
    return out


def _tracks(mask: np.ndarray, min_area_frac: float = MIN_AREA_FRAC) -> list[_Track]:
    """Regions linked frame to frame by nearest centre (greedy, within LINK_DIST_FRAC)."""
    F, H, W = mask.shape
    min_area = min_area_frac * H * W
    gate = LINK_DIST_FRAC * max(H, W)
    tracks: list[_Track] = []
    live: list[int] = []
    for f in range(F):
        regs = _regions(mask[f], min_area)
        pairs = sorted(
            (np.hypot(r[0] - tracks[i].centres[f - 1, 0], r[1] - tracks[i].centres[f - 1, 1]), j, i)
            for j, r in enumerate(regs)
            for i in live
        )
        taken_r, taken_t, nxt = set(), set(), []
        for d, j, i in pairs:
            if d > gate or j in taken_r or i in taken_t:
                continue
            taken_r.add(j)
            taken_t.add(i)
            tracks[i].centres[f] = regs[j][:2]
            tracks[i].areas[f] = regs[j][2]
            nxt.append(i)
        for j, r in enumerate(regs):
            if j not in taken_r:
                t = _Track(np.full((F, 2), np.nan), np.zeros(F))
                t.centres[f] = r[:2]
                t.areas[f] = r[2]
                tracks.append(t)
                nxt.append(len(tracks) - 1)
        live = nxt
    return [t for t in tracks if np.isfinite(t.centres[:, 0]).sum() >= MIN_TRACK]


# ----------------------------------------------------------------------------- kinks


def _fit(t: np.ndarray, v: np.ndarray, degree: int) -> np.ndarray | None:
    ok = np.isfinite(v)
    if ok.sum() < degree + 1:
        return None
    return np.polyfit(t[ok], v[ok], degree)


def _meet(p: np.ndarray, q: np.ndarray, lo: float, hi: float) -> float | None:
    """The root of p - q in [lo, hi] nearest the middle (None if there is none)."""
    roots = np.roots(np.polysub(p, q)) if np.any(np.polysub(p, q)) else []
    real = [
        float(r.real) for r in np.atleast_1d(roots) if abs(r.imag) < 1e-9 and lo <= r.real <= hi
    ]
    if not real:
        return None
    mid = 0.5 * (lo + hi)
    return min(real, key=lambda r: abs(r - mid))


def _steady(areas: np.ndarray, k: int) -> bool:
    """The region keeps its size (within AREA_CHANGE) over frames k - 1 .. k + 1: one body,
    not regions merging, splitting or flickering."""
    a = areas[max(0, k - 1) : k + 2]
    a = a[a > 0]
    return len(a) >= 2 and float(a.max()) <= AREA_CHANGE * float(a.min())


def _contact_time(
    t: np.ndarray, y: np.ndarray, k: int, rising: bool, dt: float, scale: float
) -> float | None:
    """When a body whose lowest frame is ``k`` touched the floor: the contact lies either just
    before frame k (frame k is already on the way up, or at rest) or just after it. For each
    case the fall (up to 3 frames before the contact) and the hop after it (parabolas) or the
    rest level (a landing) are fitted and met; the case whose meeting lies in its own gap wins,
    the better fit when both do. None when neither fits a body under gravity (``scale``: the
    frame height in pixels)."""
    F = len(y)
    best: tuple[float, float] | None = None
    for split in (k, k + 1):  # the first frame after the contact
        fall_idx = np.arange(max(0, split - 3), split)
        after_idx = np.arange(split, min(F, split + 3))
        if len(fall_idx) < 2 or len(after_idx) < 1:
            continue
        fall = _fit(t[fall_idx], y[fall_idx], 2 if len(fall_idx) >= 3 else 1)
        if rising:
            if len(after_idx) < 2:
                continue
            after = _fit(t[after_idx], y[after_idx], 2 if len(after_idx) >= 3 else 1)
        else:
            after = np.array([float(np.nanmedian(y[after_idx]))])
        if fall is None or after is None:
            continue
        lo, hi = t[split - 1], t[split] if split < F else t[split - 1] + dt
        tc = _meet(fall, after, lo, hi)
        if tc is None or (len(fall) == 3 and fall[0] < -GRAVITY_SLACK * scale):
            continue  # no meeting, or a "fall" that brakes: not a body under gravity
        resid = float(np.nanmean(np.abs(np.polyval(fall, t[fall_idx]) - y[fall_idx])))
        if rising:
            resid += float(np.nanmean(np.abs(np.polyval(after, t[after_idx]) - y[after_idx])))
        if resid > MAX_RESIDUAL * scale:
            continue  # the track is too ragged to time a contact on
        if best is None or resid < best[1]:
            best = (tc, resid)
    return None if best is None else best[0]


def _floor_contacts(tr: _Track, fps: float, H: int, W: int) -> list[Event]:
    """Frames where a region coming down stops or turns up, timed between frames."""
    y = tr.centres[:, 1]
    F = len(y)
    t = np.arange(F) / fps
    v = np.diff(y) * fps  # (F-1,) px/s, + = down
    min_v = MIN_SPEED_FRAC * H
    out = []
    k = 1
    while k < F - 1:
        # frame k is the lowest: down into it, not further down after it
        if not (np.isfinite(v[k - 1]) and v[k - 1] > min_v and np.isfinite(v[k])):
            k += 1
            continue
        if v[k] > 0.25 * v[k - 1] or not _steady(tr.areas, k):
            k += 1
            continue
        rising = np.isfinite(v[k]) and -v[k] > min_v
        kind = "bounce" if rising else "land"
        tc = _contact_time(t, y, k, rising, 1.0 / fps, H)
        if tc is None:  # too ragged to be a contact
            k += 1
            continue
        size = 2.0 * np.sqrt(max(tr.areas[k], 1.0) / np.pi) / W
        speed = float(v[k - 1]) / W
        out.append(Event(tc, kind, "floor", tr.centres[k, 0] / W, y[k] / H, speed, size))
        k += 2
    return out


def _turns(tr: _Track, fps: float, W: int) -> list[tuple[int, float, float]]:
    """(frame, time, speed) where a track's horizontal motion turns sharply."""
    x = tr.centres[:, 0]
    F = len(x)
    t = np.arange(F) / fps
    v = np.diff(x) * fps
    min_v = MIN_SPEED_FRAC * W
    out = []
    for k in range(1, F - 1):
        a, b = v[k - 1], v[k]
        if not (np.isfinite(a) and np.isfinite(b)):
            continue
        if abs(a - b) < min_v or (abs(a) < min_v and abs(b) < min_v):
            continue
        if np.sign(a) == np.sign(b) and min(abs(a), abs(b)) > 0.5 * max(abs(a), abs(b)):
            continue
        before = _fit(t[max(0, k - 2) : k + 1], x[max(0, k - 2) : k + 1], 1)
        after = _fit(t[k : k + 3], x[k : k + 3], 1)
        tc = None
        if before is not None and after is not None:
            tc = _meet(before, after, t[k - 1], t[k + 1])
        out.append((k, float(t[k]) if tc is None else tc, abs(a - b) / W))
    return out


def _closing(a: _Track, b: _Track, k: int) -> bool:
    """Two tracks approach each other into frame k and stop approaching after it."""
    gap = np.abs(a.centres[:, 0] - b.centres[:, 0])
    if k < 2 or k + 1 >= len(gap) or not np.all(np.isfinite(gap[k - 2 : k + 2])):
        return False
    return bool(gap[k - 2] > gap[k - 1] > gap[k] - 0.5 and gap[k + 1] >= gap[k] - 0.5)


def _collisions(tracks: list[_Track], fps: float, H: int, W: int) -> list[Event]:
    """Turns of two tracks at about the same frame while they are close: one collision each."""
    turns = [(i, *turn) for i, tr in enumerate(tracks) for turn in _turns(tr, fps, W)]
    out: list[Event] = []
    used: set[tuple[int, int]] = set()
    for i, k, tc, speed in turns:
        if (i, k) in used:
            continue
        for j, k2, tc2, speed2 in turns:
            if j == i or abs(k2 - k) > 1 or (j, k2) in used:
                continue
            a, b = tracks[i], tracks[j]
            d = np.hypot(*(a.centres[k] - b.centres[k]))
            reach = np.sqrt(a.areas[k] / np.pi) + np.sqrt(b.areas[k] / np.pi)
            if not np.isfinite(d) or d > 1.6 * reach + 2:
                continue
            if not (_steady(a.areas, k) and _steady(b.areas, k2) and _closing(a, b, k)):
                continue
            used |= {(i, k), (j, k2)}
            x = 0.5 * (a.centres[k, 0] + b.centres[k, 0]) / W
            y = 0.5 * (a.centres[k, 1] + b.centres[k, 1]) / H
            size = 2.0 * np.sqrt(max(a.areas[k], b.areas[k], 1.0) / np.pi) / W
            out.append(
                Event(0.5 * (tc + tc2), "collision", "object", x, y, max(speed, speed2), size)
            )
            break
    return out


def detect_events(
    frames: np.ndarray, fps: float, colours: list[tuple[int, int, int]] | None = None
) -> list[Event]:
    """Floor contacts and collisions found in ``frames`` (F, H, W, 3) uint8 at ``fps``, sorted
    by time. ``colours``: RGB of the objects to follow (the prompt's), else the foreground."""
    frames = np.asarray(frames)
    F, H, W = frames.shape[:3]
    if F < MIN_TRACK:
        return []
    tracks: list[_Track] = []
    min_area = MIN_AREA_FRAC if colours else FOREGROUND_MIN_AREA_FRAC
    for mask in _masks(frames, colours):
        tracks += _tracks(mask, min_area)
    events: list[Event] = []
    for tr in tracks:
        events += _floor_contacts(tr, fps, H, W)
    collisions = _collisions(tracks, fps, H, W)
    # a region that stops where another turns is the collision, not a landing of its own
    floor = [e for e in events if not any(abs(e.t - c.t) < 1.0 / fps for c in collisions)]
    merged: list[Event] = []
    for e in sorted(floor + collisions, key=lambda e: e.t):
        if merged and e.t - merged[-1].t < 0.5 / fps and e.surface == merged[-1].surface:
            continue  # one contact seen in two masks
        merged.append(e)
    return [e for e in merged if 0.0 <= e.t <= F / fps]
