"""MotionWorld rendering: the scene with its camera and particles, then the objects on top.

The background (avgen.worlds.scenes) is painted supersampled and moved by the camera (a pan
slides it, a zoom scales it about the centre; objects keep their world motion on screen). Each
object is drawn as flat colour with ``OBJECT_SUPERSAMPLE`` x ``OBJECT_SUPERSAMPLE`` coverage
samples per pixel (anti-aliased, no texture). See docs/WORLDS.md.
"""

from __future__ import annotations

import math

import numpy as np
from PIL import Image, ImageDraw

from avgen.vocab import COLOURS, PAN_SPEED_FW, TIME_FACTORS, WORLD_VERSION, ZOOM_RANGE
from avgen.worlds import scenes as sc
from avgen.worlds.motion_physics import _Sim
from avgen.worlds.motion_spec import (
    BOUND_FACTOR,
    MotionSpec,
    _check_fps,
    _check_size,
    _check_spec,
    _shape_vertices,
)

OBJECT_SUPERSAMPLE = 4  # per axis: 16 coverage samples per pixel


def _coverage(shape: str, cx: float, cy: float, d: float, ang: float, h: int, w: int):
    """Anti-aliased coverage of one shape (pixel units): (y0, x0, (ny, nx) float32) or None."""
    rb = BOUND_FACTOR[shape] * d
    x0, x1 = max(0, math.floor(cx - rb) - 1), min(w, math.ceil(cx + rb) + 2)
    y0, y1 = max(0, math.floor(cy - rb) - 1), min(h, math.ceil(cy + rb) + 2)
    if x1 <= x0 or y1 <= y0:
        return None
    ss = OBJECT_SUPERSAMPLE
    xs = x0 + (np.arange((x1 - x0) * ss) + 0.5) / ss - cx
    ys = y0 + (np.arange((y1 - y0) * ss) + 0.5) / ss - cy
    if shape == "circle":
        inside = (xs[None, :] ** 2 + ys[:, None] ** 2) <= (d / 2) ** 2
    else:
        v = _shape_vertices(shape, d, ang)
        inside = np.ones((ys.size, xs.size), bool)
        for j in range(len(v)):
            (ax, ay), (bx, by) = v[j], v[(j + 1) % len(v)]
            # clockwise on screen (y down) = counter-clockwise in math axes: interior to the right
            inside &= ((bx - ax) * (ys[:, None] - ay) - (by - ay) * (xs[None, :] - ax)) >= 0
    cov = inside.reshape(y1 - y0, ss, x1 - x0, ss).mean(axis=(1, 3), dtype=np.float32)
    return y0, x0, cov


def _camera_track(spec: MotionSpec, times: np.ndarray, dur: float) -> tuple[np.ndarray, np.ndarray]:
    pan = np.zeros_like(times)
    zoom = np.ones_like(times)
    if spec.camera == "pan_left":
        pan = -PAN_SPEED_FW * times
    elif spec.camera == "pan_right":
        pan = PAN_SPEED_FW * times
    elif spec.camera == "zoom_in":
        zoom = ZOOM_RANGE[0] + (ZOOM_RANGE[1] - ZOOM_RANGE[0]) * times / dur
    elif spec.camera == "zoom_out":
        zoom = ZOOM_RANGE[1] - (ZOOM_RANGE[1] - ZOOM_RANGE[0]) * times / dur
    return pan, zoom


def _render_background(
    spec: MotionSpec,
    lay: sc.SceneLayout,
    h: int,
    w: int,
    times: np.ndarray,
    pan: np.ndarray,
    zoom: np.ndarray,
    rng: np.random.Generator,
) -> np.ndarray:
    """(F, H, W, 3) float32 background frames: scene, its animation, particles, the camera."""
    ss = sc.SUPERSAMPLE
    s = w * ss  # hi-res pixels per frame width
    tf = TIME_FACTORS[spec.time]
    fields = [sc.sample_particles(p, lay.aspect, rng) for p in spec.particles]
    flicker = spec.flicker and bool(lay.windows)
    animated = bool(fields) or bool(lay.waves) or flicker or spec.camera != "static"
    x_left = float(min(pan.min(), 0.0))
    width = float(max(pan.max(), 0.0)) - x_left + 1.0
    base = sc.paint_static(lay, x_left, width, s)
    if lay.windows and not flicker:
        sc.draw_windows(ImageDraw.Draw(base), lay, np.ones(len(lay.windows), bool), x_left, s)
    out = np.empty((len(times), h, w, 3), np.float32)
    if not animated:
        out[:] = np.asarray(base.reduce(ss), np.float32)[None]
        return out
    hi = (w * ss, h * ss)
    centre = (hi[0] / 2, hi[1] / 2)
    for k, t in enumerate(times):
        st = t * tf  # scene time: animation and particles follow the time factor
        if spec.camera.startswith("pan"):
            off = int(round((pan[k] - x_left) * s))
            img = base.crop((off, 0, off + hi[0], hi[1]))
        elif spec.camera.startswith("zoom"):
            z = float(zoom[k])
            cx, cy = centre
            img = base.transform(
                hi, Image.AFFINE, (1 / z, 0, cx - cx / z, 0, 1 / z, cy - cy / z), Image.BILINEAR
            )
        else:
            img = base.copy()
        draw = ImageDraw.Draw(img)
        if flicker:
            sc.draw_windows(
                draw, lay, sc.windows_lit(lay, st, True), float(pan[k]), s, float(zoom[k]), centre
            )
        if lay.waves:
            sc.draw_waves(draw, lay, st, float(pan[k]), s, float(zoom[k]), centre)
        for pf in fields:
            img = sc.draw_particles(img, pf, st, lay.aspect, s)
        out[k] = np.asarray(img.reduce(ss), np.float32)
    return out


def _background_frames(spec: MotionSpec, h: int, w: int, fps: int, n_frames: int):
    """Object-free frames (F, H, W, 3) float32 and the camera track (pan, zoom) of a spec."""
    ss = np.random.SeedSequence([WORLD_VERSION, 7, int(spec.seed)])
    rng_layout, rng_particles = (np.random.default_rng(c) for c in ss.spawn(2))
    times = np.arange(n_frames) / fps
    pan, zoom = _camera_track(spec, times, n_frames / fps)
    lay = sc.sample_layout(spec.scene, h / w, rng_layout, spec.stars)
    frames = _render_background(spec, lay, h, w, times, pan, zoom, rng_particles)
    return frames, pan, zoom


def render_background(
    spec: MotionSpec, size: int | tuple[int, int] = 64, fps: int = 8
) -> np.ndarray:
    """The clip of ``spec`` without its objects: (F, H, W, 3) uint8, same scene and camera."""
    h, w = _check_size(size)
    fps = _check_fps(fps)
    _check_spec(spec)
    n_frames = max(1, int(round(spec.duration_s * fps)))
    frames, _, _ = _background_frames(spec, h, w, fps, n_frames)
    return np.clip(np.round(frames), 0, 255).astype(np.uint8)


def _paint_objects(frames: np.ndarray, spec: MotionSpec, sim: _Sim) -> None:
    """Draw every object of ``sim`` over the float32 frames (F, H, W, 3), in place."""
    _, h, w, _ = frames.shape
    for i, o in enumerate(spec.objects):
        rgb = np.asarray(COLOURS[o.colour].rgb, np.float32)
        for k in range(len(frames)):
            cov = _coverage(
                o.shape,
                sim.pos[k, i, 0] * w,
                sim.pos[k, i, 1] * w,
                sim.diam[k, i] * w,
                sim.angle[k, i],
                h,
                w,
            )
            if cov is None:
                continue
            y0, x0, a = cov
            patch = frames[k, y0 : y0 + a.shape[0], x0 : x0 + a.shape[1]]
            patch += (rgb - patch) * a[..., None]
