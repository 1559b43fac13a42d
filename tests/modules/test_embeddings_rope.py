"""Tests for avgen.modules' embedders and rotary position embeddings."""

import math

import torch

from avgen.modules import (
    NumberEmbedder,
    SinusoidalEmbedder,
    apply_rope,
    embedding_mlp,
    rope_1d,
    rope_3d,
    sinusoidal_embedding,
)


def test_sinusoidal_embedding_values_and_shape():
    x = torch.tensor([0.0, 3.0])
    emb = sinusoidal_embedding(x, 8)
    assert emb.shape == (2, 8)
    torch.testing.assert_close(emb[0], torch.tensor([1.0] * 4 + [0.0] * 4))
    freqs = torch.exp(-math.log(10000.0) * torch.arange(4) / 4)
    torch.testing.assert_close(emb[1, :4], torch.cos(3.0 * freqs))


def test_sinusoidal_embedder_scale_and_seed():
    torch.manual_seed(0)
    a = SinusoidalEmbedder(16, freq_dim=32, scale=1000.0)
    torch.manual_seed(0)
    b = SinusoidalEmbedder(16, freq_dim=32, scale=1000.0)
    t = torch.tensor([0.25, 0.5, 1.0])
    assert a(t).shape == (3, 16)
    assert torch.equal(a(t), b(t))
    torch.testing.assert_close(a(t), a.mlp(sinusoidal_embedding(t * 1000.0, 32)))
    assert list(a.state_dict()) == ["mlp.0.weight", "mlp.0.bias", "mlp.2.weight", "mlp.2.bias"]


def test_embedding_mlp_layout():
    mlp = embedding_mlp(5, 7)
    assert [type(m).__name__ for m in mlp] == ["Linear", "SiLU", "Linear"]
    assert mlp(torch.randn(2, 5)).shape == (2, 7)


def test_number_embedder_unknown_values_and_clamping():
    torch.manual_seed(0)
    emb = NumberEmbedder(12, 40.0, 240.0)
    with torch.no_grad():
        emb.null.fill_(0.5)
        out = emb(torch.tensor([120.0, float("nan"), 1000.0, 240.0]), 4)
        assert out.shape == (4, 12)
        assert torch.equal(out[1], torch.full((12,), 0.5))
        torch.testing.assert_close(out[2], out[3])  # clamped to the top of the range
        assert torch.equal(emb(None, 3), torch.full((3, 12), 0.5))
    assert "freqs" not in emb.state_dict()  # a fixed table, not a weight


def test_rope_tables_shapes():
    cos, sin = rope_1d(7, 16)
    assert cos.shape == sin.shape == (7, 8)
    torch.testing.assert_close(cos[0], torch.ones(8))
    cos3, sin3 = rope_3d((2, 3, 4), 16)
    assert cos3.shape == sin3.shape == (24, 8)


def test_rope_preserves_norms_and_gives_relative_scores():
    torch.manual_seed(0)
    cos, sin = rope_1d(10, 8)
    q = torch.randn(1, 1, 1, 8).expand(1, 1, 10, 8)
    k = torch.randn(1, 1, 1, 8).expand(1, 1, 10, 8)
    rq, rk = apply_rope(q, cos, sin), apply_rope(k, cos, sin)
    torch.testing.assert_close(rq.norm(dim=-1), q.norm(dim=-1))
    scores = rq[0, 0] @ rk[0, 0].T  # (10, 10)
    torch.testing.assert_close(scores[2, 5], scores[6, 9])  # offset 3 either way
    torch.testing.assert_close(scores[4, 1], scores[8, 5])


def test_rope_3d_splits_pairs_over_axes():
    # head_dim 12: 6 pairs, h and w get 2 each, t gets 2; moving along w leaves t/h pairs alone
    cos, _ = rope_3d((2, 2, 3), 12)
    grid = cos.reshape(2, 2, 3, 6)
    assert torch.equal(grid[0, 0, 0, :4], grid[0, 0, 2, :4])
    assert not torch.equal(grid[0, 0, 0, 4:], grid[0, 0, 2, 4:])
    assert torch.equal(grid[0, 0, 0, 2:], grid[1, 0, 0, 2:])
