"""Rotary position embeddings (RoFormer, arXiv 2104.09864) over 1-D and 3-D token grids.

Angles are (N, head_dim / 2) tables of cos and sin for tokens in sequence order; ``apply_rope``
rotates interleaved feature pairs (0, 1), (2, 3), ... of queries and keys by them, so attention
scores depend on relative positions only and no position table fixes the length or size. The
two tables keep the exact float32 formulas the shipped models were trained with.
"""

from __future__ import annotations

import torch
from torch import Tensor


def rope_1d(
    n: int, head_dim: int, theta: float = 10000.0, device: torch.device | str | None = None
) -> tuple[Tensor, Tensor]:
    """cos, sin (n, head_dim / 2) for positions 0..n-1: frequency of pair i is theta^(-2i/d)."""
    inv = 1.0 / (theta ** (torch.arange(0, head_dim, 2, device=device).float() / head_dim))
    angles = torch.arange(n, device=device).float()[:, None] * inv[None]  # (N, head_dim / 2)
    return angles.cos(), angles.sin()


def rope_3d(
    grid: tuple[int, int, int],
    head_dim: int,
    theta: float = 10000.0,
    device: torch.device | str | None = None,
) -> tuple[Tensor, Tensor]:
    """cos, sin (N, head_dim / 2) for a (t, h, w) grid of N tokens in (t, h, w) order.

    The pairs are split over the axes: h and w get pairs // 3 each, t the rest; an axis with n
    pairs rotates pair i at theta^(-i/n) per step.
    """
    pairs = head_dim // 2
    n_h = n_w = pairs // 3
    n_t = pairs - n_h - n_w
    angles = []
    for size, n in zip(grid, (n_t, n_h, n_w)):
        freqs = theta ** (-torch.arange(n, device=device, dtype=torch.float32) / max(n, 1))
        angles.append(torch.arange(size, device=device, dtype=torch.float32)[:, None] * freqs)
    gt, gh, gw = grid
    a = torch.cat(
        [
            angles[0][:, None, None].expand(gt, gh, gw, n_t),
            angles[1][None, :, None].expand(gt, gh, gw, n_h),
            angles[2][None, None, :].expand(gt, gh, gw, n_w),
        ],
        dim=-1,
    ).reshape(gt * gh * gw, pairs)  # (N, pairs), tokens in (t, h, w) order
    return a.cos(), a.sin()


def apply_rope(x: Tensor, cos: Tensor, sin: Tensor) -> Tensor:
    """Rotate (B, heads, N, head_dim) by interleaved pairs; cos/sin (N, head_dim / 2)."""
    x1, x2 = x.unflatten(-1, (-1, 2)).unbind(-1)  # (B, heads, N, pairs) each
    out = torch.stack([x1 * cos - x2 * sin, x1 * sin + x2 * cos], dim=-1)
    return out.flatten(-2)
