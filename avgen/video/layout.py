"""The per-token layout condition of the video DiT: a motion plan at latent resolution.

A motion plan (``avgen.plan.MotionPlan``) says where each object is in every output frame. The
DiT reads it per latent cell (``VideoDiT`` with ``layout_dim = FEATURES``, ``cond["layout"]``
(B, FEATURES, F', h, w)): from the plan's ``layout()`` (which object covers which cell; never
its colour or shape, which still come from the text) each cell gets

- ``plan``: 1 everywhere when a plan is given (a tensor of zeros means "no plan", what plan
  dropout trains), so an empty cell of a plan reads "nothing here", not "unknown";
- ``occupied``: 1 where an object covers the cell;
- ``dx``, ``dy``: the covering object's centre minus the cell centre, in cells / 4 (sub-cell
  positions for small objects), clipped to [-1, 1];
- ``w``, ``h``: its extent in frame fractions x 4;
- ``slot``: a one-hot of the object's index in the plan modulo ``SLOTS`` (instance identity:
  which cells belong to the same object, frame after frame, so one object stays one object).

Latent frame j of the causal VAE (temporal factor r) stands for video frames r j - r + 1 .. r j
(frame 0 alone for j = 0); its layout is that of video frame ``max(0, r j - r // 2)``, taken
from the plan by time (the plan's own fps may differ from the video's, as ``_retime`` picks
source frames by time), and clamped to the plan's frames.
"""

from __future__ import annotations

import numpy as np

from avgen.errors import AvgenError

SLOTS = 4
FEATURES = 6 + SLOTS  # plan, occupied, dx, dy, w, h, slot one-hot


def latent_video_frames(num_latent: int, temporal_factor: int) -> list[int]:
    """The video frame (from the window's first) each latent frame's layout is taken from."""
    r = int(temporal_factor)
    return [0 if j == 0 else max(0, r * j - r // 2) for j in range(num_latent)]


def plan_frame_indices(plan, video_frames: list[int], fps: float) -> list[int]:
    """The plan's frame shown at each video frame index (by time, as the data loader retimes),
    clamped to the plan's frames (a frame before the plan: its first; after it: its last)."""
    out = []
    for v in video_frames:
        k = int(np.floor(v / float(fps) * plan.fps + 1e-6))
        out.append(min(max(k, 0), plan.num_frames - 1))
    return out


def layout_features(plan, frames: list[int], height: int, width: int) -> np.ndarray:
    """(FEATURES, len(frames), height, width) float32 features of the plan's ``frames``."""
    ids = plan.layout(frames, height, width)  # (F, h, w): 0 none, k + 1 objects[k]
    out = np.zeros((FEATURES, len(frames), height, width), np.float32)
    out[0] = 1.0
    cy = (np.arange(height) + 0.5) / height
    cx = (np.arange(width) + 0.5) / width
    for j, k in enumerate(frames):
        for i, o in enumerate(plan.objects):
            cells = ids[j] == i + 1
            if not cells.any():
                continue
            f = o.frames[k]
            out[1, j][cells] = 1.0
            dx = np.clip((f.x - cx[None, :]) * width / 4.0, -1.0, 1.0)
            dy = np.clip((f.y - cy[:, None]) * height / 4.0, -1.0, 1.0)
            out[2, j][cells] = np.broadcast_to(dx, (height, width))[cells]
            out[3, j][cells] = np.broadcast_to(dy, (height, width))[cells]
            out[4, j][cells] = min(f.w * 4.0, 4.0)
            out[5, j][cells] = min(f.h * 4.0, 4.0)
            out[6 + i % SLOTS, j][cells] = 1.0
    return out


def window_layout(
    plan,
    first_frame: int,
    num_latent: int,
    height: int,
    width: int,
    fps: float,
    temporal_factor: int,
) -> np.ndarray:
    """The layout condition (FEATURES, num_latent, height, width) of a window whose first video
    frame is ``first_frame`` of the planned clip (negative for context frames before it): the
    window's part of the plan (``MotionPlan.window``) at its latent frames."""
    if num_latent < 1 or height < 1 or width < 1:
        raise AvgenError(
            f"layout grid {num_latent}x{height}x{width} must be at least 1x1x1 latent cells."
        )
    video = [first_frame + v for v in latent_video_frames(num_latent, temporal_factor)]
    idx = plan_frame_indices(plan, video, fps)
    lo, hi = min(idx), max(idx) + 1
    part = plan.window(lo, hi)
    return layout_features(part, [k - lo for k in idx], height, width)
