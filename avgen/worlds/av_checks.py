"""Audio-visual sync checker: visual events found in the frames against onsets in the audio.

Measures the AV offset analytically, the quantity SyncNet-style "AV offset" metrics estimate
with a learned model: each visual event (floor bounce, landing, collision) is placed between
frames by fitting the tracked object's trajectory (piecewise parabolas between floor contacts,
two straight or parabolic segments meeting at a collision), and each audio onset is located to
the sample by an energy-ratio detector refined with an AIC change-point picker (Maeda 1985).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from scipy import ndimage, optimize, signal

from avgen.vocab import COLOURS

DEFAULT_TOLERANCE_MS = 40.0
CORE_DIST = 42.0  # RGB distance under which a pixel counts as the object's colour
MAX_MATCH_S = 0.25  # an audio onset further than this from a visual event is not its sound


# ----------------------------------------------------------------------------- tracking


@dataclass
class Track:
    """One object followed through the clip: sub-pixel centre (x, y) per frame, NaN if unseen."""

    colour: str
    centres: np.ndarray  # (F, 2) float64, pixels
    areas: np.ndarray  # (F,) float64, pixels (coverage-weighted)
    events: list[dict] = field(default_factory=list)

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
    frame: np.ndarray, comp: np.ndarray, rgb: np.ndarray, other_core: np.ndarray
) -> tuple[float, float, float]:
    """Coverage-weighted centre of one component; the background is estimated row by row."""
    H, W = comp.shape
    ys, xs = np.nonzero(comp)
    y0, y1 = max(0, ys.min() - 5), min(H, ys.max() + 6)
    x0, x1 = max(0, xs.min() - 5), min(W, xs.max() + 6)
    m = comp[y0:y1, x0:x1]
    px = frame[y0:y1, x0:x1]  # (h, w, 3)
    inner = ndimage.binary_dilation(m, iterations=2)
    outer = ndimage.binary_dilation(inner, iterations=2) & ~inner & ~other_core[y0:y1, x0:x1]
    if not outer.any():
        bg_rows = None
    else:
        glob = np.median(px[outer], axis=0)
        bg_rows = np.empty((m.shape[0], 3), np.float32)
        for r in range(m.shape[0]):
            sel = outer[r]
            bg_rows[r] = np.median(px[r][sel], axis=0) if sel.sum() >= 2 else glob
    region = inner & ~other_core[y0:y1, x0:x1]
    ry, rx = np.nonzero(region)
    p = px[ry, rx]
    if bg_rows is None:
        w = m[ry, rx].astype(np.float64)
    else:
        bg = bg_rows[ry]
        ob = rgb[None, :] - bg  # (n, 3)
        n2 = (ob * ob).sum(-1)
        alpha = ((p - bg) * ob).sum(-1) / np.maximum(n2, 1.0)
        resid = np.linalg.norm(p - bg - alpha[:, None] * ob, axis=-1)
        ok = (n2 > 30.0**2) & (resid < 0.35 * np.sqrt(n2) + 12.0)
        w = np.where(ok, np.clip(alpha, 0.0, 1.0), m[ry, rx].astype(np.float64))
    tot = float(w.sum())
    if tot <= 0:
        return math.nan, math.nan, 0.0
    cx = float((w * (rx + x0 + 0.5)).sum() / tot)
    cy = float((w * (ry + y0 + 0.5)).sum() / tot)
    return cx, cy, tot


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
        core &= ~core.all(axis=0, keepdims=True)  # background of that colour: never an object
        if core.reshape(F, -1).sum(1).max() >= min_area:
            cores[name] = core
    any_core = np.zeros((F, H, W), bool)
    for core in cores.values():
        any_core |= core
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
            meas = [_centroid(fr[f], c, rgb, other) for c in comps]
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
        cand = np.array([_open_arc_cost(c - t[: p + 1], h[: p + 1], g) for c in c2]) + penalty
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
        return p[0] - _arc_heights(t, p[1], p[2], np.sort(p[3 : 3 + K]), None if rests else p[-1]) - y

    p0 = np.array([y_f, g, v_in, *tc] + ([] if rests else [v_out]))
    res = optimize.least_squares(resid, p0, method="trf", x_scale="jac")
    ok = res.cost <= 0.5 * float((resid(p0) ** 2).sum()) + 1e-12
    p = res.x if ok else p0
    return float(p[0]), float(p[1]), np.sort(p[3 : 3 + K]), float(np.sqrt(np.mean(resid(p) ** 2)))


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
    gravity and contact times are refined together by least squares; twice, so that floor
    and gravity settle.
    """
    n = len(t)
    if n < 5 or np.ptp(y) < 1.0:
        return []
    d2 = y[2:] - 2 * y[1:-1] + y[:-2]  # second differences: ~ g dt^2 in flight
    flight = d2 > 0.2
    if flight.sum() < 2:
        return []
    g = float(np.median(d2[flight]) / dt**2)
    y_low = float(np.max(y))
    if (np.abs(y[-3:] - y_low) < 0.3).all():
        y_f = float(np.median(y[-3:]))  # at rest at the end: that is the floor
    else:
        y_f = max(y_low, _floor_guess(t, y, g))
    penalty = 0.3
    best = None
    for _ in range(2):
        contacts, _cost, rests = _contact_dp(t, y_f - y, g, dt, penalty)
        if not contacts:
            break
        try:
            for _merge in range(5):
                y_f, g, tc, rms = _refine(t, y, y_f, g, contacts, rests)
                short = np.nonzero(np.diff(tc) < 0.5 * dt)[0]
                if len(short) == 0:
                    break
                k = int(short[0])  # an arc too short to be seen: one contact, not two
                contacts = [*tc[:k], 0.5 * (tc[k] + tc[k + 1]), *tc[k + 2 :]]
        except (ValueError, np.linalg.LinAlgError):
            break
        if best is None or rms < best[1]:
            best = (tc, rms, y_f, g, rests)
    if best is None:
        return []
    tc, rms, y_f, g, rests = best
    # a bounce model must explain the track well and fall the right way
    if g <= 0 or rms > 0.6 + 0.01 * height:
        return []
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


def visual_events(frames: np.ndarray, fps: float, expected: dict | None = None) -> list[dict]:
    """Bounces, landings and collisions found in the frames, each with its time in seconds."""
    frames = np.asarray(frames)
    F, H = frames.shape[0], frames.shape[1]
    dt = 1.0 / float(fps)
    t_all = np.arange(F) * dt
    tracks = track_objects(frames, _colour_candidates(expected))
    events: list[dict] = []
    for j, tr in enumerate(tracks):
        ok = tr.valid
        if ok.sum() < 5:
            continue
        for ev in _fit_bounces(t_all[ok], tr.centres[ok, 1], dt, H):
            ev["object"] = j
            ev["colour"] = tr.colour
            events.append(ev)
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


_BANDS_HZ = ((30.0, 200.0), (200.0, 800.0), (800.0, 3000.0), (3000.0, 7500.0))


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
    for lo, hi in _BANDS_HZ:
        win = (10 if lo < 150 else 5) * hop
        e = _band_energy(x, sr, lo, hi, hop, win)
        if len(e) == 0:
            continue
        n = len(e) if n is None else min(n, len(e))
        ratios.append(e)
        wins.append(win)
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
        lo_i = np.clip(idx - 33, 0, n)
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
        t = (a + _aic_pick(x[a:b])) / sr
        if onsets and t - onsets[-1]["t"] < 0.03:
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
