"""Audio-to-audio steps of avgen's text-to-audio pipeline (AudioLDM, arXiv 2301.12503): style
transfer from an input's noised latent (SDEdit), inpainting of a time range, and
super-resolution (inpainting along frequency, with AudioSR's band splice, arXiv 2309.07314).

``AudioToAudioSteps`` is the part of ``TextToAudioPipeline`` that reads an input waveform; it
uses the pipeline's ``vae``, ``front_end``, ``device`` and ``window_plan`` (which it does
not define itself).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

from avgen.audio.mel import FMAX, FMIN, HOP, N_MELS, SAMPLE_RATE, hz_to_mel, mel_to_hz
from avgen.errors import AvgenError
from avgen.pipelines.checks import check_range


def check_cutoff(cutoff_hz: Any) -> float:
    """The super-resolution cut-off in Hz, which must lie strictly inside the mel range."""
    return float(check_range("super-resolution cut-off", cutoff_hz, low=FMIN, high=SAMPLE_RATE / 2))


def check_init(
    audio: np.ndarray | None,
    strength: float,
    inpaint: tuple[float, float] | None,
    super_resolution: float | None,
) -> float | None:
    """1b. The audio-to-audio inputs: an edit needs an input; returns the input's duration in
    seconds (None without one)."""
    if audio is None:
        if inpaint is not None:
            raise AvgenError(
                "inpaint needs init audio (--init-audio): the sound to keep outside the range."
            )
        if super_resolution is not None:
            raise AvgenError(
                "super-resolution needs init audio (--init-audio): its band below the cut-off."
            )
        return None
    audio = np.asarray(audio)
    if audio.ndim != 1 or audio.size == 0 or not np.isfinite(audio).all():
        raise AvgenError(
            f"init audio must be a finite mono waveform (T,), got shape {audio.shape}."
        )
    duration = audio.shape[0] / SAMPLE_RATE
    check_range("init audio duration", duration)
    check_range("strength", strength)
    if super_resolution is not None and inpaint is not None:
        raise AvgenError("super-resolution and inpaint cannot be combined: give one.")
    if inpaint is not None:
        if len(inpaint) != 2:
            raise AvgenError(f"inpaint must be (start_s, end_s), got {inpaint!r}.")
        start, end = (float(v) for v in inpaint)
        if not 0.0 <= start < end <= duration:
            raise AvgenError(
                f"inpaint range ({start:g}, {end:g}) must satisfy 0 <= start < end <= "
                f"{duration:.2f} (the input's duration in seconds)."
            )
    if super_resolution is not None:
        check_cutoff(super_resolution)
    return duration


def known_mel_bins(cutoff_hz: float) -> int:
    """Super-resolution: how many mel bins (from the bottom) the input keeps, i.e. those
    whose centre frequency lies below ``cutoff_hz`` (a bin belongs to its centre's band)."""
    edges = torch.linspace(
        float(hz_to_mel(torch.tensor(FMIN, dtype=torch.float64))),
        float(hz_to_mel(torch.tensor(FMAX, dtype=torch.float64))),
        N_MELS + 2,
        dtype=torch.float64,
    )
    centres = mel_to_hz(edges)[1:-1]  # (n_mels,) Hz
    return int((centres < float(cutoff_hz)).sum())


SPLICE_FFT = 1024  # the mel front end's window: 15.6 Hz bins


def splice_known_band(
    wave: torch.Tensor, audio: np.ndarray, cutoff_hz: float, ceiling: float = 0.99
) -> torch.Tensor:
    """Super-resolution 7a (AudioSR's post-process): the input's own STFT below the cut-off,
    the generated one above it, so the known band comes back exactly rather than through
    the vocoder. Where the sum would peak over ``ceiling`` only the generated band is turned
    down (a bisection on its gain), so the kept band stays as it was; the final peak limit
    then only acts if the input itself is that loud. ``wave`` (B, T) -> (B, T)."""
    n = wave.shape[-1]
    src = torch.as_tensor(np.asarray(audio, dtype=np.float32), device=wave.device)[:n]
    src = torch.nn.functional.pad(src, (0, n - src.shape[0]))[None].to(wave.dtype)
    kw = {"n_fft": SPLICE_FFT, "hop_length": HOP, "center": True}
    window = torch.hann_window(SPLICE_FFT, device=wave.device, dtype=wave.dtype)
    spec_in = torch.stft(src, window=window, return_complex=True, **kw)  # (1, bins, F)
    spec_out = torch.stft(wave, window=window, return_complex=True, **kw)  # (B, bins, F)
    freqs = torch.arange(spec_out.shape[1], device=wave.device) * SAMPLE_RATE / SPLICE_FFT
    low = (freqs < float(cutoff_hz))[None, :, None]
    zero = torch.zeros((), dtype=spec_out.dtype, device=wave.device)
    kept = torch.istft(torch.where(low, spec_in, zero), window=window, length=n, **kw)
    new = torch.istft(torch.where(low, zero, spec_out), window=window, length=n, **kw)
    lo = torch.zeros(wave.shape[0], 1, device=wave.device, dtype=wave.dtype)  # (B, 1) gain
    hi = torch.ones_like(lo)
    for _ in range(20):
        mid = (lo + hi) / 2
        fits = (kept + mid * new).abs().amax(-1, keepdim=True) <= ceiling
        lo, hi = torch.where(fits, mid, lo), torch.where(fits, hi, mid)
    fits = (kept + new).abs().amax(-1, keepdim=True) <= ceiling
    return kept + torch.where(fits, torch.ones_like(lo), lo) * new


class AudioToAudioSteps:
    """The pipeline steps that read an input waveform (see the module docstring)."""

    vae: Any
    front_end: Any
    device: torch.device
    seconds_per_latent: float
    SPLICE_FFT = SPLICE_FFT
    known_mel_bins = staticmethod(known_mel_bins)
    check_init = staticmethod(check_init)

    def encode_audio(self, audio: np.ndarray, frames: int) -> torch.Tensor:
        """Waveform (T,) at 16 kHz -> scaled diffusion latent (1, C, latent rows, frames), the
        waveform zero-padded to ``frames`` latent frames (``vae.temporal_factor`` hops each)."""
        wave = torch.as_tensor(np.asarray(audio, dtype=np.float32), device=self.device)
        n = frames * self.vae.temporal_factor * HOP
        wave = torch.nn.functional.pad(wave[:n], (0, max(0, n - wave.shape[0])))[None]  # (1, T)
        mel = self.front_end(wave)  # (1, 1, 64, frames * temporal_factor)
        return self.vae.to_diffusion(mel)[..., :frames]

    def band_keep(self, cutoff_hz: float, frames: int) -> torch.Tensor:
        """Super-resolution keep mask (1, 1, latent rows, frames): 1 on the latent rows whose
        mel bins (``vae.freq_factor`` each) all lie below the cut-off (AudioLDM's inpainting
        along frequency)."""
        keep = torch.zeros(1, 1, self.vae.latent_freq, frames, device=self.device)
        keep[:, :, : known_mel_bins(cutoff_hz) // self.vae.freq_factor] = 1.0  # whole rows
        return keep

    def paste_known_band(
        self, mel: torch.Tensor, audio: np.ndarray, cutoff_hz: float
    ) -> torch.Tensor:
        """Super-resolution 6b: the input's own mel replaces the decoded mel (B, 1, 64, F) on the
        bins below the cut-off, so the known band skips the VAE and is exact before vocoding."""
        n = mel.shape[-1] * HOP
        wave = torch.as_tensor(np.asarray(audio, dtype=np.float32), device=self.device)[:n]
        wave = torch.nn.functional.pad(wave, (0, n - wave.shape[0]))[None]  # (1, F * hop)
        known = known_mel_bins(cutoff_hz)
        out = mel.clone()
        out[:, :, :known] = self.front_end(wave)[:, :, :known].to(mel)  # (B, 1, known, F)
        return out

    def splice_known_band(
        self, wave: torch.Tensor, audio: np.ndarray, cutoff_hz: float, ceiling: float = 0.99
    ) -> torch.Tensor:
        """Super-resolution 7a: see ``splice_known_band`` of this module."""
        return splice_known_band(wave, audio, cutoff_hz, ceiling)

    def prepare_init(
        self,
        audio: np.ndarray | None,
        duration: float,
        batch: int,
        strength: float,
        inpaint: tuple[float, float] | None,
        super_resolution: float | None,
    ) -> tuple[torch.Tensor | None, torch.Tensor | None, float]:
        """4a. The input's latent (B, C, H, total), the keep mask of an edit (1, 1, 1 or H,
        total; 1 = keep) and the start time: ``strength`` for SDEdit, else 1 (pure noise)."""
        if audio is None:
            return None, None, 1.0
        plan = self.window_plan(duration)
        total = plan[-1][0] + plan[-1][1]
        init_latent = self.encode_audio(audio, total).expand(batch, -1, -1, -1)
        if super_resolution is not None:
            return init_latent, self.band_keep(super_resolution, total), 1.0  # (1, 1, H, total)
        if inpaint is None:
            return init_latent, None, float(strength)
        spf = self.seconds_per_latent
        user_keep = torch.ones(1, 1, 1, total, device=self.device)
        a, b = math.floor(inpaint[0] / spf), math.ceil(inpaint[1] / spf)
        user_keep[..., a:b] = 0.0  # (1, 1, 1, total): 0 = regenerate
        return init_latent, user_keep, 1.0
