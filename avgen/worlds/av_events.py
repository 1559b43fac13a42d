"""AV sync checker, part 2: visual events placed between frames by fitting a track's path.

Floor contacts: between contacts an object flies on parabolas of one curvature that leave and
meet the floor, so the contact times fix every arc; they are found by dynamic programming on a
4 ms grid and refined with floor and gravity by least squares, and each must be a corner of the
path (``_is_kink``). Collisions: between them the horizontal path is a straight line, so a
collision is where two lines meet (``_side_kinks``). See avgen.worlds.av_checks.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import optimize

KINK_MIN_PX = 0.12  # a contact bends the track this far from a smooth parabola (px rms) ...
KINK_RATIO = 2.5  # ... and by this many times the bounce model's own misfit there
SIDE_KINK_MIN_FW = 0.08  # fw/s: smaller changes of horizontal speed are not collisions


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
