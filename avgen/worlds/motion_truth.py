"""MotionWorld ground truth: ``MotionClip.truth`` and ``MotionClip.expected`` of a simulated clip.

``truth`` holds every object's track (centre, angle and diameter per frame), the camera track
and the contact events; ``expected`` is the same clip in the parsed-prompt schema of
docs/CONTRACTS.md section 1. The fields are listed in avgen.worlds.motion and docs/WORLDS.md.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from avgen.vocab import (
    COLOURS,
    GRAVITY_FW,
    SCENES,
    SIZES,
    SPIN_TURNS_PER_S,
    TIME_FACTORS,
    WORLD_VERSION,
)
from avgen.worlds.motion_physics import _Sim
from avgen.worlds.motion_spec import MotionSpec, motion_rate


def _truth(
    spec: MotionSpec,
    sim: _Sim,
    h: int,
    w: int,
    fps: int,
    n_frames: int,
    pan: np.ndarray,
    zoom: np.ndarray,
    seed: int | None,
) -> dict[str, Any]:
    aspect = h / w
    tf = TIME_FACTORS[spec.time]
    objects = []
    for i, o in enumerate(spec.objects):
        rate = motion_rate(o, spec.time)
        centre = np.stack([sim.pos[:, i, 0], sim.pos[:, i, 1] / aspect], 1)
        objects.append(
            {
                "id": i,
                "group": o.group,
                "colour": o.colour,
                "rgb": list(COLOURS[o.colour].rgb),
                "shape": o.shape,
                "size": o.size,
                "diameter": SIZES[o.size],
                "motion": o.motion,
                "direction": o.direction,
                "speed": o.speed,
                "rate": rate,
                "gravity": GRAVITY_FW * rate if o.motion in ("bounce", "fall") else None,
                "spin_turns_per_s": o.turn * SPIN_TURNS_PER_S * rate if o.motion == "spin" else 0.0,
                "centre": np.round(centre, 6).tolist(),
                "angle": np.round(sim.angle[:, i], 4).tolist(),
                "diameters": np.round(sim.diam[:, i], 6).tolist(),
            }
        )
    events = [
        {
            **e,
            "t": round(float(e["t"]), 6),
            "pos": [round(float(v), 6) for v in e["pos"]],
            "speed": round(float(e["speed"]), 6),
        }
        for e in sim.events
    ]
    return {
        "world": "motion",
        "world_version": WORLD_VERSION,
        "seed": seed,
        "size": [h, w],
        "fps": fps,
        "num_frames": n_frames,
        "duration_s": n_frames / fps,
        "scene": spec.scene,
        "stars": spec.stars,
        "flicker": spec.flicker,
        "particles": list(spec.particles),
        "camera": spec.camera,
        "camera_track": {"pan_x": np.round(pan, 6).tolist(), "zoom": np.round(zoom, 6).tolist()},
        "time": spec.time,
        "time_factor": tf,
        "floor_y": SCENES[spec.scene].floor,
        "objects": objects,
        "events": events,
    }


def _expected(spec: MotionSpec, dur: float) -> dict[str, Any]:
    groups: dict[int, dict[str, Any]] = {}
    for o in spec.objects:
        if o.group in groups:
            groups[o.group]["count"] += 1
            continue
        groups[o.group] = {
            "count": 1,
            "colour": o.colour,
            "shape": o.shape,
            "size": o.size,
            "motion": o.motion,
            "direction": o.direction,
            "speed": o.speed,
        }
    return {
        "kind": "video",
        "scene": spec.scene,
        "objects": list(groups.values()),
        "camera": spec.camera,
        "time": spec.time,
        "particles": list(spec.particles),
        "duration_s": dur,
    }
