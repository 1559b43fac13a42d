"""What the KL autoencoders (the mel VAE and the video VAE) share."""

from __future__ import annotations

from torch import Tensor


def kl_divergence(mean: Tensor, logvar: Tensor) -> Tensor:
    """KL(N(mean, exp(logvar)) || N(0, 1)), averaged over all latent elements."""
    return 0.5 * (mean.pow(2) + logvar.exp() - 1.0 - logvar).mean()
