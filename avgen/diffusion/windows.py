"""Windowed sampling of long latents: the window plan and the latent cross-fade between windows.

A denoiser trained on fixed-length windows makes longer clips window after window (as
MultiDiffusion and AudioLDM's long-audio recipe do): every window has the trained length,
windows advance by ``window - overlap`` and the last one is pulled back to end at the end. Each
window after the first inpaints its first ``overlap`` frames from the previous window
(RePaint-style replacement inside the sampler) with a soft keep mask whose last quarter ramps
from 1 to 0: a cross-fade in latent space at every step. Used by avgen's text-to-audio pipeline
and by the exported diffusers pipeline, so both make the same samples.
"""

from __future__ import annotations

from collections.abc import Callable

import torch


def plan_windows(total: int, window: int, overlap: int) -> list[tuple[int, int]]:
    """(start, length) of each window covering ``total`` latent frames; every window is
    ``window`` long (a shorter clip is one window, cropped later)."""
    starts = [0]
    while starts[-1] + window < total:
        starts.append(min(starts[-1] + window - overlap, total - window))
    return [(s, window) for s in starts]


def overlap_inpaint(
    latent: torch.Tensor, plan: list[tuple[int, int]], k: int, shape: tuple[int, ...]
) -> tuple[torch.Tensor, torch.Tensor]:
    """Window ``k``'s (known, keep) inpainting pair: the previous window's overlap taken from
    ``latent`` (B, C, H, total), and a keep mask (1, 1, 1, length) that is 1 over the overlap
    with a soft last quarter (the cross-fade). ``k`` must be 1 or more."""
    start, length = plan[k]
    prev_end = plan[k - 1][0] + plan[k - 1][1]
    overlap = prev_end - start
    known = torch.zeros(shape, device=latent.device)  # (B, C, H, length)
    known[..., :overlap] = latent[..., start:prev_end]
    keep = torch.zeros(1, 1, 1, length, device=latent.device)
    keep[..., :overlap] = 1.0
    fade = max(1, overlap // 4)  # soft edge: a latent cross-fade at every step
    keep[..., overlap - fade : overlap] = torch.linspace(1.0, 0.0, fade + 2)[1:-1]
    return known, keep


def window_callback(
    callback: Callable[[int, int], None] | None, done: int, total: int
) -> Callable[[int, int], None]:
    """A sampler callback for one window that reports ``callback(done + step, total)``: the
    progress over all windows (``done`` steps of earlier windows, ``total`` in all)."""

    def step(i: int, n: int) -> None:
        if callback is not None:
            callback(done + i, total)

    return step
