"""Video checker, part 3: the camera (pan, zoom) and particle layers, from the background.

The pan speed is the one constant speed that best aligns the object-free background of frame
pairs several steps apart; the zoom is the scale that best maps the first background onto the
last, about the centre; each must explain the frames ``MIN_GAIN`` better than a still camera.
Particles are counted as small bright specks (snow) and tall streaks (rain) that neither the
scene's colours nor the camera-aligned median frame explain. See avgen.worlds.video_checks.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np
from scipy import ndimage

from avgen.vocab import PAN_SPEED_FW, ZOOM_RANGE

# specks / streaks per 64 x 64 frame that make a layer (measured on MotionWorld: snow gives 5-50
# specks a frame, rain 5-30 streaks and under 10 specks)
PARTICLE_MIN = {"snow": 4.5, "rain": 3.0}
SCENE_EXACT = 0.5  # RGB distance under which a pixel is one of the scene's own colours
PARTICLE_DIST = 18.0  # a pixel this far from every scene colour is not the scene
MIN_GAIN = 0.25  # a camera move must explain the frames this much better than a still camera
FLAT_STRUCTURE = 0.2  # mean |horizontal gradient| (grey levels / px) of a featureless backdrop


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
