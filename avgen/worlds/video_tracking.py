"""Video checker, part 1: segment a clip's objects by colour and follow them through time.

Pixels are labelled by the nearest of the eight object colours (vocab.COLOURS) unless a colour of
the expected scene's palette is nearer; the object-free background is the masked temporal
median (static camera) or each frame inpainted. Each labelled component is measured with
coverage alpha (its colour between the background's and the object's), which gives sub-pixel
centres and areas, and with the angular harmonics M_3, M_4 of the alpha mass, which tell the
shape (a triangle has a strong 3rd, a square a strong 4th). Components of one colour are linked
from frame to frame by optimal assignment. See avgen.worlds.video_checks.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from functools import cache

import numpy as np
from scipy import ndimage
from scipy.optimize import linear_sum_assignment
from scipy.spatial import cKDTree

from avgen.vocab import COLOURS, SCENES

OBJ_NAMES = list(COLOURS)
OBJ_RGB = np.array([COLOURS[c].rgb for c in OBJ_NAMES], np.float32)  # (8, 3)
AREA_FACTOR = {"circle": math.pi / 4, "square": 1.0, "triangle": math.sqrt(3) / 4}
MIX_RESIDUAL = 25.0  # an edge pixel farther than this from the object/background mix is ignored
OBJ_MAX_DIST = 50.0  # object cores: within this of an object colour (edges are mixtures)
TRIANGLE_M3, SQUARE_M4 = 0.25, 0.14  # harmonic thresholds (see module docstring)


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
    labels = _label_pixels(frames, palette)  # (F, H, W)
    bg = _background(frames, labels, static_camera)  # (F, H, W, 3)
    min_area = _min_area(w)
    tracks: list[ObjectTrack] = []
    for k in range(len(OBJ_NAMES)):
        if not (labels == k + 1).any():
            continue
        per_frame = _components(frames, bg, labels, k, min_area)
        n_obj = _object_count(per_frame, f)
        if n_obj is None:
            continue
        for tr in _link_components(per_frame, n_obj, OBJ_NAMES[k], f, w):
            if _measure_shape(tr, w, min_area):
                tracks.append(tr)
    return Analysis(labels, bg, tracks, palette, static_camera)


def _components(
    frames: np.ndarray, bg: np.ndarray, labels: np.ndarray, k: int, min_area: float
) -> list[list[tuple]]:
    """Per frame, the ``_measure`` of every component of object colour k at least min_area."""
    per_frame = []
    for i in range(len(frames)):
        lab, n = ndimage.label(labels[i] == k + 1)
        comps = []
        if n:
            sizes = ndimage.sum_labels(np.ones_like(lab), lab, np.arange(1, n + 1))
            for j in np.nonzero(sizes >= min_area)[0]:
                comps.append(_measure(frames[i], bg[i], labels[i], lab == j + 1, k))
        per_frame.append(comps)
    return per_frame


def _object_count(per_frame: list[list[tuple]], f: int) -> int | None:
    """How many objects of one colour: the commonest non-zero component count (the largest on
    a tie); None when the colour shows in under 30 % of the frames (a blip is not an object)."""
    counts = [len(c) for c in per_frame]
    if max(counts) == 0:
        return None
    vals, freq = np.unique([c for c in counts if c > 0], return_counts=True)
    n_obj = int(vals[freq == freq.max()].max())
    if sum(c > 0 for c in counts) < max(1, 0.3 * f):
        return None
    return n_obj


def _link_components(
    per_frame: list[list[tuple]], n_obj: int, colour: str, f: int, w: int
) -> list[ObjectTrack]:
    """Follow ``n_obj`` objects through the components: the largest ones start the tracks, then
    each frame's components go to the nearest tracks (optimal assignment, at most 0.35 w away).
    A frame with fewer components than objects has merged ones: not apart, not whole."""
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
            assign = [(r, c) for r, c in zip(rows, cols) if cost[r, c] < 0.35 * w or not known[r]]
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
    return [
        ObjectTrack(
            colour,
            cen[r] / w,
            np.full(f, np.nan),
            area[r],
            m3[r],
            m4[r],
            clean[r],
            apart[r],
            whole[r],
        )
        for r in range(n_obj)
    ]


def _measure_shape(tr: ObjectTrack, w: int, min_area: float) -> bool:
    """Set the track's shape and diameters from its clean frames; False for no real object."""
    if not tr.apart.any() and np.nanmedian(tr.area) < 2 * min_area:
        return False  # a sliver where two objects touch (their mixed colours)
    good = tr.clean & np.isfinite(tr.area)
    use = good if good.any() else np.isfinite(tr.area)
    if not use.any():
        return False
    tr.shape = _shape_of(tr.m3[use], tr.m4[use])
    tr.diameter = np.sqrt(tr.area / AREA_FACTOR[tr.shape]) / w
    return True
