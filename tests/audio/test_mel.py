"""Tests for avgen.audio.mel: AudioLDM log-mel front end and the Griffin-Lim fallback."""

from __future__ import annotations

import math

import pytest
import torch

from avgen.audio.mel import (
    HOP,
    MelFrontEnd,
    denormalize,
    griffin_lim,
    hz_to_mel,
    mel_filterbank,
    mel_to_hz,
    normalize,
)
from avgen.audio.vocoder import waveform_errors
from avgen.errors import AvgenError

pytestmark = pytest.mark.usefixtures("one_thread")


def sine(freq: float, seconds: float = 1.0, amp: float = 0.5) -> torch.Tensor:
    t = torch.arange(int(16000 * seconds)) / 16000
    return amp * torch.sin(2 * math.pi * freq * t)


def test_slaney_scale_and_filterbank():
    assert float(hz_to_mel(torch.tensor(1000.0))) == pytest.approx(15.0)
    f = torch.tensor([0.0, 440.0, 1000.0, 3000.0, 8000.0], dtype=torch.float64)
    assert torch.allclose(mel_to_hz(hz_to_mel(f)), f)
    fb = mel_filterbank()
    assert fb.shape == (64, 513)
    assert (fb >= 0).all() and (fb.sum(1) > 0).all()
    assert fb[:, -1].sum() == 0  # the top filter ends at fmax = 8 kHz, the last FFT bin


@pytest.mark.parametrize("samples", [16000, 16000 + 80, 64000, 3 * 16000 + 159])
def test_shapes_for_several_lengths(samples):
    mel = MelFrontEnd()(torch.randn(2, samples) * 0.1)
    assert mel.shape == (2, 1, 64, samples // HOP)
    assert torch.isfinite(mel).all()


def test_sine_peaks_in_the_right_bin_and_silence_is_minus_one():
    fe = MelFrontEnd()
    fb = mel_filterbank()
    mel_pts = torch.linspace(0.0, float(hz_to_mel(torch.tensor(8000.0))), 66)
    centres = mel_to_hz(mel_pts)[1:-1]  # (64,) filter centres in Hz
    for freq in (250.0, 1000.0, 4000.0):
        mel = fe(sine(freq)[None])[0, 0]  # (64, F)
        peak = int(mel[:, 10:-10].mean(1).argmax())
        # the filter with the largest weight at that frequency, one of the two nearest centres
        assert peak == int(fb[:, round(freq / 15.625)].argmax()), freq
        assert abs(peak - int((centres - freq).abs().argmin())) <= 1
        assert 0.3 < float(mel.max()) < 1.2
    one_k = fe(sine(1000.0)[None])[0, 0].mean(1)
    assert abs(float(centres[int(one_k.argmax())]) - 1000.0) < 40.0
    silence = fe(torch.zeros(1, 16000))
    assert torch.allclose(silence, torch.full_like(silence, (math.log(1e-5) + 4.5) / 7))
    assert float(silence.max()) == pytest.approx(-1.0, abs=0.01)
    x = torch.randn(3, 5)
    assert torch.allclose(denormalize(normalize(x)), x, atol=1e-6)


def test_bad_inputs():
    with pytest.raises(AvgenError):
        MelFrontEnd()(torch.randn(16000))
    with pytest.raises(AvgenError):
        MelFrontEnd()(torch.randn(1, 100))
    with pytest.raises(AvgenError):
        griffin_lim(torch.randn(1, 1, 80, 10))


@pytest.mark.parametrize("frames", [1, 13, 100])
def test_griffin_lim_length(frames):
    wave = griffin_lim(torch.rand(2, 1, 64, frames) - 1, n_iter=2)
    assert wave.shape == (2, frames * HOP)
    assert torch.isfinite(wave).all()


def test_griffin_lim_reconstructs_a_tone():
    fe = MelFrontEnd()
    noise = torch.randn(16000, generator=torch.Generator().manual_seed(1))
    target = (sine(440.0) + sine(1320.0, amp=0.2) + 0.01 * noise)[None]
    g = torch.Generator().manual_seed(0)
    rebuilt = griffin_lim(fe(target), n_iter=32, front_end=fe, generator=g)
    again = griffin_lim(
        fe(target), n_iter=32, front_end=fe, generator=torch.Generator().manual_seed(0)
    )
    assert torch.equal(rebuilt, again)
    good = waveform_errors(rebuilt, target, fe)["mel_error"]
    bad = waveform_errors(torch.randn_like(target) * 0.1, target, fe)["mel_error"]
    assert good < 0.5 and bad > 1.5
