"""Causal video autoencoder (KL): 1 + 4k frames -> 1 + k latent frames, 4x or 8x in space.

Reproduces the causal 3D VAE design of CogVideoX (arXiv 2408.06072), Wan 2.1 (arXiv 2503.20314)
and LTX-Video (arXiv 2501.00103), shrunk for 64x64 clips on a CPU; written by us (diffusers'
``AutoencoderKL`` is 2D and far too heavy for this budget):

- causal in time: temporal convolutions pad only on the past side, and temporal down-sampling
  keeps the first frame alone, so latent frame ``j`` depends only on frames ``<= tf * j``. The
  first latent frame is the encoding of frame 0 alone: an init image encodes to exactly the
  first latent frame of a clip that starts with it (image-to-video), and the last ``1 + tf * n``
  frames of a clip encode on their own to ``1 + n`` latent frames (extension);
- space is compressed LTX-style: pixel-unshuffle by 2 plus a per-frame 3x3 conv per factor of 2,
  so the expensive 3D convolutions run only on a 16x16 grid at reduced frame rates;
- channel RMS normalisation (as in Wan) instead of GroupNorm, whose statistics over all frames
  would leak the future into the past;
- 8 latent channels by default: a 4x4x4 block of RGB (192 numbers) becomes 8 (24x). Flat
  shapes over simple backgrounds need little more, and fewer channels diffuse better
  (arXiv 2501.01423); 16 is the step up when reconstructions lose edges.

Time is handled as (B, C, F, H, W) throughout; pixels are in [-1, 1].
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from avgen.errors import AvgenError
from avgen.modeling import ModelConfig, PretrainedModel
from avgen.modules import kl_divergence


def _log2_factor(name: str, value: int, allowed: tuple[int, ...]) -> int:
    if value not in allowed:
        raise AvgenError(f"{name}={value} is not supported; use one of {list(allowed)}.")
    return int(math.log2(value))


def space_to_depth(x: Tensor, r: int = 2) -> Tensor:
    """(B, C, F, H, W) -> (B, C * r * r, F, H / r, W / r) (pixel unshuffle per frame)."""
    b, c, f, h, w = x.shape
    x = x.reshape(b, c, f, h // r, r, w // r, r)  # (B, C, F, h, r, w, r)
    x = x.permute(0, 1, 4, 6, 2, 3, 5)  # (B, C, r, r, F, h, w)
    return x.reshape(b, c * r * r, f, h // r, w // r)


def depth_to_space(x: Tensor, r: int = 2) -> Tensor:
    """(B, C * r * r, F, H, W) -> (B, C, F, H * r, W * r) (pixel shuffle per frame)."""
    b, crr, f, h, w = x.shape
    c = crr // (r * r)
    x = x.reshape(b, c, r, r, f, h, w)  # (B, C, r, r, F, H, W)
    x = x.permute(0, 1, 4, 5, 2, 6, 3)  # (B, C, F, H, r, W, r)
    return x.reshape(b, c, f, h * r, w * r)


class ChannelRMSNorm(nn.Module):
    """RMS norm over channels only (per frame and pixel), so it cannot break causality."""

    def __init__(self, channels: int, eps: float = 1e-6) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(channels))
        self.eps = eps

    def forward(self, x: Tensor) -> Tensor:
        scale = torch.rsqrt(x.pow(2).mean(dim=1, keepdim=True) + self.eps)
        return x * scale * self.weight.view(1, -1, 1, 1, 1)


class CausalConv3d(nn.Conv3d):
    """3D convolution padded on the past side in time (replicating frame 0), 'same' in space."""

    def __init__(self, cin: int, cout: int, kernel: int = 3) -> None:
        super().__init__(cin, cout, kernel, padding=(0, kernel // 2, kernel // 2))
        self.time_pad = kernel - 1

    def forward(self, x: Tensor) -> Tensor:
        if self.time_pad:
            first = x[:, :, :1].expand(-1, -1, self.time_pad, -1, -1)
            x = torch.cat([first, x], dim=2)  # (B, C, time_pad + F, H, W)
        return super().forward(x)


def frame_conv(cin: int, cout: int) -> nn.Conv3d:
    """A per-frame 3x3 convolution (no mixing in time)."""
    return nn.Conv3d(cin, cout, (1, 3, 3), padding=(0, 1, 1))


class CausalResBlock(nn.Module):
    """Pre-norm residual block of two causal 3x3x3 convolutions."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.norm1 = ChannelRMSNorm(channels)
        self.conv1 = CausalConv3d(channels, channels)
        self.norm2 = ChannelRMSNorm(channels)
        self.conv2 = CausalConv3d(channels, channels)

    def forward(self, x: Tensor) -> Tensor:
        h = self.conv1(F.silu(self.norm1(x)))
        return x + self.conv2(F.silu(self.norm2(h)))


class TimeDown(nn.Module):
    """Causal 2x temporal down-sampling: 1 + 2m frames -> 1 + m (frame 0 paired with itself)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.proj = nn.Conv3d(2 * channels, channels, 1)

    def forward(self, x: Tensor) -> Tensor:
        b, c, f, h, w = x.shape
        x = torch.cat([x[:, :, :1], x], dim=2)  # (B, C, 2 + 2m, H, W)
        x = x.reshape(b, c, (f + 1) // 2, 2, h, w).transpose(2, 3)  # (B, C, 2, 1 + m, H, W)
        return self.proj(x.reshape(b, 2 * c, (f + 1) // 2, h, w))


class TimeUp(nn.Module):
    """Causal 2x temporal up-sampling: 1 + m latent frames -> 1 + 2m frames."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.proj = nn.Conv3d(channels, 2 * channels, 1)

    def forward(self, x: Tensor) -> Tensor:
        b, c, f, h, w = x.shape
        x = self.proj(x).reshape(b, c, 2, f, h, w).transpose(2, 3)  # (B, C, F, 2, H, W)
        return x.reshape(b, c, 2 * f, h, w)[:, :, 1:]  # (B, C, 2F - 1, H, W)


@dataclasses.dataclass
class VideoVAEConfig(ModelConfig):
    """``VideoVAE``'s constructor arguments (its ``config.json``)."""

    model_name = "VideoVAE"

    in_channels: int = 3
    latent_channels: int = 8
    spatial_factor: int = 4
    temporal_factor: int = 4
    hidden_channels: int = 64
    stem_channels: int = 16
    layers_per_block: int = 1
    kl_weight: float = 1e-4
    scaling_factor: float = 1.0


class VideoVAE(PretrainedModel):
    """Causal KL video autoencoder (CogVideoX / Wan / LTX-Video style), sized for CPU training.

    ``encode(video) -> (mean, logvar)`` and ``decode(z) -> video`` work on raw latents;
    ``encode_frames`` / ``decode_latents`` include ``scaling_factor`` (the DiT's latent space)
    and accept any frame count (padded to ``1 + tf * k`` by repeating the last frame, cropped
    back on decode) and single images (B, 3, H, W).
    """

    config_class = VideoVAEConfig

    def __init__(self, config: VideoVAEConfig | None = None, **kwargs: Any) -> None:
        super().__init__()
        cfg = self.register_config(config, kwargs)
        in_channels, latent_channels = cfg.in_channels, cfg.latent_channels
        spatial_factor, temporal_factor = cfg.spatial_factor, cfg.temporal_factor
        hidden_channels, stem_channels = cfg.hidden_channels, cfg.stem_channels
        num_res_blocks = cfg.layers_per_block
        n_space = _log2_factor("spatial_factor", spatial_factor, (2, 4, 8, 16))
        n_time = _log2_factor("temporal_factor", temporal_factor, (1, 2, 4, 8))
        self.in_channels, self.latent_channels = in_channels, latent_channels
        self.spatial_factor, self.temporal_factor = spatial_factor, temporal_factor
        self.kl_weight, self.scaling_factor = cfg.kl_weight, cfg.scaling_factor
        # channels after each pixel-unshuffle level; the last level has hidden_channels
        widths = [min(hidden_channels, stem_channels * 2**i) for i in range(n_space - 1)]
        widths.append(hidden_channels)

        # encoder: per-frame space-to-depth stem, then [TimeDown, ResBlocks] per time level
        self.enc_stem = nn.ModuleList()
        cin = in_channels
        for width in widths:
            self.enc_stem.append(frame_conv(cin * 4, width))
            cin = width
        self.enc_time = nn.ModuleList(
            nn.Sequential(
                TimeDown(hidden_channels),
                *[CausalResBlock(hidden_channels) for _ in range(num_res_blocks)],
            )
            for _ in range(n_time)
        )
        self.enc_mid = nn.Sequential(
            *[CausalResBlock(hidden_channels) for _ in range(num_res_blocks if n_time == 0 else 0)]
        )
        self.enc_norm = ChannelRMSNorm(hidden_channels)
        self.enc_out = CausalConv3d(hidden_channels, 2 * latent_channels)

        # decoder: mirror image
        self.dec_in = CausalConv3d(latent_channels, hidden_channels)
        self.dec_time = nn.ModuleList(
            nn.Sequential(
                *[CausalResBlock(hidden_channels) for _ in range(num_res_blocks)],
                TimeUp(hidden_channels),
            )
            for _ in range(n_time)
        )
        self.dec_mid = nn.Sequential(
            *[CausalResBlock(hidden_channels) for _ in range(num_res_blocks if n_time == 0 else 0)]
        )
        self.dec_norm = ChannelRMSNorm(hidden_channels)
        self.dec_stem = nn.ModuleList()
        outs = [in_channels, *widths[:-1]]  # each level's output width, top level first
        for i in reversed(range(n_space)):
            self.dec_stem.append(frame_conv(widths[i], outs[i] * 4))

    # ---- shapes -------------------------------------------------------------------------
    def latent_frames(self, num_frames: int) -> int:
        """Latent frames for ``num_frames`` video frames: 1 + ceil((F - 1) / tf)."""
        return 1 + math.ceil((num_frames - 1) / self.temporal_factor)

    def video_frames(self, num_latent_frames: int) -> int:
        """Video frames decoded from ``num_latent_frames``: 1 + tf * (F' - 1)."""
        return 1 + self.temporal_factor * (num_latent_frames - 1)

    def _check_video(self, video: Tensor) -> Tensor:
        if video.ndim == 4:
            video = video.unsqueeze(2)  # image (B, C, H, W) -> (B, C, 1, H, W)
        if video.ndim != 5 or video.shape[1] != self.in_channels:
            raise AvgenError(
                f"video of shape {tuple(video.shape)} is not (B, {self.in_channels}, F, H, W) "
                f"or (B, {self.in_channels}, H, W)."
            )
        s = self.spatial_factor
        if video.shape[-2] % s or video.shape[-1] % s:
            raise AvgenError(
                f"frame size {video.shape[-2]}x{video.shape[-1]} is not divisible by the "
                f"spatial factor {s}."
            )
        if video.shape[2] < 1:
            raise AvgenError("video has 0 frames; at least 1 is needed.")
        return video

    # ---- encoder / decoder -------------------------------------------------------------
    def encode(self, video: Tensor) -> tuple[Tensor, Tensor]:
        """video (B, 3, F, H, W) in [-1, 1] -> mean, logvar (B, C, 1 + ceil((F-1)/tf), h, w)."""
        x = self._check_video(video)
        pad = self.video_frames(self.latent_frames(x.shape[2])) - x.shape[2]
        if pad:
            x = torch.cat([x, x[:, :, -1:].expand(-1, -1, pad, -1, -1)], dim=2)
        for i, conv in enumerate(self.enc_stem):
            x = conv(space_to_depth(x))  # (B, C_i, F, H / 2^(i+1), W / 2^(i+1))
            if i < len(self.enc_stem) - 1:
                x = F.silu(x)
        for level in self.enc_time:
            x = level(x)  # (B, hidden, 1 + (F - 1) / 2, h, w)
        x = self.enc_out(F.silu(self.enc_norm(self.enc_mid(x))))  # (B, 2C, F', h, w)
        mean, logvar = x.chunk(2, dim=1)
        return mean, logvar.clamp(-30.0, 20.0)

    def decode(self, z: Tensor, num_frames: int | None = None) -> Tensor:
        """Raw latent (B, C, F', h, w) -> video (B, 3, 1 + tf (F' - 1), H, W).

        ``num_frames`` crops the result (the frame count the clip had before padding).
        """
        if z.ndim != 5 or z.shape[1] != self.latent_channels:
            raise AvgenError(
                f"latent of shape {tuple(z.shape)} is not (B, {self.latent_channels}, F', h, w)."
            )
        x = self.dec_in(z)
        for level in self.dec_time:
            x = level(x)  # (B, hidden, 2F - 1, h, w)
        x = F.silu(self.dec_norm(self.dec_mid(x)))
        for i, conv in enumerate(self.dec_stem):
            x = depth_to_space(conv(x))  # (B, C_i, F, 2h, 2w)
            if i < len(self.dec_stem) - 1:
                x = F.silu(x)
        if num_frames is not None:
            if not 1 <= num_frames <= x.shape[2]:
                raise AvgenError(f"num_frames={num_frames} is outside 1..{x.shape[2]}.")
            x = x[:, :, :num_frames]
        return x

    def forward(
        self, video: Tensor, *, sample: bool = True, generator: torch.Generator | None = None
    ) -> tuple[Tensor, Tensor, Tensor]:
        """Autoencode: returns (reconstruction cropped to F frames, mean, logvar)."""
        mean, logvar = self.encode(video)
        z = self._sample(mean, logvar, generator) if sample else mean
        return self.decode(z, num_frames=self._check_video(video).shape[2]), mean, logvar

    @staticmethod
    def _sample(mean: Tensor, logvar: Tensor, generator: torch.Generator | None) -> Tensor:
        noise = torch.randn(mean.shape, generator=generator, device=mean.device, dtype=mean.dtype)
        return mean + torch.exp(0.5 * logvar) * noise

    def training_loss(
        self, video: Tensor, *, generator: torch.Generator | None = None
    ) -> dict[str, Tensor]:
        """L1 reconstruction + kl_weight * KL (both means over elements): dict(loss, recon, kl)."""
        recon, mean, logvar = self(video, sample=True, generator=generator)
        rec = (recon - self._check_video(video)).abs().mean()
        kl = kl_divergence(mean, logvar)
        return {"loss": rec + self.kl_weight * kl, "recon": rec, "kl": kl}

    # ---- the DiT's latent space --------------------------------------------------------
    @torch.no_grad()
    def encode_frames(
        self, video: Tensor, *, sample: bool = False, generator: torch.Generator | None = None
    ) -> Tensor:
        """Video (B, 3, F, H, W) or image (B, 3, H, W) -> scaled latent (B, C, F', h, w).

        Uses: training latents, an init image for image-to-video (one latent frame, equal to the
        first latent frame of any clip starting with it), and the last ``1 + tf * n`` frames of a
        clip for extension (``1 + n`` latent frames to give the DiT as ``cond["known"]``; drop the
        first ``1 + tf * n`` decoded frames of the new window, they re-create the context).
        """
        mean, logvar = self.encode(video)
        z = self._sample(mean, logvar, generator) if sample else mean
        return z * self.scaling_factor

    @torch.no_grad()
    def decode_latents(self, z: Tensor, num_frames: int | None = None) -> Tensor:
        """Scaled latent -> video (B, 3, F, H, W) clamped to [-1, 1], cropped to num_frames."""
        return self.decode(z / self.scaling_factor, num_frames=num_frames).clamp(-1.0, 1.0)

    def fit_scaling_factor(self, latents: Tensor) -> float:
        """Set scaling_factor = 1 / std of raw latent means (as Stable Diffusion's 0.18215)."""
        value = float(1.0 / latents.float().std().clamp_min(1e-6))
        self.scaling_factor = value
        self.config.scaling_factor = value
        return value
