"""Mel VAE with 4x compression in time and frequency, as AudioLDM's (arXiv 2301.12503).

Own small convolutional encoder/decoder (GroupNorm + SiLU residual blocks, two stride-2
downsamplings, nearest-neighbour upsampling), not diffusers' ``AutoencoderKL``: that one
carries a self-attention mid-block and wide channels that cost far more than a 2-core CPU
budget allows; this is the same KL-autoencoder recipe (Stable Diffusion's "KL-f4") in small.

Layout: normalised mel (B, 1, 64, F) -> posterior mean / logvar (B, C, 16, F / 4) -> mel.
Latent channels default to 8 like AudioLDM; 4 is available and generates more easily (larger
latents reconstruct better but generate worse, arXiv 2501.01423): the choice is to be
measured. Frame counts not divisible by 4 are padded with the silence value (-1) and cropped
back. ``scaling_factor`` (in the config) maps posterior means to unit-std diffusion latents;
set it after training with ``set_scaling_factor(1 / latent_std)``.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from avgen.audio.mel import N_MELS
from avgen.errors import AvgenError
from avgen.modeling import ModelConfig, PretrainedModel
from avgen.modules import kl_divergence

SILENCE = -1.0  # the normalised log-mel floor (see avgen.audio.mel)
FACTOR = 4  # two stride-2 convolutions: 4x fewer latent rows and frames than mel bins and frames


def _norm(ch: int) -> nn.GroupNorm:
    return nn.GroupNorm(min(8, ch), ch, eps=1e-6)


class ResBlock(nn.Module):
    """GroupNorm-SiLU-conv3x3 twice, with a 1x1 skip when the channel count changes."""

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.n1, self.c1 = _norm(cin), nn.Conv2d(cin, cout, 3, padding=1)
        self.n2, self.c2 = _norm(cout), nn.Conv2d(cout, cout, 3, padding=1)
        self.skip = nn.Conv2d(cin, cout, 1) if cin != cout else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.c1(F.silu(self.n1(x)))
        h = self.c2(F.silu(self.n2(h)))
        return self.skip(x) + h


@dataclasses.dataclass
class MelVAEConfig(ModelConfig):
    """``MelVAE``'s constructor arguments (its ``config.json``)."""

    model_name = "MelVAE"

    n_mels: int = N_MELS
    latent_channels: int = 8
    block_out_channels: tuple[int, int, int] = (16, 32, 64)
    layers_per_block: int = 1
    kl_weight: float = 1e-5
    scaling_factor: float = 1.0


class MelVAE(PretrainedModel):
    """KL autoencoder for normalised log-mels: (B, 1, n_mels, F) <-> (B, C, n_mels/4, F/4)."""

    config_class = MelVAEConfig

    def __init__(self, config: MelVAEConfig | None = None, **kwargs: Any) -> None:
        super().__init__()
        cfg = self.register_config(config, kwargs)
        if cfg.n_mels % FACTOR:
            raise AvgenError(
                f"n_mels={cfg.n_mels} must be divisible by {FACTOR} for the {FACTOR}x VAE."
            )
        if len(cfg.block_out_channels) != 3:
            raise AvgenError(
                f"block_out_channels={list(cfg.block_out_channels)} must give 3 widths."
            )
        latent_channels, blocks_per_level = cfg.latent_channels, cfg.layers_per_block
        c0, c1, c2 = cfg.block_out_channels
        self.latent_channels = latent_channels
        self.kl_weight = cfg.kl_weight
        self.scaling_factor = cfg.scaling_factor

        def level(cin: int, cout: int) -> list[nn.Module]:
            return [ResBlock(cin if i == 0 else cout, cout) for i in range(blocks_per_level)]

        self.encoder = nn.Sequential(
            nn.Conv2d(1, c0, 3, padding=1),
            *level(c0, c0),
            nn.Conv2d(c0, c1, 3, stride=2, padding=1),  # (B, c1, n_mels/2, F/2)
            *level(c1, c1),
            nn.Conv2d(c1, c2, 3, stride=2, padding=1),  # (B, c2, n_mels/4, F/4)
            *level(c2, c2),
            _norm(c2),
            nn.SiLU(),
            nn.Conv2d(c2, 2 * latent_channels, 3, padding=1),
        )
        self.decoder = nn.Sequential(
            nn.Conv2d(latent_channels, c2, 3, padding=1),
            *level(c2, c2),
            nn.Upsample(scale_factor=2, mode="nearest"),
            nn.Conv2d(c2, c1, 3, padding=1),  # (B, c1, n_mels/2, F/2)
            *level(c1, c1),
            nn.Upsample(scale_factor=2, mode="nearest"),
            nn.Conv2d(c1, c0, 3, padding=1),  # (B, c0, n_mels, F)
            *level(c0, c0),
            _norm(c0),
            nn.SiLU(),
            nn.Conv2d(c0, 1, 3, padding=1),
        )

    @property
    def temporal_factor(self) -> int:
        """Mel frames per latent frame (4)."""
        return FACTOR

    @property
    def freq_factor(self) -> int:
        """Mel bins per latent row (4)."""
        return FACTOR

    @property
    def latent_freq(self) -> int:
        """Latent rows: n_mels / freq_factor (16 for 64 mel bins)."""
        return self.config.n_mels // FACTOR

    def latent_frames(self, frames: int) -> int:
        """Latent frames for ``frames`` mel frames: ceil(frames / temporal_factor)."""
        return -(-frames // FACTOR)

    def set_scaling_factor(self, value: float) -> None:
        """Store the latent scaling (usually 1 / std of posterior means) in the config."""
        self.scaling_factor = float(value)
        self.config.scaling_factor = float(value)

    def _check(self, mel: torch.Tensor) -> None:
        n = self.config.n_mels
        if mel.ndim != 4 or mel.shape[1] != 1 or mel.shape[2] != n:
            raise AvgenError(f"mel has shape {tuple(mel.shape)}; expected (batch, 1, {n}, frames).")

    def encode(self, mel: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Normalised mel (B, 1, n, F) -> posterior (mean, logvar), each (B, C, n/4, ceil(F/4))."""
        self._check(mel)
        pad = -mel.shape[-1] % FACTOR
        if pad:
            mel = F.pad(mel, (0, pad), value=SILENCE)  # (B, 1, n_mels, F + pad)
        mean, logvar = self.encoder(mel).chunk(2, dim=1)  # (B, C, n/4, F'/4) each
        return mean, logvar.clamp(-30.0, 20.0)

    def decode(self, z: torch.Tensor, frames: int | None = None) -> torch.Tensor:
        """Latent (B, C, n/4, F') -> mel (B, 1, n_mels, 4 F'), cropped to ``frames`` if given."""
        if z.ndim != 4 or z.shape[1] != self.latent_channels:
            raise AvgenError(
                f"latent has shape {tuple(z.shape)}; expected (batch, {self.latent_channels}, "
                f"{self.latent_freq}, frames)."
            )
        mel = self.decoder(z)
        return mel if frames is None else mel[..., :frames]

    @staticmethod
    def sample_posterior(
        mean: torch.Tensor, logvar: torch.Tensor, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        gen_device = generator.device if generator is not None else mean.device
        eps = torch.randn(mean.shape, generator=generator, device=gen_device).to(mean)
        return mean + torch.exp(0.5 * logvar) * eps

    def forward(
        self, mel: torch.Tensor, generator: torch.Generator | None = None, sample: bool = True
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Reconstruct: returns (mel_hat (same shape as mel), mean, logvar)."""
        mean, logvar = self.encode(mel)
        z = self.sample_posterior(mean, logvar, generator) if sample else mean
        return self.decode(z, frames=mel.shape[-1]), mean, logvar

    def loss(
        self,
        mel: torch.Tensor,
        generator: torch.Generator | None = None,
        mask: torch.Tensor | None = None,
    ) -> dict[str, torch.Tensor]:
        """{"rec": L1 on the mel, "kl": mean KL per latent element, "total": rec + w * kl}.

        ``mask`` (B, 1, 1, F) or broadcastable, 1 = real frame, excludes padding from the L1.
        """
        rec, mean, logvar = self(mel, generator)
        err = (rec - mel).abs()
        if mask is None:
            l1 = err.mean()
        else:
            m = mask.to(err).expand_as(err)
            l1 = (err * m).sum() / m.sum().clamp_min(1.0)
        kl = kl_divergence(mean, logvar)
        return {"rec": l1, "kl": kl, "total": l1 + self.kl_weight * kl}

    def to_diffusion(self, mel: torch.Tensor) -> torch.Tensor:
        """Mel -> the scaled posterior mean the denoiser is trained on (B, C, n/4, ceil(F/4))."""
        return self.encode(mel)[0] * self.scaling_factor

    def from_diffusion(self, z: torch.Tensor, frames: int | None = None) -> torch.Tensor:
        """Scaled diffusion latent -> mel (B, 1, n_mels, frames)."""
        return self.decode(z / self.scaling_factor, frames)
