"""Log-mel front end with AudioLDM's settings (arXiv 2301.12503) and a Griffin-Lim fallback.

Settings: 16 kHz, n_fft = window = 1024 (Hann), hop 160 (10 ms), 64 mel bins from 0 to 8000 Hz
on the Slaney mel scale with Slaney area normalisation (librosa's defaults), STFT magnitude
(power 1). As in AudioLDM the waveform is reflect-padded by (n_fft - hop) / 2 on both sides
and framed without centring, so a clip of T samples gives exactly T // hop frames; frame k is
centred on sample k * hop + hop / 2.

Normalisation (fixed, no statistics): ``norm = (ln(max(mel, 1e-5)) + 4.5) / 7``. The floor
1e-5 (silence) maps to about -1.0; a full-scale sine's peak bin lands near +0.7 to +1.0, so
mels live in roughly [-1, 1]. ``denormalize`` inverts it. All own torch code (torch.stft and
an own filterbank), no librosa or torchaudio.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from avgen.errors import AvgenError

SAMPLE_RATE = 16000
N_FFT = 1024
HOP = 160
N_MELS = 64
FMIN = 0.0
FMAX = 8000.0
LOG_FLOOR = 1e-5
NORM_SHIFT = 4.5
NORM_SCALE = 7.0


def hz_to_mel(f: torch.Tensor) -> torch.Tensor:
    """Slaney mel scale: linear below 1 kHz (3 mels per 200 Hz), logarithmic above."""
    f_sp = 200.0 / 3
    min_log_hz, min_log_mel, logstep = 1000.0, 1000.0 / f_sp, math.log(6.4) / 27.0
    lin = f / f_sp
    log = min_log_mel + torch.log(torch.clamp(f, min=1e-10) / min_log_hz) / logstep
    return torch.where(f >= min_log_hz, log, lin)


def mel_to_hz(m: torch.Tensor) -> torch.Tensor:
    f_sp = 200.0 / 3
    min_log_hz, min_log_mel, logstep = 1000.0, 1000.0 / f_sp, math.log(6.4) / 27.0
    lin = m * f_sp
    log = min_log_hz * torch.exp(logstep * (m - min_log_mel))
    return torch.where(m >= min_log_mel, log, lin)


def mel_filterbank(
    sr: int = SAMPLE_RATE,
    n_fft: int = N_FFT,
    n_mels: int = N_MELS,
    fmin: float = FMIN,
    fmax: float = FMAX,
) -> torch.Tensor:
    """Slaney-normalised triangular mel filterbank (n_mels, n_fft // 2 + 1), float32."""
    fft_freqs = torch.linspace(0, sr / 2, n_fft // 2 + 1, dtype=torch.float64)
    mel_pts = torch.linspace(
        float(hz_to_mel(torch.tensor(fmin, dtype=torch.float64))),
        float(hz_to_mel(torch.tensor(fmax, dtype=torch.float64))),
        n_mels + 2,
        dtype=torch.float64,
    )
    hz_pts = mel_to_hz(mel_pts)  # (n_mels + 2,)
    lower, centre, upper = hz_pts[:-2, None], hz_pts[1:-1, None], hz_pts[2:, None]
    rise = (fft_freqs[None] - lower) / (centre - lower)
    fall = (upper - fft_freqs[None]) / (upper - centre)
    fb = torch.clamp(torch.minimum(rise, fall), min=0.0)  # (n_mels, n_freqs)
    fb = fb * (2.0 / (upper - lower))  # Slaney area normalisation
    return fb.float()


def normalize(log_mel: torch.Tensor) -> torch.Tensor:
    """Natural-log mel magnitude -> the model range (about [-1, 1])."""
    return (log_mel + NORM_SHIFT) / NORM_SCALE


def denormalize(mel: torch.Tensor) -> torch.Tensor:
    """Model-range mel -> natural-log mel magnitude."""
    return mel * NORM_SCALE - NORM_SHIFT


class MelFrontEnd(nn.Module):
    """Waveform (B, T) at 16 kHz -> normalised log-mel (B, 1, 64, T // 160). No trained weights."""

    def __init__(
        self,
        sample_rate: int = SAMPLE_RATE,
        n_fft: int = N_FFT,
        hop: int = HOP,
        n_mels: int = N_MELS,
        fmin: float = FMIN,
        fmax: float = FMAX,
    ) -> None:
        super().__init__()
        self.sample_rate, self.n_fft, self.hop, self.n_mels = sample_rate, n_fft, hop, n_mels
        self.register_buffer("window", torch.hann_window(n_fft), persistent=False)
        fb = mel_filterbank(sample_rate, n_fft, n_mels, fmin, fmax)
        self.register_buffer("fb", fb, persistent=False)  # (n_mels, n_freqs)

    def magnitude(self, wave: torch.Tensor) -> torch.Tensor:
        """|STFT| (B, n_fft // 2 + 1, T // hop) with AudioLDM's padding."""
        if wave.ndim != 2:
            raise AvgenError(f"waveform has shape {tuple(wave.shape)}; expected (batch, samples).")
        pad = (self.n_fft - self.hop) // 2
        if wave.shape[-1] <= pad:
            raise AvgenError(
                f"waveform of {wave.shape[-1]} samples is too short; give at least {pad + 1}."
            )
        x = F.pad(wave.unsqueeze(1), (pad, pad), mode="reflect").squeeze(1)  # (B, T + 2 pad)
        spec = torch.stft(
            x,
            self.n_fft,
            self.hop,
            window=self.window.to(x.dtype),
            center=False,
            return_complex=True,
        )
        return spec.abs()

    def log_mel(self, wave: torch.Tensor) -> torch.Tensor:
        """Natural-log mel magnitude (B, n_mels, frames), floored at ln(1e-5)."""
        mel = torch.matmul(self.fb.to(wave.dtype), self.magnitude(wave))
        return torch.log(torch.clamp(mel, min=LOG_FLOOR))

    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        return normalize(self.log_mel(wave)).unsqueeze(1)  # (B, 1, n_mels, frames)


def _centre_frames(mag: torch.Tensor) -> torch.Tensor:
    """AudioLDM frames (centred at (k + 1/2) hop) -> F + 1 frames centred at k hop (centre=True)."""
    padded = F.pad(mag, (1, 1), mode="replicate")  # (B, n, F + 2)
    return 0.5 * (padded[..., 1:] + padded[..., :-1])  # (B, n, F + 1)


def griffin_lim(
    mel: torch.Tensor,
    n_iter: int = 32,
    *,
    front_end: MelFrontEnd | None = None,
    momentum: float = 0.99,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Fallback vocoder: normalised mel (B, 1, 64, F) or (B, 64, F) -> waveform (B, F * hop).

    Linear magnitude from the mel by the filterbank's pseudo-inverse (clamped at 0), then fast
    Griffin-Lim (Perraudin et al. 2013, momentum 0.99) with torch.stft / torch.istft.
    """
    fe = front_end if front_end is not None else MelFrontEnd()
    if mel.ndim == 4:
        mel = mel[:, 0]
    if mel.ndim != 3 or mel.shape[1] != fe.n_mels:
        raise AvgenError(
            f"mel has shape {tuple(mel.shape)}; expected (batch, 1, {fe.n_mels}, frames)."
        )
    mel = mel.float()
    frames = mel.shape[-1]
    mag_mel = torch.exp(denormalize(mel))  # (B, n_mels, F)
    inv = torch.linalg.pinv(fe.fb.double()).float().to(mel.device)  # (n_freqs, n_mels)
    mag = torch.clamp(inv @ mag_mel, min=0.0)  # (B, n_freqs, F)
    mag = _centre_frames(mag)  # (B, n_freqs, F + 1)
    window = fe.window.to(mel.device)
    length = frames * fe.hop
    gen_device = generator.device if generator is not None else mel.device
    phase = torch.rand(mag.shape, generator=generator, device=gen_device).to(mel.device)
    angles = torch.polar(torch.ones_like(mag), 2 * math.pi * phase)
    prev = torch.zeros_like(angles)
    stft_kw = {"n_fft": fe.n_fft, "hop_length": fe.hop, "window": window, "center": True}
    stft_pad = {"pad_mode": "constant"}
    wave = torch.istft(mag * angles, length=length, **stft_kw)
    for _ in range(n_iter):
        rebuilt = torch.stft(wave, return_complex=True, **stft_kw, **stft_pad)
        angles = rebuilt - (momentum / (1 + momentum)) * prev
        prev = rebuilt
        angles = angles / angles.abs().clamp_min(1e-8)
        wave = torch.istft(mag * angles, length=length, **stft_kw)
    return wave
