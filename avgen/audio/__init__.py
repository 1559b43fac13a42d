"""AudioLDM-style audio components: mel front end, mel VAE, vocoder, CLAP-style model, denoiser.

- ``mel``: AudioLDM's 16 kHz / 64-bin log-mel (``MelFrontEnd``) and ``griffin_lim`` fallback.
- ``vae``: ``MelVAE``, 4x time and frequency compression (arXiv 2301.12503).
- ``vocoder``: Vocos-style ``Vocoder`` (arXiv 2306.00814), its losses and error metrics.
- ``clap``: ``CLAP`` contrastive text-audio embeddings (arXiv 2206.04769), ``frechet_distance``.
- ``denoiser``: ``AudioDenoiser``, the text-conditioned latent DiT (``model(x_t, t, cond) -> v``).

Each model's constructor arguments are a dataclass config (``DenoiserConfig``, ...).
"""

from avgen.audio.clap import CLAP, CLAPConfig, frechet_distance
from avgen.audio.denoiser import AudioDenoiser, DenoiserConfig, beat_grid
from avgen.audio.mel import MelFrontEnd, denormalize, griffin_lim, normalize
from avgen.audio.vae import MelVAE, MelVAEConfig
from avgen.audio.vocoder import Vocoder, VocoderConfig, vocoder_losses, waveform_errors

__all__ = [
    "CLAP",
    "AudioDenoiser",
    "CLAPConfig",
    "DenoiserConfig",
    "MelFrontEnd",
    "MelVAE",
    "MelVAEConfig",
    "Vocoder",
    "VocoderConfig",
    "beat_grid",
    "denormalize",
    "frechet_distance",
    "griffin_lim",
    "normalize",
    "vocoder_losses",
    "waveform_errors",
]
