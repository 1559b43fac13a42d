"""Video checker, part 4: each expected object group against the tracks that fit it.

Tracks are matched to the expected groups by colour first, then motion, shape and size (optimal
assignment over one slot per expected object). Each group then gets its entries
``objects[i].colour``, ``.shape``, ``.size``, ``.count``, ``.motion``, ``.direction``,
``.speed``, ``.gravity``, ``.contacts``, ``.size_change`` and ``.consistency``: rates within
``RATE_TOLERANCE`` of the vocabulary's base rate x speed factor x time factor, gravity within
``GRAVITY_TOLERANCE``; directions and translation speeds are judged with a static camera only,
and the spin of a disc is not measurable. See avgen.worlds.video_checks.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from scipy.optimize import linear_sum_assignment

from avgen.vocab import (
    GRAVITY_FW,
    MOVE_SPEED_FW,
    ORBIT_TURNS_PER_S,
    RISE_SPEED_FW,
    SIZES,
    SPEED_FACTORS,
    SPIN_TURNS_PER_S,
)
from avgen.worlds.video_motion import FALL_REBOUND, MIN_REBOUND, TrackMotion, track_motion
from avgen.worlds.video_tracking import ObjectTrack

RATE_TOLERANCE = (0.75, 1.33)  # measured / expected rate that still matches (2x steps apart)
GRAVITY_TOLERANCE = 0.30
_BASE_RATES = {
    "move": MOVE_SPEED_FW,
    "rise": RISE_SPEED_FW,
    "spin": SPIN_TURNS_PER_S,
    "circle": ORBIT_TURNS_PER_S,
}


def _entry(expected: Any, measured: Any, match: bool | None, note: str = "") -> dict[str, Any]:
    """One checker entry: expected, measured, match (None: not measurable) and a note."""
    out = {
        "expected": expected,
        "measured": measured,
        "match": match,
        "measurable": match is not None,
    }
    if note:
        out["note"] = note
    return out


def _size_class(d: float) -> str:
    if d < math.sqrt(SIZES["small"] * SIZES["medium"]):
        return "small"
    if d < math.sqrt(SIZES["medium"] * SIZES["large"]):
        return "medium"
    return "large"


def _r(v: float | None, n: int = 3) -> float | None:
    return None if v is None else round(float(v), n)


def _compatible(expected: str, measured: str, direction: str | None) -> bool:
    if expected == measured:
        return True
    if expected == "rise" and measured == "move" and direction == "up":
        return True
    return False


def _group_score(g: dict, tr: ObjectTrack, tm: TrackMotion) -> float:
    """How well a track fits an expected object group (colour dominates, then motion)."""
    s = 0.0
    if g.get("colour"):
        s += 4.0 if g["colour"] == tr.colour else -4.0
    if g.get("shape"):
        s += 1.0 if g["shape"] == tr.shape else 0.0
    if g.get("motion"):
        s += 2.0 if _compatible(g["motion"], tm.motion, tm.direction) else 0.0
    if g.get("size"):
        s += 0.5 if _size_class(tm.diameter0) == g["size"] else 0.0
    return s


# ----------------------------------------------------------------------------- matching


def _check_objects(
    expected: dict,
    tracks: list[ObjectTrack],
    fps: float,
    aspect: float,
    duration: float,
    camera: str,
    time_f: float,
) -> dict[str, dict]:
    """The clip's object ``count`` and every expected group's entries."""
    out: dict[str, dict] = {}
    groups = [g for g in (expected.get("objects") or []) if g]
    slots = [gi for gi, g in enumerate(groups) for _ in range(max(1, int(g.get("count") or 1)))]
    if groups:
        exp_total = len(slots)
        out["count"] = _entry(exp_total, len(tracks), len(tracks) == exp_total)
    tms = [track_motion(tr, fps, aspect, duration) for tr in tracks]
    assigned, counts = _assign_tracks(groups, slots, tracks, tms)
    for gi, g in enumerate(groups):
        idx = assigned[gi]
        out.update(
            _check_group(
                gi,
                g,
                [tracks[i] for i in idx],
                [tms[i] for i in idx],
                counts[gi],
                fps,
                camera,
                time_f,
            )
        )
    return out


def _assign_tracks(
    groups: list[dict], slots: list[int], tracks: list[ObjectTrack], tms: list[TrackMotion]
) -> tuple[dict[int, list[int]], list[int]]:
    """Tracks per group (one slot per expected object, optimal assignment by ``_group_score``)
    and the count per group (each track counts for the group it fits best, if its colour)."""
    assigned: dict[int, list[int]] = {gi: [] for gi in range(len(groups))}
    counts = [0] * len(groups)
    if slots and tracks:
        score = np.array(
            [[_group_score(g, tr, tm) for tr, tm in zip(tracks, tms)] for g in groups]
        )  # (G, T)
        rows, cols = linear_sum_assignment(-score[slots])
        for r, c in zip(rows, cols):
            assigned[slots[r]].append(int(c))
        for c in range(len(tracks)):  # each track counts for the group it fits best
            gi = int(np.argmax(score[:, c]))
            if not groups[gi].get("colour") or groups[gi]["colour"] == tracks[c].colour:
                counts[gi] += 1
    return assigned, counts


# ----------------------------------------------------------------------------- one group


class _GroupReport:
    """The entries ``objects[gi].<attribute>`` of one expected group, over its matched tracks."""

    def __init__(self, gi: int, trs: list[ObjectTrack]) -> None:
        self.key = f"objects[{gi}]."
        self.found = bool(trs)
        self.out: dict[str, dict] = {}

    def set(self, name: str, entry: dict[str, Any]) -> None:
        self.out[self.key + name] = entry

    def each(
        self, name: str, exp: Any, values: list[Any], matches: list[bool | None], note: str = ""
    ) -> None:
        """One entry over all matched tracks: a match when every one matches, not measurable
        when any one is not, not found when there is no track."""
        if not self.found:
            self.set(name, _entry(exp, None, False, "object not found"))
            return
        measured = values[0] if len(values) == 1 else values
        if any(m is None for m in matches):
            self.set(name, _entry(exp, measured, None, note))
            return
        self.set(name, _entry(exp, measured, all(matches), note))


def _check_group(
    gi: int,
    g: dict,
    trs: list[ObjectTrack],
    tms: list[TrackMotion],
    count: int,
    fps: float,
    camera: str,
    time_f: float,
) -> dict[str, dict]:
    """The per-object attributes of expected group ``gi`` (its matched tracks ``trs``)."""
    rep = _GroupReport(gi, trs)
    motion = g.get("motion")
    rate = SPEED_FACTORS.get(g.get("speed") or "normal", 1.0) * time_f
    static = camera == "static"
    if g.get("count"):
        rep.set("count", _entry(int(g["count"]), count, count == int(g["count"])))
    if g.get("colour"):
        colours = [tr.colour for tr in trs]
        rep.each("colour", g["colour"], colours, [c == g["colour"] for c in colours])
    if g.get("shape"):
        shapes = [tr.shape for tr in trs]
        rep.each("shape", g["shape"], shapes, [s == g["shape"] for s in shapes])
    if g.get("size"):
        _check_size(rep, g["size"], motion, trs, tms)
    if motion:
        _check_motion(rep, motion, trs, tms)
    if g.get("direction") and motion in ("move", "bounce"):
        _check_direction(rep, g["direction"], tms, static)
    if motion in _BASE_RATES:
        _check_rate(rep, g.get("speed") or "normal", motion, trs, tms, rate, static)
    if motion in ("bounce", "fall"):
        _check_gravity(rep, motion, tms, rate)
    if motion in ("grow", "shrink"):
        _check_size_change(rep, motion, tms)
    _check_consistency(rep, motion, trs)
    return rep.out


def _check_size(
    rep: _GroupReport, size: str, motion: str | None, trs: list[ObjectTrack], tms: list[TrackMotion]
) -> None:
    """Size class from the diameter (a growing or shrinking object's: at the start)."""
    d0 = [tm.diameter0 for tm in tms]
    if motion not in ("grow", "shrink"):
        d0 = [
            float(np.nanmedian(tr.diameter[tr.whole]))
            if tr.whole.any()
            else float(np.nanmedian(tr.diameter))
            for tr in trs
        ]
    cls = [_size_class(d) for d in d0]
    note = "diameter " + ", ".join(f"{d:.3f}" for d in d0) + " fw"
    rep.each("size", size, cls, [c == size for c in cls], note)


def _check_motion(
    rep: _GroupReport, motion: str, trs: list[ObjectTrack], tms: list[TrackMotion]
) -> None:
    ms, mm = [], []
    for tr, tm in zip(trs, tms):
        m = tm.motion
        ok: bool | None = _compatible(motion, m, tm.direction)
        if motion == "spin" and tr.shape == "circle" and m == "still":
            ok = None  # the spin of a disc cannot be seen
        ms.append(m)
        mm.append(ok)
    rep.each("motion", motion, ms, mm, "spin of a circle is not measurable" if None in mm else "")


def _check_direction(
    rep: _GroupReport, direction: str, tms: list[TrackMotion], static: bool
) -> None:
    if not static:
        rep.set(
            "direction",
            _entry(direction, None, None, "directions are judged with a static camera only"),
        )
        return
    dirs = [tm.direction for tm in tms]
    note = "; ".join(f"v=({tm.velocity[0]:.3f}, {tm.velocity[1]:.3f}) fw/s" for tm in tms)
    rep.each("direction", direction, dirs, [d == direction for d in dirs], note)


def _check_rate(
    rep: _GroupReport,
    speed_word: str,
    motion: str,
    trs: list[ObjectTrack],
    tms: list[TrackMotion],
    rate: float,
    static: bool,
) -> None:
    """The rate of the motion ("speed"): translation, rise, spin or orbit against the expected."""
    unit = "turn/s" if motion in ("spin", "circle") else "fw/s"
    exp_rate = _BASE_RATES[motion] * rate
    vals: list[float | None] = []
    for tr, tm in zip(trs, tms):
        if motion == "move":
            v = math.hypot(*tm.velocity) if static else None
        elif motion == "rise":
            v = -tm.velocity[1] if static else None
        elif motion == "spin":
            v = abs(tm.spin) if tm.spin is not None and tr.shape != "circle" else None
        else:
            v = abs(tm.orbit) if tm.orbit is not None and static else None
            if v is None and static and tm.motion != "circle":
                v = 0.0
        vals.append(v)
    matches = [
        None if v is None else RATE_TOLERANCE[0] <= v / exp_rate <= RATE_TOLERANCE[1] for v in vals
    ]
    note = f"expected {exp_rate:.3f} {unit}"
    if None in matches:
        note += "; not measurable here (moving camera or a spinning disc)"
    rep.each("speed", speed_word, [_r(v) for v in vals], matches, note)


def _check_gravity(rep: _GroupReport, motion: str, tms: list[TrackMotion], rate: float) -> None:
    """Gravity of the flight arcs and the floor contacts (a bounce rebounds, a fall does not)."""
    g_exp = GRAVITY_FW * rate
    gs = [tm.gravity for tm in tms]
    matches = [None if v is None else abs(v / g_exp - 1) <= GRAVITY_TOLERANCE for v in gs]
    rep.each(
        "gravity",
        round(g_exp, 3),
        [_r(v) for v in gs],
        matches,
        f"fw/s^2 from {', '.join(str(tm.gravity_n) for tm in tms)} frame triples",
    )
    cs = [tm.contacts for tm in tms]
    if motion == "bounce":
        cm = [tm.contacts >= 1 and tm.rebound >= MIN_REBOUND for tm in tms]
        exp_c: Any = f">= 1, rebounding >= {MIN_REBOUND} fw"
    else:
        cm = [tm.contacts >= 1 and tm.rebound < FALL_REBOUND for tm in tms]
        exp_c = f">= 1, rebounding < {FALL_REBOUND} fw"
    rep.each("contacts", exp_c, cs, cm, "floor contacts seen in the height track")


def _check_size_change(rep: _GroupReport, motion: str, tms: list[TrackMotion]) -> None:
    rs = [tm.size_ratio for tm in tms]
    lo, hi = (1.6, 2.5) if motion == "grow" else (0.4, 0.625)
    rep.each(
        "size_change",
        2.0 if motion == "grow" else 0.5,
        [_r(v) for v in rs],
        [lo <= v <= hi for v in rs],
        "end / start diameter over the clip",
    )


def _check_consistency(rep: _GroupReport, motion: str | None, trs: list[ObjectTrack]) -> None:
    """Temporal consistency: the object stays, keeps its colour and (unless growing) its size."""
    vals, matches = [], []
    for tr in trs:
        presence = float(tr.seen.mean())
        cv = 0.0
        if motion not in ("grow", "shrink"):
            d = tr.diameter[tr.whole & np.isfinite(tr.diameter)]
            cv = float(np.std(d) / np.mean(d)) if len(d) >= 2 else 0.0
        vals.append({"presence": round(presence, 3), "size_cv": round(cv, 3)})
        matches.append(presence >= 0.9 and cv <= 0.12)
    rep.each("consistency", {"presence": ">= 0.9", "size_cv": "<= 0.12"}, vals, matches)
