"""C-ViViT video tokenizer (Phenaki, arXiv 2210.02399) with a finite-scalar-quantized bottleneck.

A video of ``1 + 2k`` frames becomes a grid of discrete token ids ``(1 + k, H / 8, W / 8)``:

- time: the first frame is tokenized alone (paired with itself), later frames in temporal
  patches of 2, so any number of frames ``1 + 2k`` tokenizes and a still image is one time step;
- causal in time: the conv stem and decoder work per time step, and the transformer's temporal
  attention is causal, so the tokens of the first ``j`` time steps do not depend on later
  frames (Phenaki's prime frames: ``encode(video[:, :, :1 + 2 (j - 1)]) == encode(video)[:, :j]``)
  and the first decoded frames depend only on the first tokens;
- space: a per-time-step convolutional stem (pixel-unshuffle by 2 then a 3x3 conv, three
  times: 8x in space) instead of ViViT's linear patch embedding, which is much cheaper on a CPU
  for the same reconstruction quality on flat shapes; then a small transformer whose blocks
  attend over space within a time step and causally over time at each position;
- bottleneck: finite scalar quantization (FSQ, arXiv 2309.15505): a few bounded channels, each
  rounded to a fixed number of levels (straight-through gradient). The codebook is the product
  of the levels (``(8, 5, 5, 5)`` -> 1000 codes), with no codebook loss and no dead codes.

Tensors are (B, C, T, H, W), pixels in [-1, 1]; token ids are (B, t, h, w) longs.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import LongTensor, Tensor, nn

from avgen.errors import AvgenError
from avgen.modeling import ModelConfig, PretrainedModel

TEMPORAL_PATCH = 2
SPATIAL_FACTOR = 8  # three pixel-(un)shuffles by 2


# ----------------------------------------------------------------------------- FSQ


class FSQ(nn.Module):
    """Finite scalar quantization: ``len(levels)`` channels, channel i rounded to ``levels[i]``
    values in [-1, 1]; straight-through gradients. Ids are the mixed-radix numbers of the
    per-channel codes."""

    def __init__(self, levels: tuple[int, ...], eps: float = 1e-3) -> None:
        super().__init__()
        if not levels or any(n < 2 for n in levels):
            raise AvgenError(f"FSQ levels {list(levels)} must each be at least 2.")
        lv = torch.tensor(levels, dtype=torch.float32)
        basis = torch.cumprod(torch.tensor([1, *levels[:-1]], dtype=torch.int64), dim=0)
        self.register_buffer("levels", lv, persistent=False)
        self.register_buffer("basis", basis, persistent=False)
        self.eps = eps
        self.codebook_size = int(math.prod(levels))
        self.dim = len(levels)

    def _bound(self, z: Tensor) -> Tensor:
        """Squash channels so that rounding yields exactly L integers, -(L // 2) .. (L - 1) // 2."""
        half = (self.levels - 1) * (1 + self.eps) / 2
        offset = torch.where(self.levels % 2 == 0, 0.5, 0.0)
        shift = torch.tan(offset / half)  # even levels: centres the range on the integers
        return torch.tanh(z + shift) * half - offset

    def forward(self, z: Tensor) -> Tensor:
        """z (..., dim) -> quantized values (..., dim) in [-1, 1] (straight-through)."""
        bounded = self._bound(z)
        rounded = bounded + (torch.round(bounded) - bounded).detach()
        return rounded / (self.levels // 2)

    def codes_to_ids(self, q: Tensor) -> LongTensor:
        """Quantized values (..., dim) -> ids (...) in [0, codebook_size)."""
        half = self.levels // 2
        codes = torch.round(q * half + half).long()  # (..., dim) in [0, L - 1]
        codes = torch.minimum(codes.clamp_min(0), self.levels.long() - 1)
        return (codes * self.basis).sum(dim=-1)

    def ids_to_codes(self, ids: Tensor) -> Tensor:
        """Ids (...) -> quantized values (..., dim) in [-1, 1]."""
        levels = self.levels.long()
        codes = (ids.long().unsqueeze(-1) // self.basis) % levels  # (..., dim)
        half = self.levels // 2
        return (codes.float() - half) / half


# ----------------------------------------------------------------------------- transformer


def sincos(n: int, dim: int, device: torch.device) -> Tensor:
    """Fixed sinusoidal embedding (n, dim) of positions 0..n-1 (any length, nothing learned)."""
    pos = torch.arange(n, device=device, dtype=torch.float32)[:, None]
    freq = torch.exp(
        torch.arange(0, dim, 2, device=device, dtype=torch.float32) * (-math.log(10000.0) / dim)
    )
    out = torch.zeros(n, dim, device=device)
    out[:, 0::2] = torch.sin(pos * freq)
    out[:, 1::2] = torch.cos(pos * freq)[:, : dim // 2]
    return out


class Attention(nn.Module):
    def __init__(self, dim: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(dim, 3 * dim)
        self.out = nn.Linear(dim, dim)

    def forward(self, x: Tensor, causal: bool) -> Tensor:
        """x (N, L, D): self-attention over L (causal: position i sees 0..i)."""
        n, length, d = x.shape
        q, k, v = self.qkv(x).view(n, length, 3, self.heads, d // self.heads).unbind(2)
        q, k, v = (a.transpose(1, 2) for a in (q, k, v))  # (N, heads, L, d_head)
        y = F.scaled_dot_product_attention(q, k, v, is_causal=causal)
        return self.out(y.transpose(1, 2).reshape(n, length, d))


class SpaceTimeBlock(nn.Module):
    """Spatial attention within each time step, causal temporal attention at each position,
    then an MLP (all pre-norm, residual)."""

    def __init__(self, dim: int, heads: int, mlp_ratio: float) -> None:
        super().__init__()
        self.norm_s = nn.LayerNorm(dim)
        self.attn_s = Attention(dim, heads)
        self.norm_t = nn.LayerNorm(dim)
        self.attn_t = Attention(dim, heads)
        self.norm_m = nn.LayerNorm(dim)
        hidden = int(dim * mlp_ratio)
        self.mlp = nn.Sequential(nn.Linear(dim, hidden), nn.GELU(), nn.Linear(hidden, dim))

    def forward(self, x: Tensor) -> Tensor:
        """x (B, t, S, D) with S = h * w spatial positions."""
        b, t, s, d = x.shape
        y = x.reshape(b * t, s, d)
        y = y + self.attn_s(self.norm_s(y), causal=False)
        y = y.reshape(b, t, s, d).transpose(1, 2).reshape(b * s, t, d)
        y = y + self.attn_t(self.norm_t(y), causal=True)
        y = y.reshape(b, s, t, d).transpose(1, 2)  # (B, t, S, D)
        return y + self.mlp(self.norm_m(y))


class SpaceTimeTransformer(nn.Module):
    def __init__(self, dim: int, layers: int, heads: int, mlp_ratio: float) -> None:
        super().__init__()
        self.blocks = nn.ModuleList(SpaceTimeBlock(dim, heads, mlp_ratio) for _ in range(layers))
        self.norm = nn.LayerNorm(dim)

    def forward(self, x: Tensor, h: int, w: int) -> Tensor:
        """x (B, t, h * w, D) + fixed space and time position embeddings -> same shape."""
        _, t, s, d = x.shape
        dev = x.device
        half = d // 2
        space = torch.cat(
            [
                sincos(h, half, dev)[:, None, :].expand(h, w, half),
                sincos(w, d - half, dev)[None, :, :].expand(h, w, d - half),
            ],
            dim=-1,
        ).reshape(1, 1, s, d)
        time = sincos(t, d, dev).reshape(1, t, 1, d)
        x = x + space + time
        for block in self.blocks:
            x = block(x)
        return self.norm(x)


# ----------------------------------------------------------------------------- model


@dataclasses.dataclass
class CViViTConfig(ModelConfig):
    """``CViViT``'s constructor arguments (its ``config.json``).

    The defaults (301k parameters) train at about 0.56 s of one CPU thread per step of 16
    clips of 17 frames at 64x64 on the shared 2-core machine (0.78 s with ``num_layers=2``,
    whose loss per step was no lower over the first 150 steps)."""

    model_name = "CViViT"

    in_channels: int = 3
    levels: tuple[int, ...] = (8, 5, 5, 5)
    stem_channels: tuple[int, int, int] = (16, 32, 64)
    hidden_size: int = 64
    num_layers: int = 1  # per side: the encoder's and the decoder's transformer each
    num_heads: int = 2
    mlp_ratio: float = 2.0


class CViViT(PretrainedModel):
    """Causal video tokenizer: ``encode(video) -> ids (B, t, h, w)``, ``decode(ids) -> video``.

    ``1 + 2k`` frames -> ``t = 1 + k`` time steps; frame sizes divisible by 8 -> ``(H/8, W/8)``.
    Other frame counts are padded by repeating the last frame (``encode``); ``decode`` returns
    ``num_frames_for(t)`` frames.
    """

    config_class = CViViTConfig
    temporal_patch = TEMPORAL_PATCH
    spatial_factor = SPATIAL_FACTOR

    def __init__(self, config: CViViTConfig | None = None, **kwargs: Any) -> None:
        super().__init__()
        cfg = self.register_config(config, kwargs)
        if cfg.hidden_size % cfg.num_heads or cfg.hidden_size % 2:
            raise AvgenError(
                f"hidden_size {cfg.hidden_size} must be even and divisible by num_heads "
                f"{cfg.num_heads}."
            )
        self.in_channels = cfg.in_channels
        self.fsq = FSQ(tuple(cfg.levels))
        c1, c2, c3 = cfg.stem_channels
        patch = cfg.in_channels * TEMPORAL_PATCH  # two frames stacked on channels
        d = cfg.hidden_size
        # encoder: per time step, 3 x (pixel-unshuffle by 2, 3x3 conv), then the transformer
        self.enc_stem = nn.ModuleList(
            [
                nn.Conv2d(patch * 4, c1, 3, padding=1),
                nn.Conv2d(c1 * 4, c2, 3, padding=1),
                nn.Conv2d(c2 * 4, c3, 3, padding=1),
            ]
        )
        self.enc_in = nn.Linear(c3, d)
        self.enc_tf = SpaceTimeTransformer(d, cfg.num_layers, cfg.num_heads, cfg.mlp_ratio)
        self.to_code = nn.Linear(d, self.fsq.dim)
        # decoder: mirror image
        self.from_code = nn.Linear(self.fsq.dim, d)
        self.dec_tf = SpaceTimeTransformer(d, cfg.num_layers, cfg.num_heads, cfg.mlp_ratio)
        self.dec_out = nn.Linear(d, c3)
        self.dec_stem = nn.ModuleList(
            [
                nn.Conv2d(c3, c2 * 4, 3, padding=1),
                nn.Conv2d(c2, c1 * 4, 3, padding=1),
                nn.Conv2d(c1, patch * 4, 3, padding=1),
            ]
        )

    # ---- shapes -------------------------------------------------------------------------
    @property
    def codebook_size(self) -> int:
        """Number of distinct token ids: the product of the FSQ levels."""
        return self.fsq.codebook_size

    def num_frames_for(self, t: int) -> int:
        """Frames decoded from ``t`` time steps: 1 + (t - 1) * temporal_patch."""
        return 1 + (t - 1) * TEMPORAL_PATCH

    def num_steps_for(self, num_frames: int) -> int:
        """Time steps for ``num_frames`` frames: 1 + ceil((F - 1) / temporal_patch)."""
        return 1 + math.ceil((num_frames - 1) / TEMPORAL_PATCH)

    def token_shape(self, num_frames: int, height: int, width: int) -> tuple[int, int, int]:
        """(t, h, w) of the token grid of a ``num_frames`` x ``height`` x ``width`` video."""
        if height % SPATIAL_FACTOR or width % SPATIAL_FACTOR or num_frames < 1:
            raise AvgenError(
                f"a {num_frames}-frame {height}x{width} video does not tokenize; frame sizes "
                f"must be divisible by {SPATIAL_FACTOR} and there must be at least 1 frame."
            )
        return self.num_steps_for(num_frames), height // SPATIAL_FACTOR, width // SPATIAL_FACTOR

    def _check_video(self, video: Tensor) -> Tensor:
        if video.ndim == 4:
            video = video.unsqueeze(2)  # image (B, C, H, W) -> (B, C, 1, H, W)
        if video.ndim != 5 or video.shape[1] != self.in_channels:
            raise AvgenError(
                f"video of shape {tuple(video.shape)} is not (B, {self.in_channels}, T, H, W)."
            )
        self.token_shape(video.shape[2], video.shape[3], video.shape[4])
        return video

    # ---- encoder / decoder --------------------------------------------------------------
    def encode_features(self, video: Tensor) -> Tensor:
        """Video (B, 3, T, H, W) -> the quantizer's input (B, t, h, w, len(levels))."""
        x = self._check_video(video)
        b, c, f, height, width = x.shape
        t = self.num_steps_for(f)
        pad = self.num_frames_for(t) - f
        if pad:
            x = torch.cat([x, x[:, :, -1:].expand(-1, -1, pad, -1, -1)], dim=2)
        x = torch.cat([x[:, :, :1], x], dim=2)  # frame 0 paired with itself: (B, C, 2t, H, W)
        x = x.reshape(b, c, t, TEMPORAL_PATCH, height, width).permute(0, 2, 1, 3, 4, 5)
        x = x.reshape(b * t, c * TEMPORAL_PATCH, height, width)  # time steps as images
        for i, conv in enumerate(self.enc_stem):
            x = conv(F.pixel_unshuffle(x, 2))
            if i < len(self.enc_stem) - 1:
                x = F.silu(x)
        h, w = x.shape[-2:]
        x = self.enc_in(x.reshape(b, t, x.shape[1], h * w).transpose(2, 3))  # (B, t, S, D)
        return self.to_code(self.enc_tf(x, h, w)).reshape(b, t, h, w, self.fsq.dim)

    def encode_continuous(self, video: Tensor) -> Tensor:
        """Video (B, 3, T, H, W) -> quantized FSQ values (B, t, h, w, len(levels)) in [-1, 1]."""
        return self.fsq(self.encode_features(video))

    def decode_continuous(self, q: Tensor) -> Tensor:
        """Quantized values (B, t, h, w, dim) -> video (B, 3, 1 + 2 (t - 1), H, W) (unclamped)."""
        b, t, h, w, _ = q.shape
        x = self.dec_tf(self.from_code(q.reshape(b, t, h * w, -1)), h, w)
        x = self.dec_out(x).transpose(2, 3).reshape(b * t, -1, h, w)
        for i, conv in enumerate(self.dec_stem):
            x = F.pixel_shuffle(conv(x), 2)
            if i < len(self.dec_stem) - 1:
                x = F.silu(x)
        c = self.in_channels
        height, width = x.shape[-2:]
        x = x.reshape(b, t, c, TEMPORAL_PATCH, height, width).permute(0, 2, 1, 3, 4, 5)
        x = x.reshape(b, c, t * TEMPORAL_PATCH, height, width)
        return x[:, :, 1:]  # the first step's duplicate of frame 0 dropped

    @torch.no_grad()
    def encode(self, video: Tensor) -> LongTensor:
        """Video (B, 3, T, H, W) (or an image (B, 3, H, W)) in [-1, 1] -> ids (B, t, h, w)."""
        return self.fsq.codes_to_ids(self.encode_continuous(video))

    @torch.no_grad()
    def decode(self, tokens: Tensor, num_frames: int | None = None) -> Tensor:
        """Ids (B, t, h, w) -> video (B, 3, 1 + 2 (t - 1), H, W) clamped to [-1, 1];
        ``num_frames`` crops it."""
        if tokens.ndim != 4 or tokens.dtype.is_floating_point:
            raise AvgenError(f"tokens of shape {tuple(tokens.shape)} are not (B, t, h, w) ids.")
        if tokens.numel() and (int(tokens.min()) < 0 or int(tokens.max()) >= self.codebook_size):
            raise AvgenError(f"token ids must lie in 0..{self.codebook_size - 1}.")
        video = self.decode_continuous(self.fsq.ids_to_codes(tokens)).clamp(-1.0, 1.0)
        if num_frames is not None:
            if not 1 <= num_frames <= video.shape[2]:
                raise AvgenError(f"num_frames={num_frames} is outside 1..{video.shape[2]}.")
            video = video[:, :, :num_frames]
        return video

    def forward(self, video: Tensor) -> Tensor:
        """Autoencode through the quantizer (straight-through): the reconstruction, cropped to
        the input's frame count."""
        video = self._check_video(video)
        return self.decode_continuous(self.encode_continuous(video))[:, :, : video.shape[2]]

    def training_loss(self, video: Tensor, edge_weight: float = 0.0) -> dict[str, Tensor]:
        """L1 + L2 reconstruction (+ ``edge_weight`` x L1 of spatial gradients): dict(loss,
        l1, l2, edge)."""
        video = self._check_video(video)
        recon = self(video)
        return reconstruction_loss(recon, video, edge_weight)


def spatial_gradients(x: Tensor) -> tuple[Tensor, Tensor]:
    """Horizontal and vertical finite differences of (B, C, T, H, W)."""
    return x[..., :, 1:] - x[..., :, :-1], x[..., 1:, :] - x[..., :-1, :]


def reconstruction_loss(recon: Tensor, video: Tensor, edge_weight: float = 0.0) -> dict:
    """L1 + L2 of the pixels (+ edge_weight x L1 of the spatial gradients, which keeps the
    edges of small objects sharp): dict(loss, l1, l2, edge)."""
    diff = recon - video
    l1 = diff.abs().mean()
    l2 = diff.pow(2).mean()
    out = {"l1": l1, "l2": l2}
    loss = l1 + l2
    if edge_weight > 0:
        rx, ry = spatial_gradients(recon)
        vx, vy = spatial_gradients(video)
        edge = 0.5 * ((rx - vx).abs().mean() + (ry - vy).abs().mean())
        loss = loss + edge_weight * edge
        out["edge"] = edge
    out["loss"] = loss
    return out
