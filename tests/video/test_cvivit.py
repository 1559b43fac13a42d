"""Tests for avgen.video.cvivit: shapes, causality (prime frames), FSQ, save/load, training."""

import json

import pytest
import torch

from avgen.errors import AvgenError
from avgen.video.cvivit import FSQ, CViViT, CViViTConfig

TINY = dict(stem_channels=(4, 8, 16), hidden_size=16, num_layers=1, num_heads=2)


def tiny(seed: int = 0, **kw) -> CViViT:
    torch.manual_seed(seed)
    return CViViT(**{**TINY, **kw}).eval()


def clip(b: int, f: int, h: int = 32, w: int = 32, seed: int = 1) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.rand(b, 3, f, h, w, generator=g) * 2 - 1


def test_interface_numbers():
    m = tiny()
    assert m.codebook_size == 1000
    assert m.temporal_patch == 2 and m.spatial_factor == 8
    assert m.token_shape(17, 64, 64) == (9, 8, 8)
    assert m.token_shape(1, 32, 48) == (1, 4, 6)
    assert [m.num_frames_for(t) for t in (1, 2, 9)] == [1, 3, 17]
    with pytest.raises(AvgenError):
        m.token_shape(17, 60, 64)


@pytest.mark.parametrize("frames", [1, 3, 5, 9, 17])
def test_shapes_any_number_of_frames(frames):
    m = tiny()
    x = clip(2, frames, 32, 48)
    ids = m.encode(x)
    t = 1 + (frames - 1) // 2
    assert ids.shape == (2, t, 4, 6) and ids.dtype == torch.long
    video = m.decode(ids)
    assert video.shape == (2, 3, frames, 32, 48)
    assert video.abs().max() <= 1.0
    assert m(x).shape == x.shape


def test_even_frame_counts_pad_and_images_encode():
    m = tiny()
    x = clip(1, 4)
    assert m.encode(x).shape == (1, 3, 4, 4)  # padded to 5 frames
    assert m(x).shape == x.shape
    image = x[:, :, 0]
    assert torch.equal(m.encode(image), m.encode(x[:, :, :1]))


def test_causal_in_time_prime_frames():
    m = tiny(num_layers=2)
    x = clip(2, 17)
    full_f = m.encode_features(x)
    ids = m.encode(x)
    for k in (1, 2, 5):
        part = x[:, :, : 1 + 2 * (k - 1)]
        torch.testing.assert_close(m.encode_features(part), full_f[:, :k], atol=1e-5, rtol=1e-4)
        assert torch.equal(m.encode(part), ids[:, :k])
    # changing the future never moves the past; it does move the future
    y = x.clone()
    y[:, :, 9:] = -y[:, :, 9:]
    fy = m.encode_features(y)
    torch.testing.assert_close(fy[:, :5], full_f[:, :5], atol=1e-5, rtol=1e-4)
    assert not torch.allclose(fy[:, 5:], full_f[:, 5:])
    # the temporal attention mixes time: a later step depends on the first frame
    z = x.clone()
    z[:, :, 0] = -z[:, :, 0]
    assert not torch.allclose(m.encode_features(z)[:, 8], full_f[:, 8])
    # decoding is causal too: the first frames come from the first tokens alone
    video = m.decode(ids)
    torch.testing.assert_close(m.decode(ids[:, :3]), video[:, :, :5], atol=1e-5, rtol=1e-4)


def test_fsq_codes_in_range_and_round_trip():
    fsq = FSQ((8, 5, 5, 5))
    z = torch.randn(4000, 4) * 3
    q = fsq(z)
    assert q.abs().max() <= 1.0
    ids = fsq.codes_to_ids(q)
    assert ids.min() >= 0 and ids.max() < 1000
    assert len(ids.unique()) > 500  # large inputs reach most codes
    torch.testing.assert_close(fsq.ids_to_codes(ids), q)
    every = torch.arange(1000)
    assert torch.equal(fsq.codes_to_ids(fsq.ids_to_codes(every)), every)
    # straight-through: gradients flow through the rounding
    z.requires_grad_(True)
    fsq(z).sum().backward()
    assert z.grad is not None and z.grad.abs().sum() > 0


def test_odd_levels_and_tokens_in_range():
    m = tiny(levels=(3, 3, 2))
    assert m.codebook_size == 18
    ids = m.encode(clip(2, 5) * 3)
    assert ids.min() >= 0 and ids.max() < 18
    with pytest.raises(AvgenError):
        m.decode(torch.full((1, 1, 4, 4), 18))
    with pytest.raises(AvgenError):
        m.decode(torch.zeros(1, 1, 4, 4))  # float, not ids


def test_bad_inputs():
    m = tiny()
    with pytest.raises(AvgenError):
        m.encode(torch.zeros(1, 1, 5, 32, 32))
    with pytest.raises(AvgenError):
        m.encode(torch.zeros(1, 3, 5, 30, 32))
    with pytest.raises(AvgenError):
        CViViT(hidden_size=15, num_heads=2)
    with pytest.raises(AvgenError):
        CViViT(levels=(1, 5))


def test_save_load_round_trip(tmp_path):
    m = tiny(seed=3)
    m.save_pretrained(tmp_path / "tok")
    cfg = json.loads((tmp_path / "tok" / "config.json").read_text())
    assert cfg["_class"] == "CViViT" and cfg["levels"] == [8, 5, 5, 5]
    back = CViViT.from_pretrained(tmp_path / "tok").eval()
    assert isinstance(back.config, CViViTConfig) and back.config == m.config
    x = clip(1, 9)
    ids = m.encode(x)
    assert torch.equal(back.encode(x), ids)
    torch.testing.assert_close(back.decode(ids), m.decode(ids))


def moving_squares(b: int, f: int, size: int = 16) -> torch.Tensor:
    """Flat backgrounds with one coloured square moving right: a learnable little world."""
    g = torch.Generator().manual_seed(7)
    x = torch.zeros(b, 3, f, size, size)
    for i in range(b):
        x[i] = torch.rand(3, 1, 1, 1, generator=g) - 0.5
        colour = torch.rand(3, generator=g) * 2 - 1
        y0 = int(torch.randint(0, size - 4, (1,), generator=g))
        for t in range(f):
            x0 = (2 * i + t) % (size - 4)
            x[i, :, t, y0 : y0 + 4, x0 : x0 + 4] = colour[:, None, None]
    return x


def test_training_lowers_the_loss():
    torch.manual_seed(0)
    m = CViViT(**TINY)
    x = moving_squares(4, 5)
    opt = torch.optim.Adam(m.parameters(), lr=3e-3)
    first = None
    for _ in range(60):
        loss = m.training_loss(x, edge_weight=0.5)
        assert set(loss) == {"loss", "l1", "l2", "edge"}
        opt.zero_grad()
        loss["loss"].backward()
        opt.step()
        first = float(loss["loss"].detach()) if first is None else first
    assert float(loss["loss"].detach()) < 0.7 * first
