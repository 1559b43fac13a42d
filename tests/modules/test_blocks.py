"""Tests for avgen.modules' attention and adaLN-Zero blocks: shapes, masks, zero init, seeds."""

import pytest
import torch
import torch.nn.functional as F

from avgen.modules import (
    AdaLNZeroBlock,
    CrossAttention,
    SelfAttention,
    adaln,
    attention,
    feed_forward,
    kl_divergence,
    modulate,
    rope_1d,
)
from avgen.modules.attention import merge_heads, split_heads


def test_modulate_and_adaln_shapes():
    x = torch.randn(2, 5, 8)
    shift, scale = torch.randn(2, 8), torch.randn(2, 8)
    out = modulate(x, shift, scale)
    assert out.shape == (2, 5, 8)
    torch.testing.assert_close(out[1, 3], x[1, 3] * (1 + scale[1]) + shift[1])
    layer = torch.nn.Linear(8, 6 * 8)
    parts = adaln(layer, torch.randn(2, 8), 6)
    assert len(parts) == 6 and all(p.shape == (2, 8) for p in parts)


def test_split_and_merge_heads_invert():
    x = torch.randn(2, 7, 12)
    h = split_heads(x, 3)
    assert h.shape == (2, 3, 7, 4)
    assert torch.equal(merge_heads(h), x)


def test_attention_matches_a_loop_over_heads_and_respects_masks():
    torch.manual_seed(0)
    q, k, v = torch.randn(2, 4, 8), torch.randn(2, 6, 8), torch.randn(2, 6, 8)
    mask = torch.tensor([[True] * 6, [True] * 2 + [False] * 4])[:, None, None, :]
    out = attention(q, k, v, 2, mask)
    assert out.shape == (2, 4, 8)
    for b in range(2):
        keep = mask[b, 0, 0]
        for h in range(2):
            sl = slice(4 * h, 4 * h + 4)
            w = torch.softmax(q[b, :, sl] @ k[b, keep, sl].T / 2.0, dim=-1)
            torch.testing.assert_close(out[b, :, sl], w @ v[b, keep, sl])
    # masked keys have no influence
    v2 = v.clone()
    v2[1, 2:] = 100.0
    torch.testing.assert_close(attention(q, k, v2, 2, mask)[1], out[1])


def test_self_attention_with_rope_depends_on_relative_positions_only():
    torch.manual_seed(0)
    attn = SelfAttention(16, 2).eval()
    x = torch.randn(1, 6, 16)
    with torch.no_grad():
        out = attn(x, rope_1d(6, 8))
        assert out.shape == (1, 6, 16)
        cos, sin = rope_1d(9, 8)
        torch.testing.assert_close(attn(x, (cos[3:], sin[3:])), out)  # positions 3..8: same
        # without positions attention is order-blind; with them, reversing the order matters
        torch.testing.assert_close(attn(x.flip(1)).flip(1), attn(x))
        assert not torch.allclose(attn(x.flip(1), rope_1d(6, 8)).flip(1), out)
        mask = torch.eye(6, dtype=torch.bool)[None, None]  # each token attends to itself only
        torch.testing.assert_close(
            attn(x, rope_1d(6, 8), mask), attn.out(attn.qkv(x).chunk(3, -1)[2])
        )


def test_cross_attention_context_width_and_mask():
    torch.manual_seed(0)
    cross = CrossAttention(16, 4, context_dim=10)
    ctx = torch.randn(2, 3, 10)
    mask = torch.tensor([[True, True, False], [True, False, False]])
    out = cross(torch.randn(2, 5, 16), ctx, mask)
    assert out.shape == (2, 5, 16)
    assert cross.kv.in_features == 10
    ctx2 = ctx.clone()
    ctx2[1, 1:] = 50.0
    x = torch.randn(2, 5, 16)
    torch.testing.assert_close(cross(x, ctx2, mask)[1], cross(x, ctx, mask)[1])


def test_adaln_zero_block_starts_as_cross_attention_only():
    torch.manual_seed(0)
    block = AdaLNZeroBlock(16, 2, mlp_ratio=2.0, context_dim=12).eval()
    assert torch.count_nonzero(block.ada.weight) == 0
    x, c = torch.randn(2, 5, 16), torch.randn(2, 16)
    ctx, ctx_mask = torch.randn(2, 3, 12), torch.ones(2, 3, dtype=torch.bool)
    with torch.no_grad():
        out = block(x, c, ctx, ctx_mask, rope_1d(5, 8))
        assert out.shape == (2, 5, 16)
        torch.testing.assert_close(out, x + block.cross(block.norm2(x), ctx, ctx_mask))


def test_adaln_zero_block_is_seeded_and_gradients_reach_the_gates():
    def build() -> AdaLNZeroBlock:
        torch.manual_seed(3)
        return AdaLNZeroBlock(16, 4, mlp_ratio=2.0)

    a, b = build(), build()
    for (na, pa), (nb, pb) in zip(a.state_dict().items(), b.state_dict().items()):
        assert na == nb and torch.equal(pa, pb)
    assert sorted(a.state_dict())[:3] == ["ada.bias", "ada.weight", "attn.out.bias"]
    x, c, ctx = torch.randn(1, 4, 16), torch.randn(1, 16), torch.randn(1, 2, 16)
    assert torch.equal(a(x, c, ctx, None), b(x, c, ctx, None))
    a(x, c, ctx, None).sum().backward()
    assert a.ada.weight.grad is not None and a.ada.weight.grad.abs().sum() > 0


def test_feed_forward_gelu_choice():
    ff = feed_forward(8, 1.5, "tanh")
    assert ff[0].out_features == 12 and ff[1].approximate == "tanh"
    x = torch.randn(3, 8)
    torch.testing.assert_close(ff(x), ff[2](F.gelu(ff[0](x), approximate="tanh")))


def test_kl_divergence_zero_at_the_prior():
    assert float(kl_divergence(torch.zeros(2, 3), torch.zeros(2, 3))) == 0.0
    assert float(kl_divergence(torch.ones(2, 3), torch.zeros(2, 3))) == pytest.approx(0.5)
