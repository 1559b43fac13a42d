"""AV sync checker, part 1: objects found by the world's colours and followed to 0.1 px.

Each object colour of vocab.COLOURS is found as pixels within ``CORE_DIST`` of it; every
component is placed by its coverage-weighted centre (a pixel's coverage is where its colour lies
between the background's and the object's), good to about 0.1 px on 64 px frames, and
components of one colour are linked from frame to frame by optimal assignment.
See avgen.worlds.av_checks.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import ndimage, optimize

from avgen.vocab import COLOURS

CORE_DIST = 42.0  # RGB distance under which a pixel counts as the object's colour


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
