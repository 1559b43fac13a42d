"""Tiny random-weight Phenaki pipelines for the tests (a helper module, not a test file)."""

from __future__ import annotations

import hashlib
from typing import Any

import torch

from avgen.pipelines.phenaki import PhenakiPipeline
from avgen.video.cvivit import CViViT
from avgen.video.maskgit import MaskGIT


class FakeEncoder:
    """A deterministic stand-in for MiniLM: token states from a hash of each word."""

    dim = 16

    def encode(self, prompts: list[str], max_length: int = 64) -> dict[str, torch.Tensor]:
        words = prompts[0].split()[:max_length] or [""]
        tokens = torch.zeros(1, len(words), self.dim)
        for j, w in enumerate(words):
            seed = int(hashlib.sha256(w.encode()).hexdigest()[:8], 16)
            tokens[0, j] = torch.randn(self.dim, generator=torch.Generator().manual_seed(seed))
        mask = torch.ones(1, len(words), dtype=torch.bool)
        return {"tokens": tokens, "mask": mask,
                "pooled": torch.nn.functional.normalize(tokens.sum(1), dim=-1)}  # fmt: skip


def tiny_tokenizer() -> CViViT:
    torch.manual_seed(0)
    return CViViT(levels=(4, 4), stem_channels=(4, 8, 8), hidden_size=16, num_layers=1,
                  num_heads=1)  # fmt: skip


def tiny_phenaki(layout_dim: int = 0, **config: Any) -> PhenakiPipeline:
    """A tiny tokenizer + MaskGIT (perturbed out of its zero init) with the fake encoder;
    ``config``: pipeline.json values (default 2 sampling steps)."""
    tokenizer = tiny_tokenizer()
    torch.manual_seed(1)
    maskgit = MaskGIT(
        codebook_size=tokenizer.codebook_size, max_t=9, h=8, w=8, hidden_size=32, num_layers=1,
        num_heads=2, text_dim=FakeEncoder.dim, layout_dim=layout_dim,
    )  # fmt: skip
    with torch.no_grad():
        for p in maskgit.parameters():
            p.add_(0.05 * torch.randn_like(p))
    cfg = {"num_inference_steps": 2, **config}
    return PhenakiPipeline(tokenizer, maskgit, FakeEncoder(), cfg).to("cpu")


def tiny_audio() -> Any:
    """A tiny text-to-audio pipeline (a story's soundtrack) with the fake encoder."""
    from avgen.audio.clap import CLAP
    from avgen.audio.denoiser import AudioDenoiser
    from avgen.audio.vae import MelVAE
    from avgen.audio.vocoder import Vocoder
    from avgen.pipelines.text_to_audio import TextToAudioPipeline

    torch.manual_seed(0)
    vae = MelVAE(latent_channels=4, channels=(4, 8, 8))
    vocoder = Vocoder(dim=16, depth=1, mlp_mult=2)
    denoiser = AudioDenoiser(latent_channels=4, dim=32, depth=1, heads=2, mlp_ratio=2.0)
    clap = CLAP(channels=(4, 8), embed_dim=16)
    encoder = FakeEncoder()
    encoder.dim = 384
    cfg = {"num_inference_steps": 2, "guidance_scale": 2.0, "window_s": 2.0, "overlap_s": 0.5}
    return TextToAudioPipeline(vae, vocoder, denoiser, clap, encoder, cfg).to("cpu")
