"""Tests for avgen.audio.vocoder: Vocos-style vocoder, its losses and error metrics."""

from __future__ import annotations

import math

import pytest
import torch

from avgen.audio.mel import HOP, MelFrontEnd
from avgen.audio.vae import MelVAE
from avgen.audio.vocoder import Vocoder, multi_resolution_stft_loss, vocoder_losses, waveform_errors
from avgen.errors import AvgenError

pytestmark = pytest.mark.usefixtures("one_thread")


def tiny() -> Vocoder:
    torch.manual_seed(0)
    return Vocoder(hidden_size=32, num_layers=2).eval()


@pytest.mark.parametrize("frames", [1, 7, 50, 101])
def test_output_length(frames):
    voc = tiny()
    with torch.no_grad():
        wave = voc(torch.rand(2, 1, 64, frames) * 2 - 1)
        assert wave.shape == (2, frames * HOP)
        assert voc(torch.rand(2, 64, frames)).shape == (2, frames * HOP)  # (B, n_mels, F) too
    assert torch.isfinite(wave).all()


def test_seeded_determinism_and_round_trip(tmp_path):
    voc = tiny()
    mel = torch.rand(1, 1, 64, 20) * 2 - 1
    with torch.no_grad():
        a = voc(mel)
        assert torch.equal(a, voc(mel))
        voc.save_pretrained(tmp_path / "voc")
        loaded = Vocoder.from_pretrained(tmp_path / "voc")
        assert loaded.config == voc.config
        assert torch.equal(loaded(mel), a)


def test_foreign_checkpoint_and_bad_input(tmp_path):
    MelVAE(block_out_channels=(4, 4, 4)).save_pretrained(tmp_path / "vae")
    with pytest.raises(AvgenError):
        Vocoder.from_pretrained(tmp_path / "vae")
    with pytest.raises(AvgenError):
        tiny()(torch.zeros(1, 1, 80, 10))


def test_losses_and_metrics():
    fe = MelFrontEnd()
    t = torch.arange(8000) / 16000
    wave = (0.5 * torch.sin(2 * math.pi * 440 * t))[None]
    noisy = wave + 0.05 * torch.randn(wave.shape, generator=torch.Generator().manual_seed(0))
    same = vocoder_losses(wave, wave, fe)
    assert float(same["mel"]) == 0.0 and float(same["stft"]) < 1e-5
    worse = vocoder_losses(noisy, wave, fe)
    assert float(worse["total"]) > 0.1
    clean = waveform_errors(wave[0], wave[0])
    assert clean["mel_error"] == 0.0 and clean["mrstft_error"] < 1e-5
    errs = waveform_errors(noisy, torch.cat([wave, torch.zeros(1, 100)], dim=1), fe)
    assert errs["mel_error"] > 0.1 and errs["mrstft_error"] > 0.1
    with pytest.raises(AvgenError):
        waveform_errors(torch.zeros(2, 100), torch.zeros(3, 100))


def test_training_steps_reduce_spectral_loss():
    fe = MelFrontEnd()
    voc = tiny().train()
    t = torch.arange(1600) / 16000
    wave = torch.stack([0.4 * torch.sin(2 * math.pi * f * t) for f in (220.0, 660.0)])
    mel = fe(wave)
    opt = torch.optim.Adam(voc.parameters(), lr=1e-2)
    losses = []
    for _ in range(12):
        loss = vocoder_losses(voc(mel), wave, fe)["total"]
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.7 * losses[0]
    with torch.no_grad():
        assert float(multi_resolution_stft_loss(voc(mel), wave)) < 10
