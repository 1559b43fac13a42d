"""Video models: a causal video VAE and a space-time diffusion transformer over its latent."""

from avgen.video.dit import VideoDiT, random_known_condition
from avgen.video.vae import VideoVAE, kl_divergence

__all__ = ["VideoDiT", "VideoVAE", "kl_divergence", "random_known_condition"]
