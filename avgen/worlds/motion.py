"""MotionWorld: seeded procedural video clips with captions and exact ground truth.

A clip is up to three flat-coloured shapes (circle, square, triangle) moving over one of eight
scenes, with optional particle layers and a static, panning or zooming camera. Objects that fall
or bounce are simulated with the pymunk 2D physics engine (Chipmunk) at ``STEPS_PER_SECOND``;
the other motions are prescribed analytically and enter the engine as kinematic bodies, so a
ball that falls onto a resting box really lands on it. Frames are sampled from the simulation
at the clip's fps and rendered with 4 x 4 supersampled coverage (anti-aliased, no texture).

Conventions. Positions are in frame widths (fw) for both axes inside the simulation (x right,
y down, the frame is 1 fw wide and H/W fw tall); speeds in fw/s, gravity in fw/s^2, sizes are
diameters in fw (a square's side, an equilateral triangle's side). The camera moves the scene
only (background and its animation): objects keep their world motion on screen, so every object
attribute reads the same under every camera. "panning left" turns the camera left, so the scene
slides right on screen. Speed words and the time factor scale every motion, gravity, drift and
particle speed; grow / shrink are always x2 / x0.5 over the clip; the camera is not time scaled.

``MotionClip.truth`` (stable; AVWorld and the checkers read it)::

    world, world_version, seed        "motion", vocab.WORLD_VERSION, the seed (None: explicit spec)
    size [H, W], fps, num_frames, duration_s (= num_frames / fps)
    scene, stars, flicker, particles  scene key, bools, list of vocab.PARTICLES keys
    camera                            vocab.CAMERA key
    camera_track {"pan_x": [F], "zoom": [F]}  camera x offset (fw) and zoom factor per frame
    time, time_factor                 vocab.TIME_FACTORS key and value
    floor_y                           floor / ground line as a fraction of frame height
    objects [ {id, group, colour, rgb, shape, size, diameter (fw, at t=0), motion, direction,
               speed, rate (speed factor x time factor), gravity (fw/s^2 or None),
               spin_turns_per_s (signed, + = clockwise on screen),
               centre [[x, y]] per frame (x in frame widths, y in frame heights, screen),
               angle [deg] per frame (+ = clockwise), diameters [fw] per frame} ]
    events [ {t (s, sub-frame exact), kind "bounce" | "land" | "collision",
              pos [x, y] (frame widths / heights), objects [ids], surface "floor" | "object" |
              "wall", speed (impact normal speed, fw/s)} ]   sorted by t

Frame k shows time k / fps. Event times come from the contact inside the physics step
(interpolated by penetration depth), so they are good to about a millisecond of the simulated
motion the frames show; the bounce rule (docs/WORLDS.md) is exact: restitution 0.8 at the
floor, and an object whose rebound would rise less than 0.02 fw comes to rest (that last contact
is still an event). A falling object has restitution 0: it lands (one event) and rests.

``MotionClip.expected`` is the truth in the parsed-prompt schema (docs/CONTRACTS.md section 1):
kind, scene, objects [{count, colour, shape, size, motion, direction, speed}], camera, time,
particles, duration_s. Identical objects form one entry with ``count`` > 1.

API: ``render_motion_clip(seed, ...)`` samples a ``MotionSpec`` (``sample_motion_spec``) and
renders it (``render_motion_spec(spec, size, fps)``, which AVWorld and the benchmarks call with
explicit specs); ``render_background(spec, size, fps)`` gives the same clip without objects.

The parts live beside this module: ``motion_spec`` (specs, validation, prescribed motions),
``motion_sampling`` (the seeded sampler and the readability rules it keeps), ``motion_physics``
(pymunk), ``motion_render`` (scene, camera, objects), ``motion_truth`` (truth and expected) and
``motion_captions``. docs/WORLDS.md describes the world as a whole.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from avgen.errors import AvgenError
from avgen.vocab import WORLD_VERSION
from avgen.worlds.motion_captions import make_captions
from avgen.worlds.motion_physics import _simulate
from avgen.worlds.motion_render import _background_frames, _paint_objects, render_background
from avgen.worlds.motion_sampling import sample_motion_spec
from avgen.worlds.motion_spec import (
    MotionClip,
    MotionSpec,
    ObjectSpec,
    _check_fps,
    _check_size,
    _check_spec,
    _default_positions,
    motion_rate,
)
from avgen.worlds.motion_truth import _expected, _truth

__all__ = [
    "MotionClip",
    "MotionSpec",
    "ObjectSpec",
    "make_captions",
    "motion_rate",
    "render_background",
    "render_motion_clip",
    "render_motion_spec",
    "sample_motion_spec",
]


def render_motion_spec(
    spec: MotionSpec,
    size: int | tuple[int, int] = 64,
    fps: int = 8,
    *,
    seed: int | None = None,
) -> MotionClip:
    """Render an explicit spec: frames, truth, expected and captions (worded from ``spec.seed``).

    ``size`` is an int (square) or (H, W). Objects without a start position are placed on an
    even row above the floor. ``seed`` only goes into ``truth["seed"]``.
    """
    h, w = _check_size(size)
    fps = _check_fps(fps)
    _check_spec(spec)
    aspect = h / w
    spec = replace(spec, objects=_default_positions(spec.objects, spec.scene, aspect))
    n_frames = max(1, int(round(spec.duration_s * fps)))
    dur = n_frames / fps
    rng_words = np.random.default_rng(np.random.SeedSequence([WORLD_VERSION, 8, int(spec.seed)]))
    sim = _simulate(spec, aspect, fps, n_frames)
    frames, pan, zoom = _background_frames(spec, h, w, fps, n_frames)  # (F, H, W, 3) float32
    _paint_objects(frames, spec, sim)
    frames_u8 = np.clip(np.round(frames), 0, 255).astype(np.uint8)  # (F, H, W, 3)
    truth = _truth(spec, sim, h, w, fps, n_frames, pan, zoom, seed)
    expected = _expected(spec, dur)
    captions = make_captions(spec, dur, rng_words)
    return MotionClip(frames_u8, fps, captions, truth, expected, spec)


def render_motion_clip(
    seed: int,
    *,
    size: int = 64,
    fps: int = 8,
    duration_s: float | None = None,
    heldout: str = "exclude",
) -> MotionClip:
    """Render MotionWorld clip number ``seed``: same (WORLD_VERSION, seed, options), same bytes."""
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise AvgenError(f"seed {seed!r} is invalid; use a non-negative integer.")
    spec = sample_motion_spec(seed, size=size, fps=fps, duration_s=duration_s, heldout=heldout)
    return render_motion_spec(spec, size, fps, seed=int(seed))
