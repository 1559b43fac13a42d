"""Contrastive text-audio model in CLAP's role (arXiv 2206.04769), plus the FAD distance.

Audio side: a small strided CNN over the normalised log-mel, its frequency rows mixed per
frame by a linear layer (keeping where in the spectrum things are), then attention pooling
over time (padding-aware) -> projection -> 256-d unit vector. Text side: the frozen
MiniLM pooled sentence embedding (a tensor from ``avgen.text``; the encoder itself is not part
of this model) -> MLP -> 256-d unit vector. Learnable temperature (CLIP's logit scale, init
1/0.07, capped at 100) and symmetric InfoNCE. ``frechet_distance`` is the Frechet Audio
Distance formula (Kilgour et al., arXiv 1812.08466) over any embedding sets, here ours.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np
import scipy.linalg
import torch
import torch.nn.functional as F
from torch import nn

from avgen.audio.mel import N_MELS, MelFrontEnd
from avgen.errors import AvgenError
from avgen.modeling import ModelConfig, PretrainedModel


class ConvStage(nn.Module):
    """Strided conv3x3 (halves both axes) -> GroupNorm-GELU -> residual conv3x3."""

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.down = nn.Conv2d(cin, cout, 3, stride=2, padding=1)
        self.n1 = nn.GroupNorm(min(8, cout), cout)
        self.conv = nn.Conv2d(cout, cout, 3, padding=1)
        self.n2 = nn.GroupNorm(min(8, cout), cout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = F.gelu(self.n1(self.down(x)))
        return F.gelu(h + self.n2(self.conv(h)))


@dataclasses.dataclass
class CLAPConfig(ModelConfig):
    """``CLAP``'s constructor arguments (its ``config.json``)."""

    model_name = "CLAP"

    n_mels: int = N_MELS
    block_out_channels: tuple[int, ...] = (32, 64, 128, 128)
    text_dim: int = 384
    embed_dim: int = 256
    init_temperature: float = 0.07


class CLAP(PretrainedModel):
    """Audio (normalised mel) and text (MiniLM pooled) -> shared 256-d unit embeddings."""

    config_class = CLAPConfig

    def __init__(self, config: CLAPConfig | None = None, **kwargs: Any) -> None:
        super().__init__()
        cfg = self.register_config(config, kwargs)
        n_mels, channels, text_dim, embed_dim = (
            cfg.n_mels,
            cfg.block_out_channels,
            cfg.text_dim,
            cfg.embed_dim,
        )
        self.n_mels = n_mels
        self.stride = 2 ** len(channels)
        stages, cin = [], 1
        for c in channels:
            stages.append(ConvStage(cin, c))
            cin = c
        self.stages = nn.Sequential(*stages)
        width = cin
        # frequency rows are kept apart (register and timbre live there), then mixed per frame
        self.freq_mix = nn.Linear(cin * -(-n_mels // self.stride), width)
        self.pool_score = nn.Linear(width, 1)
        self.audio_proj = nn.Sequential(
            nn.Linear(2 * width, embed_dim), nn.GELU(), nn.Linear(embed_dim, embed_dim)
        )
        self.text_proj = nn.Sequential(
            nn.Linear(text_dim, embed_dim), nn.GELU(), nn.Linear(embed_dim, embed_dim)
        )
        self.logit_scale = nn.Parameter(torch.tensor(math.log(1.0 / cfg.init_temperature)))
        self.front_end = MelFrontEnd(n_mels=n_mels)

    def encode_audio(
        self, mel: torch.Tensor, frame_mask: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Normalised mel (B, 1, n_mels, F) -> unit embedding (B, embed_dim).

        ``frame_mask`` (B, F) bool, True = real frame, keeps padding out of the pooling.
        """
        if mel.ndim != 4 or mel.shape[1] != 1 or mel.shape[2] != self.n_mels:
            raise AvgenError(
                f"mel has shape {tuple(mel.shape)}; expected (batch, 1, {self.n_mels}, frames)."
            )
        if mel.shape[-1] < self.stride:
            raise AvgenError(f"mel has {mel.shape[-1]} frames; give at least {self.stride}.")
        h = self.stages(mel)  # (B, W, n_mels / s, F')
        h = h.flatten(1, 2).transpose(1, 2)  # (B, F', W * n_mels / s)
        h = F.gelu(self.freq_mix(h))  # (B, F', W)
        score = self.pool_score(h).squeeze(-1)  # (B, F')
        if frame_mask is not None:
            steps = h.shape[1]
            # a reduced frame is real when its first source frame is
            keep = frame_mask[:, :: self.stride][:, :steps]
            keep = F.pad(keep, (0, steps - keep.shape[1]), value=False)
            keep[:, 0] = True
            score = score.masked_fill(~keep, float("-inf"))
            mean = (h * keep[..., None]).sum(1) / keep.sum(1, keepdim=True)
        else:
            mean = h.mean(1)
        attn = torch.softmax(score, dim=1)  # (B, F')
        pooled = torch.cat([(attn[..., None] * h).sum(1), mean], dim=-1)  # (B, 2W)
        return F.normalize(self.audio_proj(pooled), dim=-1)

    def encode_text(self, pooled_text: torch.Tensor) -> torch.Tensor:
        """MiniLM pooled sentence embeddings (B, text_dim) -> unit embedding (B, embed_dim)."""
        return F.normalize(self.text_proj(pooled_text), dim=-1)

    @torch.no_grad()
    def embed_audio(self, wave: torch.Tensor) -> torch.Tensor:
        """16 kHz waveforms (B, T) -> unit audio embeddings (B, embed_dim), for FAD and scores."""
        if wave.ndim == 1:
            wave = wave[None]
        return self.encode_audio(self.front_end(wave))

    def forward(
        self,
        mel: torch.Tensor,
        pooled_text: torch.Tensor,
        frame_mask: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        return self.encode_audio(mel, frame_mask), self.encode_text(pooled_text)

    def contrastive_loss(self, audio_emb: torch.Tensor, text_emb: torch.Tensor) -> torch.Tensor:
        """Symmetric InfoNCE with the learnable temperature; pairs lie on the diagonal."""
        scale = self.logit_scale.clamp(max=math.log(100.0)).exp()
        logits = scale * audio_emb @ text_emb.T  # (B, B)
        labels = torch.arange(logits.shape[0], device=logits.device)
        return 0.5 * (F.cross_entropy(logits, labels) + F.cross_entropy(logits.T, labels))

    @staticmethod
    def score(audio_emb: torch.Tensor, text_emb: torch.Tensor) -> torch.Tensor:
        """Cosine similarity matrix (Na, Nt) between embeddings (its diagonal scores pairs)."""
        return F.normalize(audio_emb, dim=-1) @ F.normalize(text_emb, dim=-1).T


def frechet_distance(a: np.ndarray | torch.Tensor, b: np.ndarray | torch.Tensor) -> float:
    """Frechet distance between Gaussians fitted to two embedding sets (N, D) and (M, D).

    ||mu_a - mu_b||^2 + Tr(S_a + S_b - 2 sqrt(S_a S_b)) (FAD / FID), matrix root by
    scipy.linalg.sqrtm; each set needs at least 2 rows.
    """
    a = a.detach().cpu().numpy() if isinstance(a, torch.Tensor) else np.asarray(a)
    b = b.detach().cpu().numpy() if isinstance(b, torch.Tensor) else np.asarray(b)
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1] or min(len(a), len(b)) < 2:
        raise AvgenError(
            f"embedding sets of shapes {a.shape} and {b.shape} cannot be compared; "
            "give (N >= 2, D) arrays of equal D."
        )
    a, b = a.astype(np.float64), b.astype(np.float64)
    mu_a, mu_b = a.mean(0), b.mean(0)
    cov_a, cov_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    root = scipy.linalg.sqrtm(cov_a @ cov_b)
    if not np.isfinite(root).all():  # near-singular product: regularise (as in FID code)
        eps = np.eye(a.shape[1]) * 1e-6
        root = scipy.linalg.sqrtm((cov_a + eps) @ (cov_b + eps))
    root = root.real
    diff = mu_a - mu_b
    return float(diff @ diff + np.trace(cov_a) + np.trace(cov_b) - 2.0 * np.trace(root))
