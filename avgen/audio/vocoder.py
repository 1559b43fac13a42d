"""Vocos-style vocoder (arXiv 2306.00814): ConvNeXt backbone on the mel, iSTFT head.

The backbone runs at the mel frame rate (no upsampling stack, unlike HiFi-GAN), and a linear
head predicts per frame the log-magnitude and the phase of an STFT that ``torch.istft`` turns
into samples: cheap on a CPU. Mel frames (centred at (k + 1/2) hop, see ``avgen.audio.mel``)
are first averaged pairwise into F + 1 frames centred at k hop, so that a centred iSTFT of
F + 1 frames gives exactly F * hop samples. Own code.

Losses (``vocoder_losses``): multi-resolution STFT loss (spectral convergence + log-magnitude
L1, Parallel WaveGAN arXiv 1910.11480) and the mel L1 loss (HiFi-GAN's most important term);
train on these alone first (docs/TRAINING.md). No discriminator yet. ``waveform_errors`` gives
the "mel error" and "multi-resolution STFT error" metrics for comparing vocoders on held-out
clips (e.g. against ``griffin_lim``).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from avgen.audio.mel import HOP, N_MELS, MelFrontEnd, _centre_frames
from avgen.errors import AvgenError
from avgen.modeling import ModelConfig, PretrainedModel

STFT_RESOLUTIONS = ((256, 64), (512, 128), (1024, 256))  # (n_fft, hop)


class ConvNeXtBlock(nn.Module):
    """1-D ConvNeXt block: depthwise conv 7, LayerNorm, MLP (x mlp_ratio), layer scale, residual."""

    def __init__(self, dim: int, mult: int = 3, layer_scale: float = 0.1) -> None:
        super().__init__()
        self.dwconv = nn.Conv1d(dim, dim, 7, padding=3, groups=dim)
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        self.pw1 = nn.Linear(dim, dim * mult)
        self.pw2 = nn.Linear(dim * mult, dim)
        self.gamma = nn.Parameter(torch.full((dim,), layer_scale))

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # x: (B, D, F)
        h = self.dwconv(x).transpose(1, 2)  # (B, F, D)
        h = self.pw2(F.gelu(self.pw1(self.norm(h))))
        return x + (self.gamma * h).transpose(1, 2)


@dataclasses.dataclass
class VocoderConfig(ModelConfig):
    """``Vocoder``'s constructor arguments (its ``config.json``)."""

    model_name = "Vocoder"

    n_mels: int = N_MELS
    hop: int = HOP
    n_fft: int = 640
    hidden_size: int = 192
    num_layers: int = 6
    mlp_ratio: int = 3


class Vocoder(PretrainedModel):
    """Normalised log-mel (B, 1, 64, F) or (B, 64, F) -> waveform (B, F * hop) at 16 kHz."""

    config_class = VocoderConfig

    def __init__(self, config: VocoderConfig | None = None, **kwargs: Any) -> None:
        super().__init__()
        cfg = self.register_config(config, kwargs)
        n_mels, n_fft, dim = cfg.n_mels, cfg.n_fft, cfg.hidden_size
        self.n_mels, self.hop, self.n_fft = n_mels, cfg.hop, n_fft
        self.embed = nn.Conv1d(n_mels, dim, 7, padding=3)
        self.norm_in = nn.LayerNorm(dim, eps=1e-6)
        self.blocks = nn.ModuleList(
            ConvNeXtBlock(dim, cfg.mlp_ratio) for _ in range(cfg.num_layers)
        )
        self.norm_out = nn.LayerNorm(dim, eps=1e-6)
        self.head = nn.Linear(dim, 2 * (n_fft // 2 + 1))
        self.register_buffer("window", torch.hann_window(n_fft), persistent=False)

    def forward(self, mel: torch.Tensor) -> torch.Tensor:
        if mel.ndim == 4:
            mel = mel[:, 0]  # (B, n_mels, F)
        if mel.ndim != 3 or mel.shape[1] != self.n_mels:
            raise AvgenError(
                f"mel has shape {tuple(mel.shape)}; expected (batch, 1, {self.n_mels}, frames)."
            )
        frames = mel.shape[-1]
        x = _centre_frames(mel)  # (B, n_mels, F + 1)
        x = self.embed(x)  # (B, D, F + 1)
        x = self.norm_in(x.transpose(1, 2)).transpose(1, 2)
        for block in self.blocks:
            x = block(x)
        x = self.head(self.norm_out(x.transpose(1, 2))).transpose(1, 2)  # (B, 2 n_freq, F + 1)
        log_mag, phase = x.chunk(2, dim=1)  # (B, n_freq, F + 1) each
        mag = torch.exp(log_mag.float()).clamp(max=1e2)
        spec = torch.complex(mag * torch.cos(phase.float()), mag * torch.sin(phase.float()))
        return torch.istft(
            spec,
            self.n_fft,
            self.hop,
            window=self.window.float(),
            center=True,
            length=frames * self.hop,
        )  # (B, F * hop)


def _stft_mag(wave: torch.Tensor, n_fft: int, hop: int) -> torch.Tensor:
    window = torch.hann_window(n_fft, device=wave.device, dtype=wave.dtype)
    spec = torch.stft(
        wave, n_fft, hop, window=window, center=True, pad_mode="constant", return_complex=True
    )
    return spec.abs().clamp_min(1e-7)  # (B, n_freq, frames)


def multi_resolution_stft_loss(
    pred: torch.Tensor,
    target: torch.Tensor,
    resolutions: tuple[tuple[int, int], ...] = STFT_RESOLUTIONS,
) -> torch.Tensor:
    """Mean over resolutions of spectral convergence + L1 of log magnitudes (arXiv 1910.11480)."""
    total = pred.new_zeros(())
    for n_fft, hop in resolutions:
        p, t = _stft_mag(pred, n_fft, hop), _stft_mag(target, n_fft, hop)
        sc = torch.linalg.norm(t - p, dim=(1, 2)) / torch.linalg.norm(t, dim=(1, 2)).clamp_min(1e-7)
        total = total + sc.mean() + F.l1_loss(torch.log(p), torch.log(t))
    return total / len(resolutions)


def _match(pred: torch.Tensor, target: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    if pred.shape[:-1] != target.shape[:-1]:
        raise AvgenError(
            f"waveforms of shapes {tuple(pred.shape)} and {tuple(target.shape)} cannot be compared."
        )
    n = min(pred.shape[-1], target.shape[-1])
    return pred[..., :n], target[..., :n]


def vocoder_losses(
    pred: torch.Tensor,
    target: torch.Tensor,
    front_end: MelFrontEnd,
    *,
    mel_weight: float = 1.0,
    stft_weight: float = 1.0,
) -> dict[str, torch.Tensor]:
    """Training losses for waveforms (B, T): {"mel", "stft", "total"}.

    "mel" is the L1 between natural-log mels (HiFi-GAN's mel loss; weight it ~45 if you add
    adversarial terms later); "stft" is ``multi_resolution_stft_loss``.
    """
    pred, target = _match(pred, target)
    mel = F.l1_loss(front_end.log_mel(pred), front_end.log_mel(target))
    stft = multi_resolution_stft_loss(pred, target)
    return {"mel": mel, "stft": stft, "total": mel_weight * mel + stft_weight * stft}


@torch.no_grad()
def waveform_errors(
    pred: torch.Tensor, target: torch.Tensor, front_end: MelFrontEnd | None = None
) -> dict[str, float]:
    """Metrics between two waveform batches (B, T) or (T,): lower is better.

    ``mel_error``: mean |ln mel difference| (natural-log mel magnitudes, the floor at 1e-5);
    ``mrstft_error``: ``multi_resolution_stft_loss``. Lengths are cut to the shorter one.
    """
    fe = front_end if front_end is not None else MelFrontEnd().to(pred.device)
    if pred.ndim == 1:
        pred, target = pred[None], target[None]
    pred, target = _match(pred.float(), target.float())
    return {
        "mel_error": float((fe.log_mel(pred) - fe.log_mel(target)).abs().mean()),
        "mrstft_error": float(multi_resolution_stft_loss(pred, target)),
    }
