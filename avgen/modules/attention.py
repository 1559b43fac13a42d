"""Multi-head attention over token sequences with optional RoPE and masks.

Own code around ``F.scaled_dot_product_attention`` (PyTorch picks the fused kernel): the
projections are plain ``nn.Linear`` layers so LoRA (peft) can target them by name.
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

from avgen.modules.rope import apply_rope


def split_heads(x: Tensor, num_heads: int) -> Tensor:
    """(B, N, D) -> (B, heads, N, D / heads)."""
    b, n, d = x.shape
    return x.view(b, n, num_heads, d // num_heads).transpose(1, 2)


def merge_heads(x: Tensor) -> Tensor:
    """(B, heads, N, head_dim) -> (B, N, heads * head_dim)."""
    b, h, n, hd = x.shape
    return x.transpose(1, 2).reshape(b, n, h * hd)


def attention(
    q: Tensor,
    k: Tensor,
    v: Tensor,
    num_heads: int,
    mask: Tensor | None = None,
    rope: tuple[Tensor, Tensor] | None = None,
) -> Tensor:
    """Scaled dot-product attention of queries (B, N, D) on keys and values (B, L, D).

    ``mask`` is a bool (True = attend) broadcastable to (B, heads, N, L); ``rope`` the (cos, sin)
    tables that rotate queries and keys (self-attention, N = L).
    """
    q, k, v = split_heads(q, num_heads), split_heads(k, num_heads), split_heads(v, num_heads)
    if rope is not None:
        q, k = apply_rope(q, *rope), apply_rope(k, *rope)
    return merge_heads(F.scaled_dot_product_attention(q, k, v, attn_mask=mask))  # (B, N, D)


class SelfAttention(nn.Module):
    """Self-attention with rotary positions: ``qkv`` and ``out`` projections."""

    def __init__(self, hidden_size: int, num_heads: int) -> None:
        super().__init__()
        self.num_heads = num_heads
        self.qkv = nn.Linear(hidden_size, 3 * hidden_size)
        self.out = nn.Linear(hidden_size, hidden_size)

    def forward(
        self, x: Tensor, rope: tuple[Tensor, Tensor] | None = None, mask: Tensor | None = None
    ) -> Tensor:
        """x (B, N, D) -> (B, N, D); ``mask`` bool broadcastable to (B, heads, N, N)."""
        q, k, v = self.qkv(x).chunk(3, dim=-1)  # (B, N, D) each
        return self.out(attention(q, k, v, self.num_heads, mask, rope))


class CrossAttention(nn.Module):
    """Attention of tokens on a context (text tokens): ``q``, ``kv`` and ``out`` projections."""

    def __init__(self, hidden_size: int, num_heads: int, context_dim: int | None = None) -> None:
        super().__init__()
        self.num_heads = num_heads
        self.q = nn.Linear(hidden_size, hidden_size)
        self.kv = nn.Linear(context_dim or hidden_size, 2 * hidden_size)
        self.out = nn.Linear(hidden_size, hidden_size)

    def forward(self, x: Tensor, context: Tensor, context_mask: Tensor | None = None) -> Tensor:
        """x (B, N, D), context (B, L, context_dim), context_mask (B, L) bool -> (B, N, D)."""
        k, v = self.kv(context).chunk(2, dim=-1)  # (B, L, D) each
        mask = None if context_mask is None else context_mask[:, None, None, :]  # (B, 1, 1, L)
        return self.out(attention(self.q(x), k, v, self.num_heads, mask))
