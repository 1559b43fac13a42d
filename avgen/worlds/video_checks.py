"""Analytic video checkers: does a clip show what its parsed prompt asks for? (CONTRACT.md 3)

``check_video(frames, fps, expected)`` segments the clip's objects from the background by
colour (the eight object colours of WORLD.md against the expected scene's own colours; a
prompt without a scene gets the scene the frames show, measured first on the clip's temporal
median colours), follows them through time and measures:
colour, shape, size, count, motion class, direction, speed (or spin / orbit rate), floor
contacts and gravity for bouncing and falling objects, growth, camera pan / zoom, particles,
the scene, the duration and temporal consistency. Every entry reports the measured value.

Measurements (all positions in frame widths, fw, y down):
- coverage alpha of each object pixel from its colour against the local background estimate,
  giving sub-pixel centres and areas; diameter = sqrt(area / shape area factor);
- shape from the angular harmonics of the alpha mass, M_m = sum a r^2 e^{-i m theta} / sum a r^2:
  a triangle has a strong 3rd harmonic (~0.5), a square a strong 4th (~0.28), a disc neither;
  the phase of that harmonic is the object's orientation (spin);
- floor contacts = lowest points of the height track reached by a fall of at least 0.008 fw
  (a rebound of 0.02 fw makes a bounce; a fall may rebound less than 0.05 fw); gravity = median
  second difference of height over frame triples strictly inside one flight arc, checked
  within 30 % of 2.5 fw/s^2 x speed factor x time factor;
- motion class from the track: size trend (grow / shrink), a steady orbit about the frame
  centre, contacts with gravity (bounce / fall), a net drift (move; up = rise), rotation
  (spin), else still; tracks are matched to expected object groups by colour, then motion;
- rates ("speed") within 0.75-1.33 x the expected rate (the vocab's base rate x speed factor x
  time factor: the time word is judged through every rate, not on its own);
- camera pan = horizontal shift of the object-free background between frames; zoom = the
  scale that best maps the first background onto the last, about the centre;
- scene = the scene whose rendered colours explain the object-free background best;
- particles = counts of small bright specks (snow) and tall streaks (rain) that neither the
  scene's colours nor the camera-aligned median frame explain.

Attribute keys: clip-level ``duration_s``, ``scene``, ``count``, ``camera``, ``particles``,
``background_consistency``; per expected object group i ``objects[i].colour``, ``.shape``,
``.size``, ``.count``, ``.motion``, ``.direction``, ``.speed``, ``.gravity``, ``.contacts``,
``.size_change``, ``.consistency``. Directions and translation speeds are judged with a static
camera only (WORLD.md); the spin of a disc is not measurable, nor a pan over a flat backdrop.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np
from scipy import ndimage
from scipy.optimize import linear_sum_assignment
from scipy.spatial import cKDTree

from avgen.errors import AvgenError
from avgen.vocab import (
    COLOURS,
    GRAVITY_FW,
    MOVE_SPEED_FW,
    ORBIT_RADIUS_FW,
    ORBIT_TURNS_PER_S,
    PAN_SPEED_FW,
    RISE_SPEED_FW,
    SCENES,
    SIZES,
    SPEED_FACTORS,
    SPIN_TURNS_PER_S,
    TIME_FACTORS,
    ZOOM_RANGE,
)

OBJ_NAMES = list(COLOURS)
OBJ_RGB = np.array([COLOURS[c].rgb for c in OBJ_NAMES], np.float32)  # (8, 3)
AREA_FACTOR = {"circle": math.pi / 4, "square": 1.0, "triangle": math.sqrt(3) / 4}
MIX_RESIDUAL = 25.0  # an edge pixel farther than this from the object/background mix is ignored
OBJ_MAX_DIST = 50.0  # object cores: within this of an object colour (edges are mixtures)
TRIANGLE_M3, SQUARE_M4 = 0.25, 0.14  # harmonic thresholds (see module docstring)
RATE_TOLERANCE = (0.75, 1.33)  # measured / expected rate that still matches (2x steps apart)
GRAVITY_TOLERANCE = 0.30
MIN_CONTACT_FALL = 0.008  # fw: a smaller dip is noise, not a floor contact
MIN_REBOUND = 0.02  # fw: a rise after a contact that counts as a bounce
FALL_REBOUND = 0.05  # fw: the "small bounce" a falling object may make (WORLD.md)
STILL_SPEED = 0.015  # fw/s: slower is still (the slowest world motion is 0.0375 fw/s)
STILL_TRAVEL = 0.03  # fw: and so is a smaller net displacement
MIN_SPIN = 0.08  # turns/s
BG_CHANGE_MAX = 6.0  # largest per-frame median |frame - median frame| of a still backdrop
# specks / streaks per 64 x 64 frame that make a layer (measured on MotionWorld: snow gives 5-50
# specks a frame, rain 5-30 streaks and under 10 specks)
PARTICLE_MIN = {"snow": 4.5, "rain": 3.0}
SCENE_EXACT = 0.5  # RGB distance under which a pixel is one of the scene's own colours
PARTICLE_DIST = 18.0  # a pixel this far from every scene colour is not the scene
MIN_GAIN = 0.25  # a camera move must explain the frames this much better than a still camera
FLAT_STRUCTURE = 0.2  # mean |horizontal gradient| (grey levels / px) of a featureless backdrop


# ----------------------------------------------------------------------------- palettes


@cache
def scene_palette(scene: str, h: int, w: int, particles: tuple[str, ...] = ()) -> np.ndarray:
    """(N, 3) float32: every colour the renderer paints for ``scene`` at this size (no objects).

    Rendered from a few layouts with stars, flicker, waves, pans and zooms, so the anti-aliased
    mixtures of the scene's own edges are in it too.
    """
    from avgen.worlds import motion  # the world is the reference for its own colours

    cols = []
    for seed, camera in ((1, "static"), (2, "pan_left"), (3, "zoom_in"), (4, "zoom_out")):
        if camera != "static" and not SCENES[scene].structured:
            continue
        spec = motion.MotionSpec(
            [motion.ObjectSpec("red", "circle")],
            scene=scene,
            camera=camera,
            particles=list(particles),
            duration_s=4.0,
            flicker=scene == "city",
            stars=True,
            seed=seed,
        )
        bg = motion.render_background(spec, (h, w), fps=2)
        cols.append(np.unique(bg.reshape(-1, 3), axis=0))
    return np.unique(np.concatenate(cols), axis=0).astype(np.float32)


# ----------------------------------------------------------------------------- segmentation


@dataclass
class ObjectTrack:
    """One object followed through a clip (NaN where unseen). Units: fw, seconds, degrees."""

    colour: str
    centre: np.ndarray  # (F, 2) x, y in frame widths
    diameter: np.ndarray  # (F,) fw, with the track's measured shape
    area: np.ndarray  # (F,) px^2 (coverage)
    m3: np.ndarray  # (F,) complex 3rd angular harmonic
    m4: np.ndarray  # (F,) complex 4th angular harmonic
    clean: np.ndarray  # (F,) bool: whole, not touching the frame edge or another object
    apart: np.ndarray  # (F,) bool: not touching another object (may touch the frame edge)
    whole: np.ndarray  # (F,) bool: inside the frame, not merged with a same-coloured object
    shape: str = "circle"

    @property
    def seen(self) -> np.ndarray:
        return np.isfinite(self.centre[:, 0])


@dataclass
class Analysis:
    labels: np.ndarray  # (F, H, W) int8: 0 background, k + 1 object colour k
    background: np.ndarray  # (F, H, W, 3) float32 object-free background estimate
    tracks: list[ObjectTrack]
    palette: np.ndarray
    static_camera: bool


def _palette_distance(frames: np.ndarray, palette: np.ndarray) -> np.ndarray:
    """(F, H, W) distance of every pixel to the nearest palette colour (inf: empty palette)."""
    f, h, w, _ = frames.shape
    if not len(palette):
        return np.full((f, h, w), np.inf, np.float32)
    flat = frames.reshape(-1, 3).astype(np.uint32)
    packed = (flat[:, 0] << 16) | (flat[:, 1] << 8) | flat[:, 2]
    uniq, inv = np.unique(packed, return_inverse=True)
    cols = np.stack([(uniq >> 16) & 255, (uniq >> 8) & 255, uniq & 255], 1).astype(np.float32)
    d, _ = cKDTree(palette).query(cols)
    return d.astype(np.float32)[inv.reshape(-1)].reshape(f, h, w)


def _label_pixels(frames: np.ndarray, palette: np.ndarray) -> np.ndarray:
    """(F, H, W) int8 labels: k + 1 where a pixel is nearer object colour k than the scene."""
    f, h, w, _ = frames.shape
    flat = frames.reshape(-1, 3).astype(np.uint32)
    packed = (flat[:, 0] << 16) | (flat[:, 1] << 8) | flat[:, 2]
    uniq, inv = np.unique(packed, return_inverse=True)
    cols = np.stack([(uniq >> 16) & 255, (uniq >> 8) & 255, uniq & 255], 1).astype(np.float32)
    d_obj = np.linalg.norm(cols[:, None, :] - OBJ_RGB[None], axis=2)  # (U, 8)
    k = d_obj.argmin(1)
    dmin = d_obj[np.arange(len(k)), k]
    if len(palette):
        d_bg, _ = cKDTree(palette).query(cols)
    else:
        d_bg = np.full(len(cols), np.inf)
    lab_u = np.where((dmin < OBJ_MAX_DIST) & (dmin < d_bg), k + 1, 0).astype(np.int8)
    return lab_u[inv.reshape(-1)].reshape(f, h, w)


def _inpaint(img: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Fill ``mask`` pixels of ``img`` (H, W, 3) with the nearest unmasked pixel's colour."""
    if not mask.any() or mask.all():
        return img
    _, (iy, ix) = ndimage.distance_transform_edt(mask, return_indices=True)
    return img[iy, ix]


def _background(frames: np.ndarray, labels: np.ndarray, static: bool) -> np.ndarray:
    """Object-free background: masked temporal median (static camera) or per-frame inpainting."""
    obj = labels > 0
    obj = ndimage.binary_dilation(obj, structure=np.ones((1, 3, 3), bool))
    f32 = frames.astype(np.float32)
    if static and len(frames) >= 3:
        masked = np.where(obj[..., None], np.nan, f32)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # pixels an object never leaves
            med = np.nanmedian(masked, axis=0) if obj.any() else np.median(f32, axis=0)
        hole = np.isnan(med[..., 0])
        med = _inpaint(np.nan_to_num(med), hole)
        return np.broadcast_to(med, f32.shape)
    return np.stack([_inpaint(f32[i], obj[i]) for i in range(len(frames))])


def _min_area(w: int) -> float:
    return max(4.0, 0.3 * AREA_FACTOR["triangle"] * (0.1 * w) ** 2)


def _measure(frame: np.ndarray, bg: np.ndarray, labels: np.ndarray, comp: np.ndarray, k: int):
    """Coverage-weighted centre (px), area (px^2) and harmonics of one component."""
    h, w = comp.shape
    region = ndimage.binary_dilation(comp, iterations=2) & ((labels == 0) | (labels == k + 1))
    ys, xs = np.nonzero(region)
    p = frame[ys, xs].astype(np.float32)
    b = bg[ys, xs]
    c = OBJ_RGB[k]
    cb = c[None] - b
    a = ((p - b) * cb).sum(1) / np.maximum((cb * cb).sum(1), 1.0)
    a = np.clip(a, 0.0, 1.0)
    # a pixel off the background-to-object line is something else (a particle, a neighbour)
    resid = np.linalg.norm(p - (b + a[:, None] * cb), axis=1)
    a[(a < 0.1) | (resid > MIX_RESIDUAL)] = 0.0
    core = comp[ys, xs]
    a[core] = np.maximum(a[core], 0.5)  # labelled pixels are at least half covered
    tot = a.sum()
    cx = (a * (xs + 0.5)).sum() / tot
    cy = (a * (ys + 0.5)).sum() / tot
    dx, dy = xs + 0.5 - cx, ys + 0.5 - cy
    r2 = dx * dx + dy * dy
    th = np.arctan2(dy, dx)
    wgt = a * r2
    sw = max(wgt.sum(), 1e-9)
    m3 = (wgt * np.exp(-3j * th)).sum() / sw
    m4 = (wgt * np.exp(-4j * th)).sum() / sw
    cy0, cx0 = np.nonzero(comp)
    edge = cy0.min() == 0 or cx0.min() == 0 or cy0.max() == h - 1 or cx0.max() == w - 1
    other = ndimage.binary_dilation(comp, iterations=3) & (labels > 0) & (labels != k + 1)
    return cx, cy, tot, m3, m4, not edge, not other.any()


def _shape_of(m3: np.ndarray, m4: np.ndarray) -> str:
    a3, a4 = float(np.median(np.abs(m3))), float(np.median(np.abs(m4)))
    if a3 > TRIANGLE_M3:
        return "triangle"
    if a4 > SQUARE_M4:
        return "square"
    return "circle"


def track_objects(frames: np.ndarray, palette: np.ndarray, static_camera: bool = True) -> Analysis:
    """Segment and follow every object-coloured blob of a clip (see the module docstring)."""
    f, h, w, _ = frames.shape
    labels = _label_pixels(frames, palette)
    bg = _background(frames, labels, static_camera)
    min_area = _min_area(w)
    tracks: list[ObjectTrack] = []
    for k in range(len(OBJ_NAMES)):
        if not (labels == k + 1).any():
            continue
        per_frame = []
        for i in range(f):
            lab, n = ndimage.label(labels[i] == k + 1)
            comps = []
            if n:
                sizes = ndimage.sum_labels(np.ones_like(lab), lab, np.arange(1, n + 1))
                for j in np.nonzero(sizes >= min_area)[0]:
                    comps.append(_measure(frames[i], bg[i], labels[i], lab == j + 1, k))
            per_frame.append(comps)
        counts = [len(c) for c in per_frame]
        if max(counts) == 0:
            continue
        vals, freq = np.unique([c for c in counts if c > 0], return_counts=True)
        n_obj = int(vals[freq == freq.max()].max())
        if sum(c > 0 for c in counts) < max(1, 0.3 * f):
            continue  # a blip in a few frames is not an object
        cen = np.full((n_obj, f, 2), np.nan)
        area = np.full((n_obj, f), np.nan)
        m3 = np.full((n_obj, f), np.nan, complex)
        m4 = np.full((n_obj, f), np.nan, complex)
        clean = np.zeros((n_obj, f), bool)
        apart = np.zeros((n_obj, f), bool)
        whole = np.zeros((n_obj, f), bool)
        last = None
        for i, comps in enumerate(per_frame):
            if not comps:
                continue
            pts = np.array([[c[0], c[1]] for c in comps])
            if last is None:
                order = np.argsort([-c[2] for c in comps])[:n_obj]
                assign = list(zip(range(len(order)), order))
            else:
                known = np.isfinite(last[:, 0])
                ref = np.where(known[:, None], last, pts.mean(0)[None])
                cost = np.linalg.norm(ref[:, None] - pts[None], axis=2)
                cost = np.where(known[:, None], cost, 1e3)
                rows, cols = linear_sum_assignment(cost)
                assign = [
                    (r, c) for r, c in zip(rows, cols) if cost[r, c] < 0.35 * w or not known[r]
                ]
            merged = len(comps) < n_obj
            for r, c in assign:
                cx, cy, a, h3, h4, inside, alone = comps[c]
                cen[r, i] = (cx, cy)
                area[r, i] = a
                m3[r, i], m4[r, i] = h3, h4
                apart[r, i] = alone and not merged
                whole[r, i] = inside and not merged
                clean[r, i] = apart[r, i] and inside
            last = (
                np.where(np.isfinite(cen[:, i, :1]), cen[:, i], last)
                if last is not None
                else cen[:, i].copy()
            )
        for r in range(n_obj):
            tr = ObjectTrack(
                OBJ_NAMES[k],
                cen[r] / w,
                np.full(f, np.nan),
                area[r],
                m3[r],
                m4[r],
                clean[r],
                apart[r],
                whole[r],
            )
            if not apart[r].any() and np.nanmedian(area[r]) < 2 * min_area:
                continue  # a sliver where two objects touch (their mixed colours)
            good = clean[r] & np.isfinite(area[r])
            use = good if good.any() else np.isfinite(area[r])
            if not use.any():
                continue
            tr.shape = _shape_of(m3[r][use], m4[r][use])
            tr.diameter = np.sqrt(area[r] / AREA_FACTOR[tr.shape]) / w
            tracks.append(tr)
    return Analysis(labels, bg, tracks, palette, static_camera)


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


# ----------------------------------------------------------------------------- camera


def _shift_cost(a: np.ndarray, b: np.ndarray, va: np.ndarray, vb: np.ndarray, dx: float) -> float:
    """Mean |b(x) - a(x - dx)| over pixels valid in both (dx in pixels, linear interpolation)."""
    w = a.shape[1]
    xs = np.arange(w) - dx
    ok = (xs >= 0) & (xs <= w - 1)
    if ok.sum() < w // 3:
        return np.inf
    x0 = np.clip(np.floor(xs[ok]).astype(int), 0, w - 2)
    fr = (xs[ok] - x0)[None, :, None]
    sa = a[:, x0] * (1 - fr) + a[:, x0 + 1] * fr
    valid = vb[:, ok] & va[:, x0] & va[:, x0 + 1]
    if valid.sum() < 0.2 * valid.size:
        return np.inf
    return float(np.abs(b[:, ok] - sa).sum(-1)[valid].mean())


def _zoom_cost(a: np.ndarray, b: np.ndarray, va: np.ndarray, vb: np.ndarray, s: float) -> float:
    """Mean |b - a zoomed by s about the centre| over pixels valid in both."""
    h, w = a.shape[:2]
    cy, cx = (h - 1) / 2, (w - 1) / 2
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    sy, sx = cy + (yy - cy) / s, cx + (xx - cx) / s
    ok = (sy >= 0) & (sy <= h - 1) & (sx >= 0) & (sx <= w - 1) & vb
    ok &= ndimage.map_coordinates(va.astype(np.float32), [sy, sx], order=0) > 0.5
    if ok.sum() < 0.2 * h * w:
        return np.inf
    out = np.stack([ndimage.map_coordinates(a[..., c], [sy, sx], order=1) for c in range(3)], -1)
    return float(np.abs(out[ok] - b[ok]).sum(-1).mean())


def measure_camera(bg: np.ndarray, fps: float, valid: np.ndarray | None = None) -> dict[str, Any]:
    """Pan speed (fw/s, + = scene moves right on screen) and zoom (last / first scale).

    The pan speed is the one constant speed that best aligns frame pairs 1, 2, 4 and 8 steps
    apart (several baselines rule out the aliases of a periodic backdrop such as window rows);
    coarse search every 0.02 fw/s, then every 0.002. ``valid`` (F, H, W) marks the pixels that
    show the scene itself (not objects or particles). ``structure`` is the mean horizontal
    gradient of the background: below ``FLAT_STRUCTURE`` there is nothing to see a camera move
    by, and pan and zoom stay None.
    """
    f, h, w, _ = bg.shape
    if valid is None:
        valid = np.ones((f, h, w), bool)
    pair_ok = valid[:, :, 1:] & valid[:, :, :-1]
    gx = np.abs(np.diff(bg, axis=2)).mean(-1)[pair_ok].mean() if pair_ok.any() else 0.0
    out: dict[str, Any] = {
        "structure": float(gx),
        "pan": None,
        "zoom": None,
        "pan_gain": 0.0,
        "zoom_gain": 0.0,
    }
    if f < 2 or gx < FLAT_STRUCTURE:
        return out
    step = max(1, int(round(fps / 8)))
    pairs = []
    for k in (step, 2 * step, 4 * step, 8 * step):
        if k < f:
            for i in np.linspace(0, f - 1 - k, 3).round().astype(int):
                pairs.append((int(i), int(i) + k))
    pairs = sorted(set(pairs))

    def cost(v: float) -> float:
        c = [_shift_cost(bg[i], bg[j], valid[i], valid[j], v * w * (j - i) / fps) for i, j in pairs]
        c = [x for x in c if np.isfinite(x)]
        return float(np.mean(c)) if c else np.inf

    coarse = np.arange(-2.5, 2.5 + 1e-9, 0.1) * PAN_SPEED_FW
    v0 = float(coarse[int(np.argmin([cost(v) for v in coarse]))])
    fine = v0 + np.arange(-0.02, 0.02 + 1e-9, 0.002)
    fine_costs = [cost(v) for v in fine]
    j = int(np.argmin(fine_costs))
    out["pan"] = float(fine[j])
    out["pan_gain"] = _gain(fine_costs[j], cost(0.0))
    scales = np.exp(np.linspace(-0.55, 0.55, 23))
    costs = [_zoom_cost(bg[0], bg[-1], valid[0], valid[-1], s) for s in scales]
    j = int(np.argmin(costs))
    out["zoom"] = float(scales[j])
    out["zoom_gain"] = _gain(costs[j], _zoom_cost(bg[0], bg[-1], valid[0], valid[-1], 1.0))
    return out


def _gain(best: float, still: float) -> float:
    """How much better the best camera move explains the frames than no move (0 to 1)."""
    if not np.isfinite(best) or not np.isfinite(still) or still <= 1e-9:
        return 0.0
    return float(max(0.0, 1.0 - best / still))


def _camera_class(cam: dict[str, Any]) -> str:
    """static / pan / zoom from the measurements.

    A clear pan comes first (comparing the first and last frames of a long pan finds a
    spurious scale); a zoom shifts the two halves of the frame apart, which reads as a weak pan.
    """
    pan = abs(cam["pan"]) if cam["pan"] is not None and cam["pan_gain"] >= MIN_GAIN else 0.0
    zoom = abs(math.log(cam["zoom"])) if cam["zoom"] is not None else 0.0
    if cam.get("zoom_gain", 0.0) < MIN_GAIN:
        zoom = 0.0
    if pan > 0.7 * PAN_SPEED_FW:
        return "pan_left" if cam["pan"] > 0 else "pan_right"
    if zoom > 0.5 * math.log(ZOOM_RANGE[1]):
        return "zoom_in" if cam["zoom"] > 1 else "zoom_out"
    if pan > 0.5 * PAN_SPEED_FW:
        return "pan_left" if cam["pan"] > 0 else "pan_right"
    return "static"


# ----------------------------------------------------------------------------- particles


def _align(stack: np.ndarray, cam: dict[str, Any], fps: float, order: int = 1) -> np.ndarray:
    """Undo a measured pan / zoom: every frame resampled onto the first frame's scene grid.

    ``stack`` (F, H, W, C); pixels the first frame does not see become NaN.
    """
    f, h, w, c = stack.shape
    cls = _camera_class(cam)
    if cls == "static":
        return stack.astype(np.float32)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    cy, cx = (h - 1) / 2, (w - 1) / 2
    out = np.full(stack.shape, np.nan, np.float32)
    for i in range(f):
        if cls.startswith("pan"):
            sy, sx = yy, xx - cam["pan"] * w * i / fps  # scene slides right for pan > 0
        else:
            z = 1 + (cam["zoom"] - 1) * i / max(f - 1, 1)
            sy, sx = cy + (yy - cy) * z, cx + (xx - cx) * z
        ok = (sx >= 0) & (sx <= w - 1) & (sy >= 0) & (sy <= h - 1)
        for ch in range(c):
            v = ndimage.map_coordinates(
                stack[i, ..., ch].astype(np.float32), [sy, sx], order=order, mode="nearest"
            )
            out[i, ..., ch] = np.where(ok, v, np.nan)
    return out


def _particles(
    frames: np.ndarray, labels: np.ndarray, d0: np.ndarray | None, cam: dict[str, Any], fps: float
) -> dict[str, float]:
    """Per-frame counts of snow-like specks and rain-like streaks the scene does not explain.

    A pixel is odd when no scene colour explains it, or when it differs from the median of the
    camera-aligned frames (flakes over a snowy backdrop are only seen moving).
    """
    f, h, w, _ = frames.shape
    fr = frames.astype(np.float32)
    if d0 is None:  # unknown scene: only motion tells particles apart
        d0 = np.full((f, h, w), np.inf, np.float32)
    odd = d0 > PARTICLE_DIST
    objects = ndimage.binary_dilation(labels > 0, structure=np.ones((1, 3, 3), bool))
    odd &= ~objects
    if f >= 3:
        al = _align(fr, cam, fps)
        al_obj = _align(objects[..., None].astype(np.float32), cam, fps, order=0)[..., 0]
        al[al_obj > 0.5] = np.nan
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore", RuntimeWarning)  # pixels seen in no frame
            ref = np.nanmedian(al, axis=0)
            moving = np.nan_to_num(np.abs(al - ref[None]).max(-1)) > PARTICLE_DIST
        # a moving pixel that is exactly a scene colour is the scene changing (flickering
        # windows, a slightly misaligned edge), not a particle
        if _camera_class(cam) == "static":
            odd |= moving & ~objects & (d0 > SCENE_EXACT)
        else:  # count specks in the aligned frames instead (objects are NaN there)
            d0a = _align(d0[..., None], cam, fps, order=0)[..., 0]
            odd = moving & (np.nan_to_num(d0a, nan=np.inf) > SCENE_EXACT)
            fr = np.nan_to_num(al)
    lum = fr @ np.array([0.299, 0.587, 0.114], np.float32)
    scale = w / 64
    streak_min, speck_max = max(3.0, 3.5 * scale), max(3.0, 2.5 * scale)
    snow, rain = [], []
    for i in range(f):
        lab, _ = ndimage.label(odd[i])
        ns = nr = 0
        for sl in ndimage.find_objects(lab):
            hh, ww = sl[0].stop - sl[0].start, sl[1].stop - sl[1].start
            if hh >= streak_min and hh > 1.2 * ww:
                nr += 1  # a rain streak: taller than wide
            elif max(hh, ww) <= speck_max and lum[i][sl].max() > 150:
                ns += 1  # a bright speck: a snowflake
        snow.append(ns)
        rain.append(nr)
    area = h * w / 4096
    return {"snow": float(np.median(snow)) / area, "rain": float(np.median(rain)) / area}


# ----------------------------------------------------------------------------- the checker


def _entry(expected: Any, measured: Any, match: bool | None, note: str = "") -> dict[str, Any]:
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


def _check_inputs(frames: Any, fps: Any) -> np.ndarray:
    arr = np.asarray(frames)
    if arr.ndim != 4 or arr.shape[-1] != 3:
        raise AvgenError(f"frames of shape {arr.shape} are invalid; use (F, H, W, 3) RGB.")
    if arr.shape[0] < 1 or min(arr.shape[1:3]) < 16:
        raise AvgenError(
            f"frames of shape {arr.shape} are too small; use at least 1 frame of 16 x 16 pixels."
        )
    if not isinstance(fps, int | float | np.integer | np.floating) or not fps > 0:
        raise AvgenError(f"fps {fps!r} is invalid; use a positive number.")
    if arr.dtype != np.uint8:
        if np.issubdtype(arr.dtype, np.floating) and arr.max() <= 1.0 + 1e-6:
            arr = arr * 255.0
        arr = np.clip(np.round(arr), 0, 255).astype(np.uint8)
    return arr


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


def _best_scene(background: np.ndarray, static: bool, h: int, w: int) -> str:
    """The scene whose rendered colours explain the object-free background (F, H, W, 3) best."""
    bg = background.mean(0) if static else background[len(background) // 2]
    px = bg.reshape(-1, 3)
    scores = {}
    for s in SCENES:
        dist, _ = cKDTree(scene_palette(s, h, w)).query(px)
        scores[s] = float(np.mean(np.minimum(dist, 60.0)))
    return min(scores, key=scores.get)


def check_video(frames: np.ndarray, fps: float, expected: dict) -> dict[str, dict]:
    """Measure a clip against a parsed-prompt dict; attribute -> {expected, measured, match, ...}.

    ``frames`` (F, H, W, 3) uint8 RGB (floats in [0, 1] are accepted). See the module docstring
    for the attributes and how each is measured.
    """
    frames = _check_inputs(frames, fps)
    fps = float(fps)
    f, h, w, _ = frames.shape
    aspect = h / w
    duration = f / fps
    scene = expected.get("scene")
    camera = expected.get("camera") or "static"
    time_f = TIME_FACTORS.get(expected.get("time") or "normal", 1.0)
    particles = tuple(expected.get("particles") or ())
    out: dict[str, dict] = {}

    if expected.get("duration_s"):
        exp_d = float(expected["duration_s"])
        out["duration_s"] = _entry(
            exp_d, round(duration, 4), abs(duration - exp_d) <= max(0.5 / fps, 0.05 * exp_d) + 1e-9
        )

    # 1. segmentation and tracks (a prompt without a scene: the scene the frames show, first
    # measured on a median-colour palette, gives the palette, so a terse prompt is measured
    # like a full one)
    static = camera == "static"
    if scene in SCENES:
        an = track_objects(frames, scene_palette(scene, h, w, particles), static)
    else:
        med = np.median(frames, axis=0).reshape(-1, 3).astype(np.float32)
        far = np.linalg.norm(med[:, None] - OBJ_RGB[None], axis=2).min(1) > 60
        an = track_objects(frames, np.unique(med[far], axis=0), static)
        if not scene:
            scene = _best_scene(an.background, static, h, w)
            an = track_objects(frames, scene_palette(scene, h, w, particles), static)
    tracks = an.tracks

    # 2. scene
    if expected.get("scene"):
        best = _best_scene(an.background, static, h, w)
        out["scene"] = _entry(scene, best, best == scene)

    # 3. camera
    pal0 = scene_palette(scene, h, w) if scene in SCENES else an.palette
    d0 = _palette_distance(frames, pal0)  # far from every scene colour: particles (or objects)
    scene_px = (d0 <= PARTICLE_DIST) & ~ndimage.binary_dilation(
        an.labels > 0, structure=np.ones((1, 3, 3), bool)
    )
    # per-frame backgrounds: the static-camera median would hide the very motion measured here
    moving_bg = an.background if not static else _background(frames, an.labels, False)
    cam = measure_camera(moving_bg, fps, scene_px if scene in SCENES else None)
    if expected.get("camera"):
        if cam["pan"] is None:
            out["camera"] = _entry(camera, None, None, "background has no visible structure")
        else:
            cls = _camera_class(cam)
            out["camera"] = _entry(
                camera,
                cls,
                cls == camera,
                (
                    f"pan {_r(cam['pan'])} fw/s (gain {cam['pan_gain']:.2f}), zoom "
                    f"{_r(cam['zoom'])} (gain {cam['zoom_gain']:.2f})"
                ),
            )

    # 4. particles
    if particles:
        dens = _particles(frames, an.labels, d0 if scene in SCENES else None, cam, fps)
        found = []
        if dens["snow"] >= PARTICLE_MIN["snow"] and dens["snow"] >= 2 * dens["rain"]:
            found.append("snow")
        if dens["rain"] >= PARTICLE_MIN["rain"] and dens["rain"] >= 0.5 * dens["snow"]:
            found.append("rain")  # flakes merge into a few tall blobs; rain makes mostly streaks
        out["particles"] = _entry(
            sorted(particles),
            found,
            set(found) == set(particles),
            f"specks {dens['snow']:.1f}, streaks {dens['rain']:.1f} a frame",
        )

    # 5. background consistency (static camera only): most of the backdrop stays put; waves,
    # flickering windows and particles touch only a minority of pixels
    if expected.get("camera") == "static" and len(frames) >= 2:
        fr = frames.astype(np.float32)
        ref = np.median(fr, axis=0)
        objm = ndimage.binary_dilation(an.labels > 0, structure=np.ones((1, 5, 5), bool))
        objm |= objm.any(0, keepdims=True)
        keep = ~objm[0]
        change = 0.0
        if keep.sum() > 0.1 * h * w:
            diffs = [float(np.median(np.abs(fr[i] - ref).max(-1)[keep])) for i in range(f)]
            change = float(np.max(diffs))
        out["background_consistency"] = _entry(
            "still",
            round(change, 2),
            change <= BG_CHANGE_MAX,
            "largest per-frame median |difference| from the clip's median backdrop",
        )

    # 6. objects
    groups = [g for g in (expected.get("objects") or []) if g]
    slots = [gi for gi, g in enumerate(groups) for _ in range(max(1, int(g.get("count") or 1)))]
    if groups:
        exp_total = len(slots)
        out["count"] = _entry(exp_total, len(tracks), len(tracks) == exp_total)
    tms = [track_motion(tr, fps, aspect, duration) for tr in tracks]
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
    key = f"objects[{gi}]."
    out: dict[str, dict] = {}
    motion = g.get("motion")
    speed_word = g.get("speed") or "normal"
    rate = SPEED_FACTORS.get(speed_word, 1.0) * time_f
    static = camera == "static"

    def each(
        name: str, exp: Any, values: list[Any], matches: list[bool | None], note: str = ""
    ) -> None:
        if not trs:
            out[key + name] = _entry(exp, None, False, "object not found")
            return
        if any(m is None for m in matches):
            out[key + name] = _entry(exp, values[0] if len(values) == 1 else values, None, note)
            return
        out[key + name] = _entry(exp, values[0] if len(values) == 1 else values, all(matches), note)

    if g.get("count"):
        out[key + "count"] = _entry(int(g["count"]), count, count == int(g["count"]))
    if g.get("colour"):
        each(
            "colour",
            g["colour"],
            [tr.colour for tr in trs],
            [tr.colour == g["colour"] for tr in trs],
        )
    if g.get("shape"):
        each("shape", g["shape"], [tr.shape for tr in trs], [tr.shape == g["shape"] for tr in trs])
    if g.get("size"):
        d0 = [tm.diameter0 for tm in tms]
        if motion not in ("grow", "shrink"):
            d0 = [
                float(np.nanmedian(tr.diameter[tr.whole]))
                if tr.whole.any()
                else float(np.nanmedian(tr.diameter))
                for tr in trs
            ]
        cls = [_size_class(d) for d in d0]
        each(
            "size",
            g["size"],
            cls,
            [c == g["size"] for c in cls],
            "diameter " + ", ".join(f"{d:.3f}" for d in d0) + " fw",
        )
    if motion:
        ms, mm = [], []
        for tr, tm in zip(trs, tms):
            m = tm.motion
            ok: bool | None = _compatible(motion, m, tm.direction)
            if motion == "spin" and tr.shape == "circle" and m == "still":
                ok = None  # the spin of a disc cannot be seen
            ms.append(m)
            mm.append(ok)
        each("motion", motion, ms, mm, "spin of a circle is not measurable" if None in mm else "")
    if g.get("direction") and motion in ("move", "bounce"):
        if not static:
            out[key + "direction"] = _entry(
                g["direction"], None, None, "directions are judged with a static camera only"
            )
        else:
            dirs = [tm.direction for tm in tms]
            each(
                "direction",
                g["direction"],
                dirs,
                [d == g["direction"] for d in dirs],
                "; ".join(f"v=({tm.velocity[0]:.3f}, {tm.velocity[1]:.3f}) fw/s" for tm in tms),
            )
    # rate of the motion ("speed")
    if motion in ("move", "rise", "spin", "circle"):
        base = {
            "move": MOVE_SPEED_FW,
            "rise": RISE_SPEED_FW,
            "spin": SPIN_TURNS_PER_S,
            "circle": ORBIT_TURNS_PER_S,
        }[motion]
        unit = "turn/s" if motion in ("spin", "circle") else "fw/s"
        exp_rate = base * rate
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
            None if v is None else RATE_TOLERANCE[0] <= v / exp_rate <= RATE_TOLERANCE[1]
            for v in vals
        ]
        note = f"expected {exp_rate:.3f} {unit}"
        if None in matches:
            note += "; not measurable here (moving camera or a spinning disc)"
        each("speed", speed_word, [_r(v) for v in vals], matches, note)
    if motion in ("bounce", "fall"):
        g_exp = GRAVITY_FW * rate
        gs = [tm.gravity for tm in tms]
        matches = [None if v is None else abs(v / g_exp - 1) <= GRAVITY_TOLERANCE for v in gs]
        each(
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
        each("contacts", exp_c, cs, cm, "floor contacts seen in the height track")
    if motion in ("grow", "shrink"):
        rs = [tm.size_ratio for tm in tms]
        lo, hi = (1.6, 2.5) if motion == "grow" else (0.4, 0.625)
        each(
            "size_change",
            2.0 if motion == "grow" else 0.5,
            [_r(v) for v in rs],
            [lo <= v <= hi for v in rs],
            "end / start diameter over the clip",
        )
    # temporal consistency: the object stays, keeps its colour and (unless growing) its size
    vals, matches = [], []
    for tr in trs:
        presence = float(tr.seen.mean())
        cv = 0.0
        if motion not in ("grow", "shrink"):
            d = tr.diameter[tr.whole & np.isfinite(tr.diameter)]
            cv = float(np.std(d) / np.mean(d)) if len(d) >= 2 else 0.0
        vals.append({"presence": round(presence, 3), "size_cv": round(cv, 3)})
        matches.append(presence >= 0.9 and cv <= 0.12)
    each("consistency", {"presence": ">= 0.9", "size_cv": "<= 0.12"}, vals, matches)
    return out


def _compatible(expected: str, measured: str, direction: str | None) -> bool:
    if expected == measured:
        return True
    if expected == "rise" and measured == "move" and direction == "up":
        return True
    return False
