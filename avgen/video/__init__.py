"""Video models: a causal video VAE and a space-time diffusion transformer over its latent; a
MaskGIT transformer over discrete video tokens (the Phenaki engine)."""

from avgen.video.dit import DiTConfig, VideoDiT, random_known_condition
from avgen.video.maskgit import MaskGIT, MaskGITConfig, maskgit_generate, maskgit_loss
from avgen.video.vae import VideoVAE, VideoVAEConfig, kl_divergence

__all__ = [
    "DiTConfig",
    "MaskGIT",
    "MaskGITConfig",
    "VideoDiT",
    "VideoVAE",
    "VideoVAEConfig",
    "kl_divergence",
    "maskgit_generate",
    "maskgit_loss",
    "random_known_condition",
]
