"""Audio-visual sync checker: visual events found in the frames against onsets in the audio.

Measures the AV offset analytically, the quantity SyncNet-style "AV offset" metrics estimate
with a learned model: each visual event (floor bounce, landing, collision) is placed between
frames by fitting the tracked object's trajectory (piecewise parabolas between floor contacts,
two straight segments of its horizontal path meeting at a collision), and each audio onset is
located to the sample by a band energy-ratio detector refined with an AIC change-point picker
(Maeda 1985). Objects are found by the world's colours (vocab.COLOURS) and followed with
coverage-weighted centroids, good to about 0.1 px on 64 px frames.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import ndimage, optimize, signal

from avgen.errors import AvgenError
from avgen.vocab import COLOURS

DEFAULT_TOLERANCE_MS = 40.0
CORE_DIST = 42.0  # RGB distance under which a pixel counts as the object's colour
MAX_MATCH_S = 0.25  # an audio onset further than this from a visual event is not its sound
KINK_MIN_PX = 0.12  # a contact bends the track this far from a smooth parabola (px rms) ...
KINK_RATIO = 2.5  # ... and by this many times the bounce model's own misfit there
SIDE_KINK_MIN_FW = 0.08  # fw/s: smaller changes of horizontal speed are not collisions


# ----------------------------------------------------------------------------- tracking


@dataclass
class Track:
    """One object followed through the clip: sub-pixel centre (x, y) per frame, NaN if unseen."""

    colour: str
    centres: np.ndarray  # (F, 2) float64, pixels
    areas: np.ndarray  # (F,) float64, pixels (coverage-weighted)

    @property
    def valid(self) -> np.ndarray:
        return np.isfinite(self.centres[:, 0])


def _colour_candidates(expected: dict | None) -> list[str]:
    names = []
    for obj in (expected or {}).get("objects") or []:
        c = obj.get("colour") if isinstance(obj, dict) else None
        if c in COLOURS and c not in names:
            names.append(c)
    return names or list(COLOURS)


def _centroid(
    frame: np.ndarray,
    comp: np.ndarray,
    rgb: np.ndarray,
    other_core: np.ndarray,
    bg_static: np.ndarray,
) -> tuple[float, float, float]:
    """Coverage-weighted centre of one component.

    A pixel's coverage is where its colour lies between the background's and the object's.
    The background is the pixel's own colour in the frames the object is away (``bg_static``,
    NaN where the scene moves there or is never seen free), else the median of the ring of
    pixels around the object in the same row (backgrounds are mostly horizontal bands).
    """
    H, W = comp.shape
    ys, xs = np.nonzero(comp)
    y0, y1 = max(0, ys.min() - 5), min(H, ys.max() + 6)
    x0, x1 = max(0, xs.min() - 5), min(W, xs.max() + 6)
    m = comp[y0:y1, x0:x1]
    px = frame[y0:y1, x0:x1]  # (h, w, 3)
    other = other_core[y0:y1, x0:x1]
    inner = ndimage.binary_dilation(m, iterations=2)
    outer = ndimage.binary_dilation(inner, iterations=2) & ~inner & ~other
    region = inner & ~other
    ry, rx = np.nonzero(region)
    p = px[ry, rx]
    bg = bg_static[y0:y1, x0:x1][ry, rx]  # (n, 3), NaN where unknown
    unknown = ~np.isfinite(bg[:, 0])
    if unknown.any():
        if not outer.any():
            return _weighted_centre(m[ry, rx].astype(np.float64), rx + x0, ry + y0)
        # the scene moves here: take the nearest free pixel to the left or right in the same
        # row, on the pixel's own side (scenes are horizontal bands with local structure)
        glob = np.median(px[outer], axis=0)
        cx = float(np.nonzero(m)[1].mean())
        left = np.tile(glob, (m.shape[0], 1)).astype(np.float32)
        right = left.copy()
        for r in range(m.shape[0]):
            occupied = np.nonzero(inner[r])[0]
            free = np.nonzero(~inner[r] & ~other[r])[0]
            if len(occupied) == 0 or len(free) == 0:
                continue
            lf, rf = free[free < occupied.min()], free[free > occupied.max()]
            if len(lf):
                left[r] = px[r, lf.max()]
            if len(rf):
                right[r] = px[r, rf.min()]
            if not len(lf) and len(rf):
                left[r] = right[r]
            if not len(rf) and len(lf):
                right[r] = left[r]
        side = np.where((rx < cx)[:, None], left[ry], right[ry])
        bg = np.where(unknown[:, None], side, bg)
    ob = rgb[None, :] - bg  # (n, 3)
    n2 = (ob * ob).sum(-1)
    alpha = ((p - bg) * ob).sum(-1) / np.maximum(n2, 1.0)
    resid = np.linalg.norm(p - bg - alpha[:, None] * ob, axis=-1)
    ok = (n2 > 30.0**2) & (resid < 0.35 * np.sqrt(n2) + 12.0)
    w = np.where(ok, np.clip(alpha, 0.0, 1.0), m[ry, rx].astype(np.float64))
    return _weighted_centre(w, rx + x0, ry + y0)


def _weighted_centre(w: np.ndarray, x: np.ndarray, y: np.ndarray) -> tuple[float, float, float]:
    tot = float(w.sum())
    if tot <= 0:
        return math.nan, math.nan, 0.0
    return float((w * (x + 0.5)).sum() / tot), float((w * (y + 0.5)).sum() / tot), tot


def _nan_median0(x: np.ndarray) -> np.ndarray:
    """Median over axis 0 ignoring NaN (NaN where all are NaN); faster than np.nanmedian."""
    srt = np.sort(x, axis=0)  # NaN sort last
    cnt = (~np.isnan(x)).sum(0)
    lo = np.maximum((cnt - 1) // 2, 0)[None]
    hi = np.maximum(cnt // 2, 0)[None]
    hi = np.minimum(hi, x.shape[0] - 1)
    med = 0.5 * (np.take_along_axis(srt, lo, 0)[0] + np.take_along_axis(srt, hi, 0)[0])
    return np.where(cnt > 0, med, np.nan)


def _static_background(frames: np.ndarray, objects: np.ndarray) -> np.ndarray:
    """Each pixel's colour over the frames where no object covers it; NaN where it moves."""
    F = frames.shape[0]
    near = ndimage.binary_dilation(objects, structure=np.ones((1, 5, 5), bool))  # (F, H, W)
    free = (~near).sum(0)
    stack = np.where(near[..., None], np.nan, frames)
    bg = _nan_median0(stack)  # (H, W, 3)
    spread = _nan_median0(np.abs(stack - bg[None])).max(-1)  # (H, W)
    bad = (free < max(2, F // 10)) | ~(spread <= 4.0)
    bg[bad] = np.nan
    return bg.astype(np.float32)


def track_objects(frames: np.ndarray, colours: list[str] | None = None) -> list[Track]:
    """Follow every object of the given (default: all world) colours through the frames."""
    F, H, W, _ = frames.shape
    fr = frames.astype(np.float32)
    names = colours or list(COLOURS)
    min_area = max(4.0, 0.0015 * H * W)
    cores = {}
    for name in names:
        rgb = np.asarray(COLOURS[name].rgb, np.float32)
        core = np.linalg.norm(fr - rgb, axis=-1) < CORE_DIST  # (F, H, W)
        if core.reshape(F, -1).sum(1).max() >= min_area:
            cores[name] = core
    any_core = np.zeros((F, H, W), bool)
    for core in cores.values():
        any_core |= core
    bg_static = _static_background(fr, any_core)
    tracks: list[Track] = []
    eight = np.ones((3, 3), bool)
    for name, core in cores.items():
        rgb = np.asarray(COLOURS[name].rgb, np.float32)
        comps_per_frame = []
        for f in range(F):
            lab, n = ndimage.label(core[f], structure=eight)
            comps = []
            if n:
                sizes = ndimage.sum_labels(np.ones_like(lab), lab, index=np.arange(1, n + 1))
                for k in np.nonzero(sizes >= min_area)[0]:
                    comps.append(lab == k + 1)
            comps_per_frame.append(comps)
        counts = np.array([len(c) for c in comps_per_frame])
        if (counts > 0).sum() < max(3, 0.2 * F):
            continue
        n_obj = int(np.bincount(counts[counts > 0]).argmax())
        n_obj = max(1, min(3, n_obj))
        centres = np.full((n_obj, F, 2), np.nan)
        areas = np.zeros((n_obj, F))
        last = None
        for f in range(F):
            comps = comps_per_frame[f]
            if not comps:
                continue
            other = any_core[f] & ~core[f]
            meas = [_centroid(fr[f], c, rgb, other, bg_static) for c in comps]
            meas = [m for m in meas if np.isfinite(m[0])]
            if not meas:
                continue
            pts = np.array([[m[0], m[1]] for m in meas])
            if last is None:
                if len(meas) < n_obj:
                    continue
                order = np.argsort(pts[:, 0])[:n_obj]
                for j, k in enumerate(order):
                    centres[j, f], areas[j, f] = pts[k], meas[k][2]
                last = centres[:, f].copy()
                continue
            if len(meas) < n_obj and n_obj > 1:
                continue  # objects of one colour touch: leave the frame out
            cost = np.linalg.norm(last[:, None, :] - pts[None, :, :], axis=-1)
            rows, cols = optimize.linear_sum_assignment(cost)
            for j, k in zip(rows, cols):
                centres[j, f], areas[j, f] = pts[k], meas[k][2]
                last[j] = pts[k]
        for j in range(n_obj):
            tracks.append(Track(name, centres[j], areas[j]))
    return tracks


# ----------------------------------------------------------------------------- visual events


def _arc_heights(t: np.ndarray, g: float, v_in: float, tc: np.ndarray, v_out: float | None):
    """Height above the floor at times t, given the contact times (the arcs in between follow)."""
    h = np.zeros_like(t)
    before = t < tc[0]
    s = tc[0] - t[before]
    h[before] = v_in * s - 0.5 * g * s * s
    k = np.searchsorted(tc, t, side="right") - 1  # index of the last contact before t
    mid = (k >= 0) & (k < len(tc) - 1)
    km = k[mid]
    h[mid] = 0.5 * g * (t[mid] - tc[km]) * (tc[km + 1] - t[mid])
    if v_out is not None:
        after = k == len(tc) - 1
        s = t[after] - tc[-1]
        h[after] = v_out * s - 0.5 * g * s * s
    return h


def _open_arc_cost(s: np.ndarray, h: np.ndarray, g: float) -> float:
    """Least-squares cost of h = v s - g/2 s^2 with the best v >= 0 (one free flight)."""
    if len(s) == 0:
        return 0.0
    r = h + 0.5 * g * s * s
    v = max(0.0, float((r * s).sum() / max(float((s * s).sum()), 1e-12)))
    return float(((r - v * s) ** 2).sum())


def _open_arc_costs(s: np.ndarray, h: np.ndarray, g: float) -> np.ndarray:
    """``_open_arc_cost`` for each row of s (q, n): one free flight per candidate time."""
    r = h[None, :] + 0.5 * g * s * s
    v = np.maximum(0.0, (r * s).sum(1) / np.maximum((s * s).sum(1), 1e-12))
    return ((r - v[:, None] * s) ** 2).sum(1)


def _contact_dp(
    t: np.ndarray, h: np.ndarray, g: float, dt: float, penalty: float, step: float = 0.004
) -> tuple[list[float], float, bool]:
    """Best floor-contact times on a fine grid, by dynamic programming over the frame gaps.

    Heights h (above the floor) are explained by: a free arc into the first contact, one
    parabola of curvature g between consecutive contacts (pinned to the floor at both ends),
    then either rest or a free arc to the end. Each contact costs ``penalty`` (px^2), so the
    model finds the number of contacts too. At most one contact falls in a frame gap.
    Returns (contacts, cost, rests).
    """
    n = len(t)
    h_max = max(float(h.max()), 0.0)
    v_max = math.sqrt(2 * g * h_max) if g > 0 else 0.0
    t_max = 2 * v_max / max(g, 1e-9) + 2 * dt
    gaps = [
        i
        for i in range(n - 1)
        if min(h[i], h[i + 1]) <= v_max * (t[i + 1] - t[i]) + 1.0 and max(h[i], h[i + 1]) > -1.5
    ]
    if not gaps:
        return [], math.inf, False
    q = max(2, int(math.ceil(dt / step)))
    grids = {i: t[i] + (t[i + 1] - t[i]) * (np.arange(q) + 0.5) / q for i in gaps}
    best: dict[int, np.ndarray] = {}
    back: dict[int, tuple[np.ndarray, np.ndarray]] = {}  # gap -> (previous gap, its grid index)
    for p in gaps:
        c2 = grids[p]
        # start: a free arc from the first frame into this contact
        cand = _open_arc_costs(c2[:, None] - t[None, : p + 1], h[: p + 1], g) + penalty
        src = np.full(q, -1)
        prev = np.full(q, -1)
        for r in gaps:
            if r >= p:
                break
            c1 = grids[r]
            if c2[0] - c1[-1] > t_max:
                continue
            tj = t[r + 1 : p + 1]
            hj = h[r + 1 : p + 1]
            pred = 0.5 * g * (tj[None, None, :] - c1[:, None, None])
            pred = pred * (c2[None, :, None] - tj[None, None, :])  # (q from, q to, n)
            tot = best[r][:, None] + ((hj - pred) ** 2).sum(-1) + penalty  # (q, q)
            li = tot.argmin(0)
            val = tot[li, np.arange(q)]
            better = val < cand
            src = np.where(better, r, src)
            prev = np.where(better, li, prev)
            cand = np.where(better, val, cand)
        best[p] = cand
        back[p] = (src, prev)
    # end: rest on the floor or a free arc to the last frame
    total = math.inf
    end = None
    for p in gaps:
        tail_t, tail_h = t[p + 1 :], h[p + 1 :]
        rest_cost = float((tail_h**2).sum())
        for k, c in enumerate(grids[p]):
            open_cost = _open_arc_cost(tail_t - c, tail_h, g)
            tot = best[p][k] + min(rest_cost, open_cost)
            if tot < total:
                total, end = tot, (p, k, rest_cost <= open_cost and len(tail_t) >= 2)
    if end is None:
        return [], math.inf, False
    p, k, rests = end
    contacts = [float(grids[p][k])]
    while back[p][0][k] >= 0:
        p, k = int(back[p][0][k]), int(back[p][1][k])
        contacts.append(float(grids[p][k]))
    return contacts[::-1], total, rests


def _refine(t, y, y_f, g, contacts, rests):
    """Continuous least-squares refinement of floor, gravity and contact times."""
    K = len(contacts)
    tc = np.asarray(contacts, float)
    pre = t < tc[0]
    s = tc[0] - t[pre]
    v_in = float(((y_f - y[pre] + 0.5 * g * s * s) * s).sum() / max((s * s).sum(), 1e-9))
    post = t >= tc[-1]
    s = t[post] - tc[-1]
    v_out = float(((y_f - y[post] + 0.5 * g * s * s) * s).sum() / max((s * s).sum(), 1e-9))

    def resid(p: np.ndarray) -> np.ndarray:
        return (
            p[0] - _arc_heights(t, p[1], p[2], np.sort(p[3 : 3 + K]), None if rests else p[-1]) - y
        )

    p0 = np.array([y_f, g, v_in, *tc] + ([] if rests else [v_out]))
    res = optimize.least_squares(resid, p0, method="trf", x_scale="jac")
    ok = res.cost <= 0.5 * float((resid(p0) ** 2).sum()) + 1e-12
    p = res.x if ok else p0
    r = resid(p)
    return float(p[0]), float(p[1]), np.sort(p[3 : 3 + K]), r


def _is_kink(t: np.ndarray, y: np.ndarray, resid: np.ndarray, c: float, dt: float) -> bool | None:
    """Whether the track really turns sharply at c.

    A parabola of free curvature through the frames around c must fit clearly worse than the
    bounce model (a circling object's lowest point is smooth, a bounce is a corner), and there
    must be frames on both sides to tell (None: too near the clip's start or end).
    """
    near = np.abs(t - c) <= 2.5 * dt
    if (t[near] < c).sum() < 2 or (t[near] > c).sum() < 2:
        return None
    tn = (t[near] - c) / dt
    coef = np.polyfit(tn, y[near], 2)
    smooth = float(np.sqrt(np.mean((np.polyval(coef, tn) - y[near]) ** 2)))
    model = float(np.sqrt(np.mean(resid[near] ** 2)))
    return smooth >= max(KINK_MIN_PX, KINK_RATIO * model)


def _gravity_guess(t: np.ndarray, y: np.ndarray, dt: float) -> float | None:
    """Curvature of the free flights: parabolas fitted to the runs of frames between lows."""
    d2 = y[2:] - 2 * y[1:-1] + y[:-2]  # second differences: ~ g dt^2 in flight
    flight = d2 > 0.2
    if flight.sum() < 2:
        return None
    lows = [i for i in range(1, len(y) - 1) if y[i] >= y[i - 1] and y[i] >= y[i + 1]]
    edges = [-1, *lows, len(y)]
    curv, weight = [], []
    for a, b in zip(edges[:-1], edges[1:]):
        idx = np.arange(a + 1, b)
        if len(idx) >= 4 and np.ptp(y[idx]) > 1.0:
            coef = np.polyfit(t[idx] - t[idx].mean(), y[idx], 2)
            curv.append(2 * coef[0])
            weight.append(len(idx))
    if curv and max(curv) > 0:
        curv, weight = np.array(curv), np.array(weight)
        keep = curv > 0
        return float(np.average(curv[keep], weights=weight[keep]))
    return float(np.median(d2[flight]) / dt**2)


def _floor_guess(t: np.ndarray, y: np.ndarray, g: float) -> float:
    """Floor level from the sharpest lows: where the parabolas before and after them meet."""
    n = len(t)
    est = []
    for i in np.argsort(-y)[:6]:
        if i < 2 or i > n - 3 or not (y[i] >= y[i - 1] and y[i] >= y[i + 1]):
            continue
        sides = []
        for j in ((i - 2, i - 1), (i + 1, i + 2)):
            ta, tb = t[j[0]], t[j[1]]
            ya, yb = y[j[0]] - 0.5 * g * ta * ta, y[j[1]] - 0.5 * g * tb * tb
            b = (yb - ya) / (tb - ta)
            sides.append((b, ya - b * ta))  # y = g/2 t^2 + b t + c
        (b1, c1), (b2, c2) = sides
        if abs(b1 - b2) < 1e-9:
            continue
        tc = (c2 - c1) / (b1 - b2)
        if t[i - 1] <= tc <= t[i + 1]:
            est.append(0.5 * g * tc * tc + b1 * tc + c1)
    return float(np.median(est)) if est else float(np.max(y))


def _fit_bounces(t: np.ndarray, y: np.ndarray, dt: float, height: int) -> list[dict]:
    """Floor contacts of one track from its y(t) (screen y grows downward).

    Between contacts the object flies on parabolas of one curvature g that leave and meet the
    floor y_f, so the contact times fix every arc. Contacts are placed by dynamic programming
    on a 4 ms grid (global, so small late bounces spanning two frames are found), then floor,
    gravity and contact times are refined together by least squares; repeated until floor
    and gravity settle. Contacts must be corners (see ``_is_kink``).
    """
    n = len(t)
    if n < 5 or np.ptp(y) < 1.0:
        return []
    g = _gravity_guess(t, y, dt)
    if g is None:
        return []
    y_low = float(np.max(y))
    if (np.abs(y[-3:] - y_low) < 0.3).all():
        y_f = float(np.median(y[-3:]))  # at rest at the end: that is the floor
    else:
        y_f = max(y_low, _floor_guess(t, y, g))
    penalty = 0.3
    best = None
    for _ in range(5):  # until floor, gravity and the number of contacts settle
        g_before, y_f_before = g, y_f
        contacts, _cost, rests = _contact_dp(t, y_f - y, g, dt, penalty)
        if not contacts or g <= 0:
            break
        try:
            for _merge in range(5):
                y_f, g, tc, r = _refine(t, y, y_f, g, contacts, rests)
                rms = float(np.sqrt(np.mean(r**2)))
                short = np.nonzero(np.diff(tc) < 0.5 * dt)[0]
                if len(short) == 0:
                    break
                k = int(short[0])  # an arc too short to be seen: one contact, not two
                contacts = [*tc[:k], 0.5 * (tc[k] + tc[k + 1]), *tc[k + 2 :]]
        except (ValueError, np.linalg.LinAlgError):
            break
        if best is None or rms < best[1]:
            best = (tc, rms, y_f, g, rests, r)
        if abs(g - g_before) < 0.01 * abs(g_before) and abs(y_f - y_f_before) < 0.05:
            break
    if best is None:
        return []
    tc, rms, y_f, g, rests, r = best
    # a bounce model must explain the track well and fall the right way
    if g <= 0 or rms > 0.6 + 0.01 * height:
        return []
    kinks = [_is_kink(t, y, r, c, dt) for c in tc]
    if not any(kinks):
        return []  # no corner anywhere: a smooth path, not a bouncing object
    # contacts too near the clip's ends to test are kept once the track has shown real ones
    tc = np.array([c for c, k in zip(tc, kinks) if k is not False])
    if not rests:
        # the object may reach the floor between the last two frames
        tail = t > tc[-1]
        if tail.sum() >= 2:
            s = t[tail] - tc[-1]
            r = y_f - y[tail] + 0.5 * g * s * s
            v = float((r * s).sum() / (s * s).sum())
            root = tc[-1] + 2 * v / g
            if t[-2] < root <= t[-1] and abs(y[-1] - y_f) < 1.0:
                tc = np.append(tc, root)
    tc = tc[(tc > t[0]) & (tc <= t[-1])]  # contacts outside the frames are not seen
    out = [{"t": float(x), "kind": "bounce", "fit_rms_px": round(rms, 3)} for x in tc]
    if out and y[0] < y_f - 0.3 * height and abs(y[1] - y[0]) < 0.5 * g * dt * dt + 0.5:
        out[0]["kind"] = "landing"  # fell from (near) rest at the start
    return out


def _corner_fit(
    t: np.ndarray, x: np.ndarray, lo: float, hi: float
) -> tuple[float, float, float, float]:
    """Two straight segments meeting at c in [lo, hi] (1 ms grid): c, rms, speeds before, after."""
    best = (lo, math.inf, 0.0, 0.0)
    for c in np.arange(lo, hi + 5e-4, 0.001):
        s = t - c
        A = np.stack([np.ones_like(s), np.where(s < 0, s, 0.0), np.where(s >= 0, s, 0.0)], 1)
        coef, *_ = np.linalg.lstsq(A, x, rcond=None)
        rms = float(np.sqrt(np.mean((A @ coef - x) ** 2)))
        if rms < best[1]:
            best = (float(c), rms, float(coef[1]), float(coef[2]))
    return best


def _side_kinks(t: np.ndarray, x: np.ndarray, dt: float, width: int) -> list[dict]:
    """Sudden changes of horizontal velocity (a collision with a wall or another object).

    Between collisions x(t) is a straight line (gravity acts on y, floors have no friction), so
    a collision is a corner: two lines meeting at the collision time, fitted on a 1 ms grid
    between the frames around it; a smooth parabola must fit those frames clearly worse.
    """
    n = len(t)
    if n < 5:
        return []
    d2 = x[2:] - 2 * x[1:-1] + x[:-2]  # (n - 2,) ~ 0 on a straight line
    strength = np.abs(d2[:-1] + d2[1:]) if n > 5 else np.abs(d2)
    min_jump = SIDE_KINK_MIN_FW * width * dt  # px per frame of velocity change
    out: list[dict] = []
    order = np.argsort(-strength)
    used = np.zeros(len(strength), bool)
    for i in order:
        if strength[i] < min_jump or used[max(0, i - 2) : i + 3].any():
            continue
        used[i] = True
        lo, hi = t[i], t[min(i + 2, n - 1)]  # the corner lies between frames i and i + 2
        near = np.abs(t - 0.5 * (lo + hi)) <= 3.0 * dt
        if (t[near] < lo + 0.5 * dt).sum() < 2 or (t[near] > hi - 0.5 * dt).sum() < 2:
            continue
        c, rms, v1, v2 = _corner_fit(t[near], x[near], lo, hi)
        jump = v2 - v1
        tn = (t[near] - c) / dt
        coef = np.polyfit(tn, x[near], 2)
        smooth = float(np.sqrt(np.mean((np.polyval(coef, tn) - x[near]) ** 2)))
        if abs(jump) * dt >= min_jump and smooth >= max(KINK_MIN_PX, KINK_RATIO * rms):
            stops = abs(v2) < 0.25 * abs(v1)
            out.append({"t": c, "kind": "collision", "jump_px_s": round(jump, 2), "stops": stops})
    return sorted(out, key=lambda e: e["t"])


def visual_events(frames: np.ndarray, fps: float, expected: dict | None = None) -> list[dict]:
    """Bounces, landings and collisions found in the frames, each with its time in seconds.

    Floor contacts come from each object's height (piecewise parabolas); collisions from
    corners in its horizontal path. A stop at the moment an object lands is that landing,
    and corners of two objects within a frame are one collision.
    """
    frames = np.asarray(frames)
    F, H, W = frames.shape[:3]
    dt = 1.0 / float(fps)
    t_all = np.arange(F) * dt
    colours = _colour_candidates(expected)
    tracks = track_objects(frames, colours)
    if not tracks and len(colours) < len(COLOURS):
        tracks = track_objects(frames)  # the prompt's colours are not there: look for any
    events: list[dict] = []
    side: list[dict] = []
    for j, tr in enumerate(tracks):
        ok = tr.valid
        if ok.sum() < 5:
            continue
        floor = _fit_bounces(t_all[ok], tr.centres[ok, 1], dt, H)
        for ev in floor:
            events.append({**ev, "object": j, "colour": tr.colour})
        for ev in _side_kinks(t_all[ok], tr.centres[ok, 0], dt, W):
            # stopping as it lands is the landing, already found
            if not (ev.pop("stops") and any(abs(ev["t"] - f["t"]) <= 1.5 * dt for f in floor)):
                side.append({**ev, "object": j, "colour": tr.colour})
    side.sort(key=lambda e: e["t"])
    merged: list[dict] = []
    for ev in side:
        last = merged[-1] if merged else None
        if last is not None and ev["t"] - last["t"] <= dt and ev["object"] not in last["objects"]:
            last["t"] = 0.5 * (last["t"] + ev["t"])
            last["objects"].append(ev["object"])
            last["colour"] = f"{last['colour']}+{ev['colour']}"
            continue
        merged.append({**ev, "objects": [ev["object"]]})
    events.extend(merged)
    events.sort(key=lambda e: e["t"])
    return events


# ----------------------------------------------------------------------------- audio onsets


def _aic_pick(x: np.ndarray) -> int:
    """Sample index where x changes from quiet to loud, by the AIC change-point criterion."""
    n = len(x)
    if n < 8:
        return n // 2
    x = x.astype(np.float64)
    c1 = np.cumsum(x * x)
    k = np.arange(1, n - 1)
    v1 = c1[k - 1] / k
    v2 = (c1[-1] - c1[k - 1]) / (n - k)
    aic = k * np.log(v1 + 1e-20) + (n - k) * np.log(v2 + 1e-20)
    return int(k[np.argmin(aic)])


ATTACK_FRACTION = 0.4
MIN_ONSET_GAP_S = 0.012  # closer onsets are one sound
LOOKBACK_HIGH_MS = 10


def _sharpen(x: np.ndarray, k: int, sr: int) -> int:
    """Move an onset to the first sample whose level reaches ATTACK_FRACTION of the attack peak.

    Lossy codecs (AAC) smear a little energy into the milliseconds before an attack
    ("pre-echo"), which a change-point pick takes for the onset; the attack itself is loud.
    """
    ms = sr // 1000
    a, b = max(0, k - 12 * ms), min(len(x), k + 15 * ms)
    if b - a < 4:
        return k
    seg = np.abs(x[a:b])
    peak = float(seg[k - a :].max()) if k < b else 0.0
    bg = x[max(0, k - 45 * ms) : a]
    floor = 3.0 * float(np.sqrt(np.mean(bg * bg))) if len(bg) else 0.0
    thr = max(ATTACK_FRACTION * peak, floor)
    if thr <= 0 or thr >= peak:
        return k
    return a + int(np.argmax(seg >= thr))


# (low Hz, high Hz, energy window ms, look-back ms): short windows where sounds decay fast
_BANDS = (
    (30.0, 200.0, 10, 30),
    (200.0, 800.0, 5, 20),
    (800.0, 3000.0, 5, LOOKBACK_HIGH_MS),
    (3000.0, 7500.0, 5, LOOKBACK_HIGH_MS),
)


def _band_energy(x: np.ndarray, sr: int, lo: float, hi: float, hop: int, win: int) -> np.ndarray:
    hi = min(hi, 0.45 * sr)
    if lo >= hi:
        return np.zeros(0)
    sos = signal.butter(2, [lo, hi], btype="bandpass", fs=sr, output="sos")
    y = signal.sosfilt(sos, x)
    c = np.concatenate([[0.0], np.cumsum(y * y)])
    starts = np.arange(0, len(x) - win + 1, hop)
    return (c[starts + win] - c[starts]) / win


def audio_onsets(audio: np.ndarray, sr: int, *, threshold_db: float = 9.0) -> list[dict]:
    """Sharp onsets in a waveform, located to the sample: [{"t": s, "strength_db": dB}].

    Onset function: in each of four bands, the energy of a short window (1 ms hop) against
    the mean of the 30 ms before it; the strongest band rise marks a candidate, and an AIC
    change-point pick on the raw samples places it to the sample.
    """
    x = np.asarray(audio, np.float64)
    if x.ndim == 2:
        x = x.mean(axis=1) if x.shape[1] <= 8 else x.mean(axis=0)
    hop = max(1, int(round(sr * 0.001)))  # 1 ms
    if len(x) < 60 * hop:
        return []
    ratios = []
    wins = []
    n = None
    backs = []
    for lo, hi, win_ms, back_ms in _BANDS:
        win = win_ms * hop
        e = _band_energy(x, sr, lo, hi, hop, win)
        if len(e) == 0:
            continue
        n = len(e) if n is None else min(n, len(e))
        ratios.append(e)
        wins.append(win)
        backs.append(back_ms)
    if not ratios or n is None:
        return []
    total = sum(float(e.max()) for e in ratios)
    floor = total * 10 ** (-55 / 10)
    ratio_db = np.full(n, -np.inf)
    band = np.zeros(n, int)
    for bi, e in enumerate(ratios):
        e = e[:n] + 1e-15
        cs = np.concatenate([[0.0], np.cumsum(e)])
        idx = np.arange(n)
        lo_i = np.clip(idx - 3 - backs[bi], 0, n)
        hi_i = np.clip(idx - 3, 0, n)
        past = np.where(hi_i > lo_i, (cs[hi_i] - cs[lo_i]) / np.maximum(hi_i - lo_i, 1), e[0])
        r = 10 * np.log10(e / (past + floor))
        r[e < floor] = -np.inf
        band = np.where(r > ratio_db, bi, band)
        ratio_db = np.maximum(ratio_db, r)
    above = ratio_db > threshold_db
    onsets: list[dict] = []
    i = 0
    while i < n:
        if not above[i]:
            i += 1
            continue
        j = i
        while j + 1 < n and above[j + 1]:
            j += 1
        k = i + int(np.argmax(ratio_db[i : j + 1]))
        strength = float(ratio_db[k])
        # the onset entered the window of the band that rose first between i and i + win
        a = max(0, (i - 3) * hop)
        b = min(len(x), i * hop + wins[band[i]] + 3 * hop)
        t = _sharpen(x, a + _aic_pick(x[a:b]), sr) / sr
        if onsets and t - onsets[-1]["t"] < MIN_ONSET_GAP_S:
            if strength > onsets[-1]["strength_db"]:
                onsets[-1] = {"t": t, "strength_db": strength}
        else:
            onsets.append({"t": t, "strength_db": strength})
        i = j + 1
    return onsets


# ----------------------------------------------------------------------------- the checker


def check_av_sync(
    frames: np.ndarray,
    fps: float,
    audio: np.ndarray,
    sr: int,
    expected: dict | None = None,
) -> dict:
    """Offset in ms between each visual event and the nearest audio onset.

    ``expected`` may hold ``tolerance_ms`` (default 40), ``objects`` (their colours narrow the
    tracking) and ``events`` (the true events [{"t": s, ...}], to count missed and false ones).
    Returns {"sync": {...}, "events": {...}} in the checker format (expected / measured / match
    / measurable / note); ``sync.measured`` lists per event the visual time, audio time and
    offset, and summarises median and max |offset|.
    """
    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.shape[0] < 1:
        raise AvgenError(f"frames must be (F, H, W, 3) with F >= 1, got shape {frames.shape}.")
    if not (isinstance(fps, int | float | np.number) and 0 < fps <= 1000):
        raise AvgenError(f"fps must be a number above 0 and at most 1000, got {fps!r}.")
    audio = np.asarray(audio)
    if audio.ndim not in (1, 2) or audio.size == 0:
        raise AvgenError(
            f"audio must be a non-empty (T,) or (C, T) array, got shape {audio.shape}."
        )
    if isinstance(sr, bool) or not isinstance(sr, int | np.integer) or not 1000 <= sr <= 384000:
        raise AvgenError(f"sr must be a whole number of Hz from 1000 to 384000, got {sr!r}.")
    expected = expected or {}
    tol = float(expected.get("tolerance_ms") or DEFAULT_TOLERANCE_MS)
    vis = visual_events(frames, fps, expected)
    ons = audio_onsets(audio, sr)
    on_t = np.array([o["t"] for o in ons])
    rows = []
    for ev in vis:
        row = {
            "kind": ev["kind"],
            "colour": ev.get("colour"),
            "visual_t": round(ev["t"], 4),
            "audio_t": None,
            "offset_ms": None,
        }
        if len(on_t):
            k = int(np.argmin(np.abs(on_t - ev["t"])))
            if abs(on_t[k] - ev["t"]) <= MAX_MATCH_S:
                row["audio_t"] = round(float(on_t[k]), 4)
                row["offset_ms"] = round(1000.0 * (on_t[k] - ev["t"]), 1)
        rows.append(row)
    offs = np.array([abs(r["offset_ms"]) for r in rows if r["offset_ms"] is not None])
    unmatched = sum(r["offset_ms"] is None for r in rows)
    measurable = len(rows) > 0
    in_sync = bool(measurable and unmatched == 0 and (offs <= tol).all()) if measurable else None
    summary = {
        "events": rows,
        "n_visual_events": len(rows),
        "n_audio_onsets": len(ons),
        "n_unmatched": unmatched,
        "median_abs_offset_ms": round(float(np.median(offs)), 1) if len(offs) else None,
        "max_abs_offset_ms": round(float(offs.max()), 1) if len(offs) else None,
        "in_sync": in_sync,
    }
    out = {
        "sync": {
            "expected": {"tolerance_ms": tol},
            "measured": summary,
            "match": in_sync,
            "measurable": measurable,
        }
    }
    if not measurable:
        out["sync"]["note"] = "no bounce, landing or collision is visible in the frames"
    truth = expected.get("events")
    if truth is not None:
        out["events"] = _compare_events(vis, truth, fps)
    return out


def _compare_events(vis: list[dict], truth: list[dict], fps: float) -> dict:
    """Match found visual events to the true ones (within one frame) and report the errors."""
    found = sorted(e["t"] for e in vis)
    true_t = sorted(float(e["t"]) for e in truth)
    used = set()
    errors = []
    for tt in true_t:
        best, bi = None, None
        for i, ft in enumerate(found):
            if i in used:
                continue
            if abs(ft - tt) <= 1.0 / fps and (best is None or abs(ft - tt) < best):
                best, bi = abs(ft - tt), i
        if bi is not None:
            used.add(bi)
            errors.append(round(1000.0 * (found[bi] - tt), 2))
        else:
            errors.append(None)
    missed = sum(e is None for e in errors)
    false = len(found) - len(used)
    return {
        "expected": len(true_t),
        "measured": {"found": len(found), "errors_ms": errors, "missed": missed, "false": false},
        "match": missed == 0 and false == 0,
        "measurable": True,
    }
