"""Tests for avgen.audio.clap: contrastive text-audio model and the Frechet distance."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from avgen.audio.clap import CLAP, frechet_distance
from avgen.audio.vae import MelVAE
from avgen.errors import AvgenError

pytestmark = pytest.mark.usefixtures("one_thread")


def tiny() -> CLAP:
    torch.manual_seed(0)
    return CLAP(block_out_channels=(8, 16), embed_dim=32).eval()


@pytest.mark.parametrize("frames", [4, 63, 400])
def test_shapes_and_unit_norm(frames):
    clap = tiny()
    a, t = clap(torch.rand(3, 1, 64, frames) * 2 - 1, torch.randn(3, 384))
    assert a.shape == t.shape == (3, 32)
    assert torch.allclose(a.norm(dim=-1), torch.ones(3), atol=1e-5)
    assert torch.allclose(t.norm(dim=-1), torch.ones(3), atol=1e-5)
    s = clap.score(a, t)
    assert s.shape == (3, 3) and s.abs().max().item() <= 1.0 + 1e-5


def test_embed_audio_and_frame_mask():
    clap = tiny()
    wave = torch.randn(2, 8000) * 0.1
    e = clap.embed_audio(wave)
    assert e.shape == (2, 32) and torch.equal(e, clap.embed_audio(wave))
    mel = torch.rand(2, 1, 64, 40) * 2 - 1
    mask = torch.ones(2, 40, dtype=torch.bool)
    mask[1, 20:] = False
    with torch.no_grad():
        full = clap.encode_audio(mel)
        masked = clap.encode_audio(mel, mask)
    assert torch.allclose(full[0], masked[0], atol=1e-6)
    assert not torch.allclose(full[1], masked[1], atol=1e-4)


def test_contrastive_training_aligns_pairs():
    clap = tiny().train()
    g = torch.Generator().manual_seed(0)
    # four "sounds" (a tone band each) paired with four fixed "captions"
    mels = torch.full((4, 1, 64, 16), -1.0)
    for i in range(4):
        mels[i, 0, 10 * i + 5 : 10 * i + 10] = 0.5
    texts = torch.nn.functional.normalize(torch.randn(4, 384, generator=g), dim=-1)
    opt = torch.optim.Adam(clap.parameters(), lr=3e-3)
    with torch.no_grad():
        before = clap.contrastive_loss(*clap(mels, texts)).item()
    for _ in range(40):
        loss = clap.contrastive_loss(*clap(mels, texts))
        opt.zero_grad()
        loss.backward()
        opt.step()
    clap.eval()
    with torch.no_grad():
        a, t = clap(mels, texts)
    assert clap.contrastive_loss(a, t).item() < 0.5 * before
    assert torch.equal(clap.score(a, t).argmax(1), torch.arange(4))


def test_round_trip_and_foreign_checkpoint(tmp_path):
    clap = tiny()
    clap.save_pretrained(tmp_path / "clap")
    loaded = CLAP.from_pretrained(tmp_path / "clap")
    mel, txt = torch.rand(2, 1, 64, 32) * 2 - 1, torch.randn(2, 384)
    with torch.no_grad():
        for x, y in zip(clap(mel, txt), loaded(mel, txt)):
            assert torch.equal(x, y)
    MelVAE(block_out_channels=(4, 4, 4)).save_pretrained(tmp_path / "vae")
    with pytest.raises(AvgenError):
        CLAP.from_pretrained(tmp_path / "vae")
    with pytest.raises(AvgenError):
        clap.encode_audio(torch.zeros(1, 64, 32))


def test_frechet_distance():
    rng = np.random.default_rng(0)
    a = rng.standard_normal((2000, 4))
    b = rng.standard_normal((2000, 4)) + np.array([1.0, 0.0, 0.0, 0.0])
    assert frechet_distance(a, a) == pytest.approx(0.0, abs=1e-6)
    assert frechet_distance(a, b) == pytest.approx(1.0, abs=0.15)
    c = rng.standard_normal((2000, 4)) * 2.0  # cov 4 I vs I: trace term 4 * (1 + 4 - 4) = 4
    assert frechet_distance(a, c) == pytest.approx(4.0, rel=0.1)
    assert frechet_distance(torch.tensor(a), torch.tensor(b)) == pytest.approx(
        frechet_distance(a, b)
    )
    with pytest.raises(AvgenError):
        frechet_distance(a, rng.standard_normal((10, 3)))
