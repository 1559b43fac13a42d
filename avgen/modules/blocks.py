"""DiT's adaLN-Zero transformer block (arXiv 2212.09748) with text cross-attention (PixArt-alpha,
arXiv 2310.00426) and the pieces models with their own layer names build it from.

The condition vector c (B, D) (timestep plus pooled text and scalar conditions) sets, through
one zero-initialised linear layer, a shift, scale and gate for the self-attention and for the
MLP, so every block starts as the identity.
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

from avgen.modules.attention import CrossAttention, SelfAttention


def modulate(x: Tensor, shift: Tensor, scale: Tensor) -> Tensor:
    """adaLN: x (B, N, D) * (1 + scale) + shift, with shift and scale (B, D) per sample."""
    return x * (1 + scale[:, None]) + shift[:, None]


def adaln(layer: nn.Linear, c: Tensor, n: int) -> tuple[Tensor, ...]:
    """The n modulation vectors (B, D) each that ``layer`` makes from SiLU(c) (B, D)."""
    return layer(F.silu(c)).chunk(n, dim=-1)


def feed_forward(hidden_size: int, mlp_ratio: float, approximate: str = "none") -> nn.Sequential:
    """Linear -> GELU -> Linear with int(hidden_size * mlp_ratio) inner units."""
    inner = int(hidden_size * mlp_ratio)
    return nn.Sequential(
        nn.Linear(hidden_size, inner),
        nn.GELU(approximate=approximate),
        nn.Linear(inner, hidden_size),
    )


class AdaLNZeroBlock(nn.Module):
    """adaLN-Zero self-attention (RoPE) + unmodulated cross-attention + adaLN-Zero MLP.

    ``context_dim`` is the width of the context the cross-attention reads (default: hidden_size,
    a context already projected); ``gelu`` is the MLP's GELU approximation ("tanh" as in DiT).
    """

    def __init__(
        self,
        hidden_size: int,
        num_heads: int,
        mlp_ratio: float = 4.0,
        context_dim: int | None = None,
        gelu: str = "tanh",
    ) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(hidden_size, elementwise_affine=False, eps=1e-6)
        self.attn = SelfAttention(hidden_size, num_heads)
        self.norm2 = nn.LayerNorm(hidden_size, eps=1e-6)
        self.cross = CrossAttention(hidden_size, num_heads, context_dim)
        self.norm3 = nn.LayerNorm(hidden_size, elementwise_affine=False, eps=1e-6)
        self.mlp = feed_forward(hidden_size, mlp_ratio, gelu)
        self.ada = nn.Linear(hidden_size, 6 * hidden_size)
        nn.init.zeros_(self.ada.weight)  # adaLN-Zero: gates start at 0, the block is skipped
        nn.init.zeros_(self.ada.bias)

    def forward(
        self,
        x: Tensor,
        c: Tensor,
        context: Tensor,
        context_mask: Tensor | None,
        rope: tuple[Tensor, Tensor] | None = None,
        mask: Tensor | None = None,
    ) -> Tensor:
        """x (B, N, D), c (B, D), context (B, L, context_dim), context_mask (B, L) bool;
        ``mask`` bool broadcastable to (B, heads, N, N) limits the self-attention."""
        sh1, sc1, g1, sh2, sc2, g2 = adaln(self.ada, c, 6)  # (B, D) each
        x = x + g1[:, None] * self.attn(modulate(self.norm1(x), sh1, sc1), rope, mask)
        x = x + self.cross(self.norm2(x), context, context_mask)
        return x + g2[:, None] * self.mlp(modulate(self.norm3(x), sh2, sc2))
