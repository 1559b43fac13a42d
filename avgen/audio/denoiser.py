"""Text-conditioned latent denoiser for mel-VAE latents: a 1-D DiT over time.

Reproduces the role of AudioLDM's latent denoiser (arXiv 2301.12503) with DiT's adaLN-Zero
blocks (arXiv 2212.09748) and PixArt-style cross-attention on text tokens. The latent
(B, C, 16, T') is a sequence over time: each latent frame's C * 16 values (``patch_size`` frames
concatenated) form one token. Positions are rotary (RoPE) in self-attention, so any length
(1-60 s of audio) works. The adaLN vector sums the timestep, the pooled text embedding and
Stable Audio's scalar timing conditions (tempo_bpm, seconds_total; arXiv 2402.04825). A
per-frame beat grid (sin/cos of the beat and bar phase, computed from the tempo or given as
``cond["beat"]``) is added token by token, handing the model the temporal structure that small
models learn last (docs/TRAINING.md). A note plan (``cond["notes"]``: which pitches sound and
start in each frame, Music ControlNet's melody control, arXiv 2311.07069) enters the same way
through a small MLP whose output starts at zero, so a text-only model fine-tunes into one that
follows plans. Built from the blocks in ``avgen.modules``.

Call contract (avgen.diffusion): ``model(x_t, t, cond) -> v``, with cond keys ``tokens``
(B, L, text_dim), ``mask`` (B, L) bool, ``pooled`` (B, text_dim), and optional ``tempo`` (B,)
in BPM, ``seconds`` (B,), ``beat`` (B, T', beat_dim), ``notes`` (B, T', note_dim) (a note
plan's per-frame features, ``avgen.plan.notes``; a row of zeros = no plan; ignored by models
with note_dim 0), ``frame_mask`` (B, T') bool (True =
real frame, for padded batches). NaN in tempo or seconds means "unknown" (a learned null).
A text row with mask all False is the null (unconditional) text: a learned null key that is
always attended keeps it well defined. ``null_condition`` builds such rows.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from avgen.errors import AvgenError
from avgen.modeling import ModelConfig, PretrainedModel
from avgen.modules import (
    NumberEmbedder,
    adaln,
    attention,
    embedding_mlp,
    feed_forward,
    modulate,
    rope_1d,
    sinusoidal_embedding,
)


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


class Block(nn.Module):
    """adaLN-Zero self-attention (RoPE) -> cross-attention on text -> adaLN-Zero MLP.

    ``avgen.modules.AdaLNZeroBlock`` computed from the raw text states, under the layer names
    the shipped weights and LoRA adapters use (qkv, proj, q_x, kv_x, proj_x, mlp).
    """

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
        self.mlp = feed_forward(dim, mlp_ratio)
        self.ada = nn.Linear(dim, 6 * dim)
        nn.init.zeros_(self.ada.weight)
        nn.init.zeros_(self.ada.bias)

    def forward(
        self,
        x: torch.Tensor,
        c: torch.Tensor,
        rot: tuple[torch.Tensor, torch.Tensor],
        self_mask: torch.Tensor | None,
        text: torch.Tensor,
        text_mask: torch.Tensor,
    ) -> torch.Tensor:
        sh1, sc1, g1, sh2, sc2, g2 = adaln(self.ada, c, 6)  # (B, D) each
        q, k, v = self.qkv(modulate(self.norm1(x), sh1, sc1)).chunk(3, dim=-1)  # (B, N, D)
        x = x + g1[:, None] * self.proj(attention(q, k, v, self.heads, self_mask, rot))
        k, v = self.kv_x(text).chunk(2, dim=-1)  # (B, 1 + L, D) each
        x = x + self.proj_x(attention(self.q_x(self.norm_x(x)), k, v, self.heads, text_mask))
        return x + g2[:, None] * self.mlp(modulate(self.norm2(x), sh2, sc2))


@dataclasses.dataclass
class DenoiserConfig(ModelConfig):
    """``AudioDenoiser``'s constructor arguments (its ``config.json``)."""

    model_name = "AudioDenoiser"

    latent_channels: int = 8
    latent_freq: int = 16
    patch_size: int = 2
    hidden_size: int = 256
    num_layers: int = 6
    num_heads: int = 4
    mlp_ratio: float = 4.0
    text_dim: int = 384
    beat_dim: int = 4
    note_dim: int = 0  # 0: no note-plan input (text-only models); avgen.plan.notes.FEATURES
    frame_seconds: float = 0.04
    tempo_range: tuple[float, float] = (40.0, 240.0)
    seconds_range: tuple[float, float] = (0.0, 60.0)


class AudioDenoiser(PretrainedModel):
    """Velocity model v(x_t, t, cond) over mel-VAE latents (B, C, n_freq, T')."""

    config_class = DenoiserConfig

    def __init__(self, config: DenoiserConfig | None = None, **kwargs: Any) -> None:
        super().__init__()
        cfg = self.register_config(config, kwargs)
        dim, heads = cfg.hidden_size, cfg.num_heads
        if dim % heads or (dim // heads) % 2:
            raise AvgenError(f"hidden_size={dim} must split into {heads} heads of even size.")
        self.c, self.f, self.patch, self.dim = (
            cfg.latent_channels,
            cfg.latent_freq,
            cfg.patch_size,
            dim,
        )
        self.text_dim, self.beat_dim = cfg.text_dim, cfg.beat_dim
        self.frame_seconds = cfg.frame_seconds
        token_in = self.patch * self.c * self.f
        self.x_in = nn.Linear(token_in, dim)
        self.beat_in = nn.Linear(self.patch * self.beat_dim, dim)
        nn.init.zeros_(self.beat_in.weight)
        self.note_dim = cfg.note_dim
        if self.note_dim:  # per-frame note plan -> token offsets; zero output at init
            self.notes_in = nn.Sequential(
                nn.Linear(self.patch * self.note_dim, dim), nn.SiLU(), nn.Linear(dim, dim)
            )
            nn.init.zeros_(self.notes_in[2].weight)
            nn.init.zeros_(self.notes_in[2].bias)
        self.t_mlp = embedding_mlp(dim, dim)
        self.pooled_mlp = embedding_mlp(self.text_dim, dim)
        self.tempo_emb = NumberEmbedder(dim, *cfg.tempo_range)
        self.seconds_emb = NumberEmbedder(dim, *cfg.seconds_range)
        self.null_text = nn.Parameter(torch.randn(1, 1, self.text_dim) * 0.02)
        self.blocks = nn.ModuleList(
            Block(dim, heads, self.text_dim, cfg.mlp_ratio) for _ in range(cfg.num_layers)
        )
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

    def _per_token(
        self, value: torch.Tensor, dim: int, what: str, h: torch.Tensor, frames: int
    ) -> torch.Tensor:
        """A per-frame condition (B, T', dim), checked, grouped like the latent into tokens
        (B, N, patch * dim)."""
        b, n = h.shape[:2]
        if value.shape != (b, frames, dim):
            raise AvgenError(f"{what} has shape {tuple(value.shape)}; expected {(b, frames, dim)}.")
        pad = n * self.patch - frames
        return F.pad(value.to(h), (0, 0, 0, pad)).reshape(b, n, self.patch * dim)

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
            h = h + self.beat_in(self._per_token(beat, self.beat_dim, "beat grid", h, frames))
        notes = cond.get("notes")
        if notes is not None and self.note_dim:
            h = h + self.notes_in(
                self._per_token(notes, self.note_dim, "note condition", h, frames)
            )

        t = t.to(x.device).reshape(-1).expand(b)
        c = self.t_mlp(sinusoidal_embedding(1000.0 * t.float(), self.dim))  # DiT's 0..1000
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
        rot = rope_1d(n, self.dim // self.config.num_heads, 10000.0, x.device)
        for block in self.blocks:
            h = block(h, c, rot, self_mask, text, text_mask)
        shift, scale = adaln(self.ada_out, c, 2)  # (B, D) each
        h = self.x_out(modulate(self.norm_out(h), shift, scale))  # (B, N, p*C*F)
        h = h.reshape(b, n * p, self.c, self.f)[:, :frames]  # (B, T', C, F)
        return h.permute(0, 2, 3, 1).to(x.dtype)  # (B, C, F, T')
