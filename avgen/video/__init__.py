"""Video models: a causal video VAE and a space-time diffusion transformer over its latent."""

from avgen.video.dit import DiTConfig, VideoDiT, random_known_condition
from avgen.video.vae import VideoVAE, VideoVAEConfig, kl_divergence

__all__ = [
    "DiTConfig",
    "VideoDiT",
    "VideoVAE",
    "VideoVAEConfig",
    "kl_divergence",
    "random_known_condition",
]
