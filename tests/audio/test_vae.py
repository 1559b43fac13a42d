"""Tests for avgen.audio.vae: the 4x mel VAE (tiny configs)."""

from __future__ import annotations

import json

import pytest
import torch

from avgen.audio.vae import MelVAE
from avgen.audio.vocoder import Vocoder
from avgen.errors import AvgenError

pytestmark = pytest.mark.usefixtures("one_thread")


TINY = {"block_out_channels": (4, 8, 8), "latent_channels": 4}


def tiny(**kw) -> MelVAE:
    torch.manual_seed(0)
    return MelVAE(**{**TINY, **kw}).eval()


@pytest.mark.parametrize("frames", [4, 37, 100, 401])
def test_shapes_for_several_lengths(frames):
    vae = tiny()
    mel = torch.rand(2, 1, 64, frames) * 2 - 1
    mean, logvar = vae.encode(mel)
    assert mean.shape == logvar.shape == (2, 4, 16, -(-frames // 4))
    rec, _, _ = vae(mel)
    assert rec.shape == mel.shape
    assert vae.decode(mean).shape == (2, 1, 64, 4 * mean.shape[-1])


def test_latent_channels_default_8():
    vae = MelVAE(block_out_channels=(4, 8, 8))
    assert vae.encode(torch.zeros(1, 1, 64, 8))[0].shape == (1, 8, 16, 2)


def test_seeded_determinism():
    vae = tiny()
    mel = torch.rand(1, 1, 64, 24) * 2 - 1
    a = vae(mel, torch.Generator().manual_seed(1))[0]
    b = vae(mel, torch.Generator().manual_seed(1))[0]
    c = vae(mel, torch.Generator().manual_seed(2))[0]
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert torch.equal(vae(mel, sample=False)[0], vae(mel, sample=False)[0])


def test_loss_decreases_a_little():
    vae = tiny()
    vae.train()
    f = torch.linspace(0, 3, 64)[:, None]
    tt = torch.linspace(0, 6, 32)[None]
    mel = torch.stack([torch.sin(f * k + tt) for k in (1.0, 2.0, 3.0, 4.0)])[:, None] * 0.8
    opt = torch.optim.Adam(vae.parameters(), lr=1e-2)
    first = None
    for step in range(12):
        losses = vae.loss(mel, torch.Generator().manual_seed(step))
        first = first if first is not None else losses["rec"].item()
        opt.zero_grad()
        losses["total"].backward()
        opt.step()
    assert losses["rec"].item() < 0.8 * first
    assert losses["kl"].item() >= 0


def test_round_trip_and_scaling_factor(tmp_path):
    vae = tiny()
    vae.set_scaling_factor(0.5)
    vae.save_pretrained(tmp_path / "vae")
    cfg = json.loads((tmp_path / "vae" / "config.json").read_text())
    assert cfg["scaling_factor"] == 0.5 and cfg["latent_channels"] == 4
    loaded = MelVAE.from_pretrained(tmp_path / "vae")
    mel = torch.rand(1, 1, 64, 20) * 2 - 1
    assert loaded.scaling_factor == 0.5
    assert torch.equal(loaded.to_diffusion(mel), vae.to_diffusion(mel))
    z = vae.to_diffusion(mel)
    assert torch.equal(loaded.from_diffusion(z, 20), vae.from_diffusion(z, 20))
    assert loaded.from_diffusion(z, 20).shape == (1, 1, 64, 20)


def test_foreign_checkpoint_and_bad_inputs(tmp_path):
    Vocoder(hidden_size=8, num_layers=1).save_pretrained(tmp_path / "voc")
    with pytest.raises(AvgenError):
        MelVAE.from_pretrained(tmp_path / "voc")
    vae = tiny()
    with pytest.raises(AvgenError):
        vae.encode(torch.zeros(1, 64, 20))
    with pytest.raises(AvgenError):
        vae.decode(torch.zeros(1, 8, 16, 5))
