"""Analytic video checkers: does a clip show what its parsed prompt asks for?

``check_video(frames, fps, expected)`` segments the clip's objects from the background by
colour (the eight object colours of docs/WORLDS.md against the expected scene's own colours; a
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
camera only (docs/WORLDS.md); the spin of a disc is not measurable, nor a pan over a flat backdrop.

The checker's contract is in docs/CONTRACTS.md section 3. The parts live beside this module:
``video_tracking`` (segmentation and tracks), ``video_motion`` (what one track does),
``video_camera`` (camera and particles) and ``video_objects`` (the per-group entries).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import ndimage
from scipy.spatial import cKDTree

from avgen.errors import AvgenError
from avgen.vocab import SCENES, TIME_FACTORS
from avgen.worlds.video_camera import (
    PARTICLE_DIST,
    PARTICLE_MIN,
    _camera_class,
    _particles,
    measure_camera,
)
from avgen.worlds.video_motion import TrackMotion, track_motion
from avgen.worlds.video_objects import _check_objects, _entry, _r
from avgen.worlds.video_tracking import (
    OBJ_RGB,
    Analysis,
    ObjectTrack,
    _background,
    _palette_distance,
    scene_palette,
    track_objects,
)

__all__ = [
    "Analysis",
    "ObjectTrack",
    "TrackMotion",
    "check_video",
    "measure_camera",
    "scene_palette",
    "track_motion",
    "track_objects",
]

BG_CHANGE_MAX = 6.0  # largest per-frame median |frame - median frame| of a still backdrop


def check_video(frames: np.ndarray, fps: float, expected: dict) -> dict[str, dict]:
    """Measure a clip against a parsed-prompt dict; attribute -> {expected, measured, match, ...}.

    ``frames`` (F, H, W, 3) uint8 RGB (floats in [0, 1] are accepted). See the module docstring
    for the attributes and how each is measured.
    """
    frames = _check_inputs(frames, fps)
    fps = float(fps)
    f, h, w, _ = frames.shape
    duration = f / fps
    camera = expected.get("camera") or "static"
    static = camera == "static"
    particles = tuple(expected.get("particles") or ())
    out: dict[str, dict] = {}
    if expected.get("duration_s"):
        exp_d = float(expected["duration_s"])
        out["duration_s"] = _entry(
            exp_d, round(duration, 4), abs(duration - exp_d) <= max(0.5 / fps, 0.05 * exp_d) + 1e-9
        )
    # 1. segmentation and tracks
    scene, an = _analyse(frames, expected.get("scene"), static, particles)
    # 2. scene
    if expected.get("scene"):
        best = _best_scene(an.background, static, h, w)
        out["scene"] = _entry(scene, best, best == scene)
    # 3. camera
    d0, cam = _measure_camera(frames, fps, scene, an, static)
    if expected.get("camera"):
        out["camera"] = _camera_entry(camera, cam)
    # 4. particles
    if particles:
        d_scene = d0 if scene in SCENES else None
        out["particles"] = _particles_entry(frames, an.labels, d_scene, cam, fps, particles)
    # 5. background consistency (static camera only)
    if expected.get("camera") == "static" and len(frames) >= 2:
        out["background_consistency"] = _background_entry(frames, an.labels)
    # 6. objects
    time_f = TIME_FACTORS.get(expected.get("time") or "normal", 1.0)
    out.update(_check_objects(expected, an.tracks, fps, h / w, duration, camera, time_f))
    return out


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


def _best_scene(background: np.ndarray, static: bool, h: int, w: int) -> str:
    """The scene whose rendered colours explain the object-free background (F, H, W, 3) best."""
    bg = background.mean(0) if static else background[len(background) // 2]
    px = bg.reshape(-1, 3)
    scores = {}
    for s in SCENES:
        dist, _ = cKDTree(scene_palette(s, h, w)).query(px)
        scores[s] = float(np.mean(np.minimum(dist, 60.0)))
    return min(scores, key=scores.get)


def _analyse(
    frames: np.ndarray, scene: str | None, static: bool, particles: tuple[str, ...]
) -> tuple[str | None, Analysis]:
    """The scene to measure against and the clip's tracks.

    A prompt without a scene gets the scene the frames show, first measured on a palette of
    the clip's median colours; its palette then gives the tracks, so a terse prompt is measured
    like a full one.
    """
    _, h, w, _ = frames.shape
    if scene in SCENES:
        return scene, track_objects(frames, scene_palette(scene, h, w, particles), static)
    med = np.median(frames, axis=0).reshape(-1, 3).astype(np.float32)
    far = np.linalg.norm(med[:, None] - OBJ_RGB[None], axis=2).min(1) > 60
    an = track_objects(frames, np.unique(med[far], axis=0), static)
    if not scene:
        scene = _best_scene(an.background, static, h, w)
        an = track_objects(frames, scene_palette(scene, h, w, particles), static)
    return scene, an


def _measure_camera(
    frames: np.ndarray, fps: float, scene: str | None, an: Analysis, static: bool
) -> tuple[np.ndarray, dict[str, Any]]:
    """Each pixel's distance to the scene's colours (F, H, W) and the measured camera."""
    _, h, w, _ = frames.shape
    pal0 = scene_palette(scene, h, w) if scene in SCENES else an.palette
    d0 = _palette_distance(frames, pal0)  # far from every scene colour: particles (or objects)
    scene_px = (d0 <= PARTICLE_DIST) & ~ndimage.binary_dilation(
        an.labels > 0, structure=np.ones((1, 3, 3), bool)
    )
    # per-frame backgrounds: the static-camera median would hide the very motion measured here
    moving_bg = an.background if not static else _background(frames, an.labels, False)
    cam = measure_camera(moving_bg, fps, scene_px if scene in SCENES else None)
    return d0, cam


def _camera_entry(camera: str, cam: dict[str, Any]) -> dict[str, Any]:
    if cam["pan"] is None:
        return _entry(camera, None, None, "background has no visible structure")
    cls = _camera_class(cam)
    return _entry(
        camera,
        cls,
        cls == camera,
        (
            f"pan {_r(cam['pan'])} fw/s (gain {cam['pan_gain']:.2f}), zoom "
            f"{_r(cam['zoom'])} (gain {cam['zoom_gain']:.2f})"
        ),
    )


def _particles_entry(
    frames: np.ndarray,
    labels: np.ndarray,
    d0: np.ndarray | None,
    cam: dict[str, Any],
    fps: float,
    particles: tuple[str, ...],
) -> dict[str, Any]:
    dens = _particles(frames, labels, d0, cam, fps)
    found = []
    if dens["snow"] >= PARTICLE_MIN["snow"] and dens["snow"] >= 2 * dens["rain"]:
        found.append("snow")
    if dens["rain"] >= PARTICLE_MIN["rain"] and dens["rain"] >= 0.5 * dens["snow"]:
        found.append("rain")  # flakes merge into a few tall blobs; rain makes mostly streaks
    return _entry(
        sorted(particles),
        found,
        set(found) == set(particles),
        f"specks {dens['snow']:.1f}, streaks {dens['rain']:.1f} a frame",
    )


def _background_entry(frames: np.ndarray, labels: np.ndarray) -> dict[str, Any]:
    """Most of a still backdrop stays put; waves, flickering windows and particles touch only a
    minority of pixels."""
    f, h, w, _ = frames.shape
    fr = frames.astype(np.float32)
    ref = np.median(fr, axis=0)
    objm = ndimage.binary_dilation(labels > 0, structure=np.ones((1, 5, 5), bool))
    objm |= objm.any(0, keepdims=True)
    keep = ~objm[0]
    change = 0.0
    if keep.sum() > 0.1 * h * w:
        diffs = [float(np.median(np.abs(fr[i] - ref).max(-1)[keep])) for i in range(f)]
        change = float(np.max(diffs))
    return _entry(
        "still",
        round(change, 2),
        change <= BG_CHANGE_MAX,
        "largest per-frame median |difference| from the clip's median backdrop",
    )
