"""Text-conditioned latent denoiser for mel-VAE latents: a 1-D DiT over time.

Reproduces the role of AudioLDM's latent denoiser (arXiv 2301.12503) with DiT's adaLN-Zero
blocks (arXiv 2212.09748) and PixArt-style cross-attention on text tokens. The latent
(B, C, 16, T') is a sequence over time: each latent frame's C * 16 values (``patch`` frames
concatenated) form one token. Positions are rotary (RoPE) in self-attention, so any length
(1-60 s of audio) works. The adaLN vector sums the timestep, the pooled text embedding and
Stable Audio's scalar timing conditions (tempo_bpm, seconds_total; arXiv 2402.04825). A
per-frame beat grid (sin/cos of the beat and bar phase, computed from the tempo or given as
``cond["beat"]``) is added token by token, handing the model the temporal structure that small
models learn last (TRAINING-NOTES). Own code with ``F.scaled_dot_product_attention``.

Call contract (avgen.diffusion): ``model(x_t, t, cond) -> v``, with cond keys ``tokens``
(B, L, text_dim), ``mask`` (B, L) bool, ``pooled`` (B, text_dim), and optional ``tempo`` (B,)
in BPM, ``seconds`` (B,), ``beat`` (B, T', beat_dim), ``frame_mask`` (B, T') bool (True =
real frame, for padded batches). NaN in tempo or seconds means "unknown" (a learned null).
A text row with mask all False is the null (unconditional) text: a learned null key that is
always attended keeps it well defined. ``null_condition`` builds such rows.
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from avgen.errors import AvgenError
from avgen.modeling import PretrainedModel


def timestep_embedding(t: torch.Tensor, dim: int, max_period: float = 10000.0) -> torch.Tensor:
    """Sinusoidal embedding (B, dim) of t in [0, 1] (scaled by 1000 as in DiT)."""
    half = dim // 2
    freqs = torch.exp(-math.log(max_period) * torch.arange(half, device=t.device) / half)
    args = 1000.0 * t.float()[:, None] * freqs[None]  # (B, half)
    return torch.cat([torch.cos(args), torch.sin(args)], dim=-1)


def beat_grid(tempo: torch.Tensor, frames: int, frame_seconds: float) -> torch.Tensor:
    """Beat/bar phase features (B, frames, 4): sin/cos of 2 pi beats and of 2 pi beats / 4.

    Beat 0 is at t = 0 and frame k is at time (k + 1/2) * frame_seconds; a NaN tempo gives zeros.
    """
    times = (torch.arange(frames, device=tempo.device, dtype=torch.float32) + 0.5) * frame_seconds
    known = torch.isfinite(tempo)
    beats = times[None] * torch.nan_to_num(tempo.float(), nan=0.0)[:, None] / 60.0  # (B, frames)
    ph = 2 * math.pi * beats
    grid = torch.stack([ph.sin(), ph.cos(), (ph / 4).sin(), (ph / 4).cos()], dim=-1)
    return grid * known[:, None, None]


class ScalarEmbed(nn.Module):
    """A scalar in [lo, hi] -> Fourier features -> MLP (Stable Audio's number conditioner)."""

    def __init__(self, dim: int, lo: float, hi: float, n_freq: int = 16) -> None:
        super().__init__()
        self.lo, self.hi = lo, hi
        self.register_buffer("freqs", 2.0 ** torch.arange(n_freq) * math.pi, persistent=False)
        self.mlp = nn.Sequential(nn.Linear(2 * n_freq, dim), nn.SiLU(), nn.Linear(dim, dim))
        self.null = nn.Parameter(torch.zeros(dim))

    def forward(self, value: torch.Tensor | None, batch: int) -> torch.Tensor:
        if value is None:
            return self.null.expand(batch, -1)
        value = value.float().reshape(-1)
        known = torch.isfinite(value)
        u = ((torch.nan_to_num(value, nan=self.lo) - self.lo) / (self.hi - self.lo)).clamp(0, 1)
        args = u[:, None] * self.freqs[None]  # (B, n_freq)
        emb = self.mlp(torch.cat([args.sin(), args.cos()], dim=-1))
        return torch.where(known[:, None], emb, self.null.expand_as(emb))


def rope(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotate feature pairs of x (B, H, N, Dh) by position angles cos/sin (N, Dh / 2)."""
    x1, x2 = x[..., 0::2], x[..., 1::2]
    out = torch.stack([x1 * cos - x2 * sin, x1 * sin + x2 * cos], dim=-1)
    return out.flatten(-2)


class Block(nn.Module):
    """adaLN-Zero self-attention (RoPE) -> cross-attention on text -> adaLN-Zero MLP."""

    def __init__(self, dim: int, heads: int, text_dim: int, mlp_ratio: float) -> None:
        super().__init__()
        self.heads = heads
        self.norm1 = nn.LayerNorm(dim, elementwise_affine=False, eps=1e-6)
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)
        self.norm_x = nn.LayerNorm(dim, eps=1e-6)
        self.q_x = nn.Linear(dim, dim)
        self.kv_x = nn.Linear(text_dim, 2 * dim)
        self.proj_x = nn.Linear(dim, dim)
        self.norm2 = nn.LayerNorm(dim, elementwise_affine=False, eps=1e-6)
        hidden = int(dim * mlp_ratio)
        self.mlp = nn.Sequential(nn.Linear(dim, hidden), nn.GELU(), nn.Linear(hidden, dim))
        self.ada = nn.Linear(dim, 6 * dim)
        nn.init.zeros_(self.ada.weight)
        nn.init.zeros_(self.ada.bias)

    def _heads(self, x: torch.Tensor) -> torch.Tensor:
        b, n, d = x.shape
        return x.view(b, n, self.heads, d // self.heads).transpose(1, 2)  # (B, H, N, Dh)

    def forward(
        self,
        x: torch.Tensor,
        c: torch.Tensor,
        rot: tuple[torch.Tensor, torch.Tensor],
        self_mask: torch.Tensor | None,
        text: torch.Tensor,
        text_mask: torch.Tensor,
    ) -> torch.Tensor:
        b, n, d = x.shape
        sh1, sc1, g1, sh2, sc2, g2 = self.ada(F.silu(c)).unsqueeze(1).chunk(6, dim=-1)
        h = self.norm1(x) * (1 + sc1) + sh1
        q, k, v = self.qkv(h).chunk(3, dim=-1)
        q, k, v = self._heads(q), self._heads(k), self._heads(v)  # (B, H, N, Dh)
        q, k = rope(q, *rot), rope(k, *rot)
        a = F.scaled_dot_product_attention(q, k, v, attn_mask=self_mask)
        x = x + g1 * self.proj(a.transpose(1, 2).reshape(b, n, d))
        q = self._heads(self.q_x(self.norm_x(x)))
        k, v = self.kv_x(text).chunk(2, dim=-1)
        a = F.scaled_dot_product_attention(q, self._heads(k), self._heads(v), attn_mask=text_mask)
        x = x + self.proj_x(a.transpose(1, 2).reshape(b, n, d))
        h = self.norm2(x) * (1 + sc2) + sh2
        return x + g2 * self.mlp(h)


class AudioDenoiser(PretrainedModel):
    """Velocity model v(x_t, t, cond) over mel-VAE latents (B, C, n_freq, T')."""

    def __init__(
        self,
        latent_channels: int = 8,
        latent_freq: int = 16,
        patch: int = 2,
        dim: int = 256,
        depth: int = 6,
        heads: int = 4,
        mlp_ratio: float = 4.0,
        text_dim: int = 384,
        beat_dim: int = 4,
        frame_seconds: float = 0.04,
        tempo_range: tuple[float, float] = (40.0, 240.0),
        seconds_range: tuple[float, float] = (0.0, 60.0),
    ) -> None:
        super().__init__()
        self.register_config(
            latent_channels=latent_channels,
            latent_freq=latent_freq,
            patch=patch,
            dim=dim,
            depth=depth,
            heads=heads,
            mlp_ratio=mlp_ratio,
            text_dim=text_dim,
            beat_dim=beat_dim,
            frame_seconds=frame_seconds,
            tempo_range=tempo_range,
            seconds_range=seconds_range,
        )
        if dim % heads or (dim // heads) % 2:
            raise AvgenError(f"dim={dim} must split into {heads} heads of even size.")
        self.c, self.f, self.patch, self.dim = latent_channels, latent_freq, patch, dim
        self.text_dim, self.beat_dim, self.frame_seconds = text_dim, beat_dim, frame_seconds
        token_in = patch * latent_channels * latent_freq
        self.x_in = nn.Linear(token_in, dim)
        self.beat_in = nn.Linear(patch * beat_dim, dim)
        nn.init.zeros_(self.beat_in.weight)
        self.t_mlp = nn.Sequential(nn.Linear(dim, dim), nn.SiLU(), nn.Linear(dim, dim))
        self.pooled_mlp = nn.Sequential(nn.Linear(text_dim, dim), nn.SiLU(), nn.Linear(dim, dim))
        self.tempo_emb = ScalarEmbed(dim, *tempo_range)
        self.seconds_emb = ScalarEmbed(dim, *seconds_range)
        self.null_text = nn.Parameter(torch.randn(1, 1, text_dim) * 0.02)
        self.blocks = nn.ModuleList(Block(dim, heads, text_dim, mlp_ratio) for _ in range(depth))
        self.norm_out = nn.LayerNorm(dim, elementwise_affine=False, eps=1e-6)
        self.ada_out = nn.Linear(dim, 2 * dim)
        self.x_out = nn.Linear(dim, token_in)
        for layer in (self.ada_out, self.x_out):
            nn.init.zeros_(layer.weight)
            nn.init.zeros_(layer.bias)

    def null_condition(
        self, batch: int, device: torch.device | str | None = None
    ) -> dict[str, torch.Tensor]:
        """The unconditional text condition: one masked zero token and a zero pooled vector.

        Any row of an encoded batch with ``mask`` all False and ``pooled`` zero means the same,
        so the trainer's condition dropout can zero rows in place. Use it as ``uncond`` for
        classifier-free guidance when there is no negative prompt.
        """
        return {
            "tokens": torch.zeros(batch, 1, self.text_dim, device=device),
            "mask": torch.zeros(batch, 1, dtype=torch.bool, device=device),
            "pooled": torch.zeros(batch, self.text_dim, device=device),
        }

    def _rotary(self, n: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
        dh = self.dim // self.config["heads"]
        inv = 1.0 / (10000.0 ** (torch.arange(0, dh, 2, device=device).float() / dh))
        ang = torch.arange(n, device=device).float()[:, None] * inv[None]  # (N, Dh / 2)
        return ang.cos(), ang.sin()

    def forward(self, x: torch.Tensor, t: torch.Tensor, cond: dict[str, Any]) -> torch.Tensor:
        if x.ndim != 4 or x.shape[1] != self.c or x.shape[2] != self.f:
            raise AvgenError(
                f"latent has shape {tuple(x.shape)}; expected (batch, {self.c}, {self.f}, frames)."
            )
        b, _, _, frames = x.shape
        p = self.patch
        pad = -frames % p
        n = (frames + pad) // p
        h = x.permute(0, 3, 1, 2).reshape(b, frames, self.c * self.f)  # (B, T', C*F)
        h = F.pad(h, (0, 0, 0, pad)).reshape(b, n, p * self.c * self.f)  # (B, N, p*C*F)
        h = self.x_in(h)  # (B, N, D)

        tempo = cond.get("tempo")
        beat = cond.get("beat")
        if beat is None and tempo is not None:
            beat = beat_grid(tempo.to(x.device), frames, self.frame_seconds)
        if beat is not None:
            if beat.shape != (b, frames, self.beat_dim):
                raise AvgenError(
                    f"beat grid has shape {tuple(beat.shape)}; "
                    f"expected {(b, frames, self.beat_dim)}."
                )
            beat = F.pad(beat.to(h), (0, 0, 0, pad)).reshape(b, n, p * self.beat_dim)
            h = h + self.beat_in(beat)

        c = self.t_mlp(timestep_embedding(t.to(x.device).reshape(-1).expand(b), self.dim))
        c = c + self.pooled_mlp(cond["pooled"].to(h))
        c = c + self.tempo_emb(tempo, b) + self.seconds_emb(cond.get("seconds"), b)

        text = torch.cat([self.null_text.expand(b, -1, -1).to(h), cond["tokens"].to(h)], dim=1)
        keep = F.pad(cond["mask"].to(x.device, torch.bool), (1, 0), value=True)  # (B, 1 + L)
        text_mask = keep[:, None, None, :]  # (B, 1, 1, 1 + L)
        self_mask = None
        frame_mask = cond.get("frame_mask")
        if frame_mask is not None:
            fm = F.pad(frame_mask.to(x.device, torch.bool), (0, pad), value=False)
            tok = fm.reshape(b, n, p).any(-1)
            tok[:, 0] = True
            self_mask = tok[:, None, None, :]  # (B, 1, 1, N)
        rot = self._rotary(n, x.device)
        for block in self.blocks:
            h = block(h, c, rot, self_mask, text, text_mask)
        shift, scale = self.ada_out(F.silu(c)).unsqueeze(1).chunk(2, dim=-1)
        h = self.x_out(self.norm_out(h) * (1 + scale) + shift)  # (B, N, p*C*F)
        h = h.reshape(b, n * p, self.c, self.f)[:, :frames]  # (B, T', C, F)
        return h.permute(0, 2, 3, 1).to(x.dtype)  # (B, C, F, T')
