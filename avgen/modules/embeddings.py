"""Embedders of scalars (diffusion time, frame rate, tempo, duration) into the model width.

``SinusoidalEmbedder`` is DiT's timestep embedder (arXiv 2212.09748): sin/cos features at
geometric frequencies, then an MLP. ``NumberEmbedder`` is Stable Audio's number conditioner
(arXiv 2402.04825) for a value in a known range, with a learned vector for "unknown".
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn


def sinusoidal_embedding(x: Tensor, dim: int, max_period: float = 10000.0) -> Tensor:
    """(B,) scalars -> (B, dim) features [cos(x f), sin(x f)], f = max_period^(-i / (dim / 2))."""
    half = dim // 2
    freqs = torch.exp(-math.log(max_period) * torch.arange(half, device=x.device) / half)
    args = x.float()[:, None] * freqs[None]  # (B, half)
    return torch.cat([torch.cos(args), torch.sin(args)], dim=-1)


def embedding_mlp(in_dim: int, hidden_size: int) -> nn.Sequential:
    """Linear -> SiLU -> Linear, the MLP behind every embedder (and the pooled-text one)."""
    return nn.Sequential(
        nn.Linear(in_dim, hidden_size), nn.SiLU(), nn.Linear(hidden_size, hidden_size)
    )


class SinusoidalEmbedder(nn.Module):
    """Scalar (B,) -> (B, hidden_size): ``sinusoidal_embedding(x * scale)`` then an MLP.

    ``scale`` 1000 turns flow time t in [0, 1] into DiT's 0..1000 timestep range.
    """

    def __init__(self, hidden_size: int, freq_dim: int = 256, scale: float = 1.0) -> None:
        super().__init__()
        self.freq_dim, self.scale = freq_dim, scale
        self.mlp = embedding_mlp(freq_dim, hidden_size)

    def forward(self, x: Tensor) -> Tensor:
        return self.mlp(sinusoidal_embedding(x * self.scale, self.freq_dim))


class NumberEmbedder(nn.Module):
    """A number in [lo, hi] (B,) -> Fourier features -> MLP (B, hidden_size).

    The value is clamped into the range; NaN, or no value at all, means "unknown" and gives
    the learned ``null`` vector (so conditions can be dropped for classifier-free guidance).
    """

    def __init__(self, hidden_size: int, lo: float, hi: float, n_freq: int = 16) -> None:
        super().__init__()
        self.lo, self.hi = lo, hi
        self.register_buffer("freqs", 2.0 ** torch.arange(n_freq) * math.pi, persistent=False)
        self.mlp = embedding_mlp(2 * n_freq, hidden_size)
        self.null = nn.Parameter(torch.zeros(hidden_size))

    def forward(self, value: Tensor | None, batch: int) -> Tensor:
        if value is None:
            return self.null.expand(batch, -1)
        value = value.float().reshape(-1)
        known = torch.isfinite(value)
        u = ((torch.nan_to_num(value, nan=self.lo) - self.lo) / (self.hi - self.lo)).clamp(0, 1)
        args = u[:, None] * self.freqs[None]  # (B, n_freq)
        emb = self.mlp(torch.cat([args.sin(), args.cos()], dim=-1))
        return torch.where(known[:, None], emb, self.null.expand_as(emb))
