"""Blocks the audio denoiser, the video DiT and the coming Phenaki transformer share.

DiT's adaLN-Zero block and ``modulate`` (arXiv 2212.09748), rotary position embeddings in 1-D
and 3-D (RoFormer, arXiv 2104.09864), DiT's sinusoidal timestep embedder, Stable Audio's number
conditioner (arXiv 2402.04825) and the diagonal-Gaussian KL of the VAEs.

- ``attention``: ``attention`` over (B, N, D) projections, ``SelfAttention``, ``CrossAttention``;
- ``blocks``: ``modulate``, ``adaln``, ``feed_forward``, ``AdaLNZeroBlock``;
- ``embeddings``: ``sinusoidal_embedding``, ``embedding_mlp``, ``SinusoidalEmbedder``,
  ``NumberEmbedder``;
- ``rope``: ``rope_1d``, ``rope_3d``, ``apply_rope``;
- ``latent``: ``kl_divergence``.
"""

from avgen.modules.attention import CrossAttention, SelfAttention, attention
from avgen.modules.blocks import AdaLNZeroBlock, adaln, feed_forward, modulate
from avgen.modules.embeddings import (
    NumberEmbedder,
    SinusoidalEmbedder,
    embedding_mlp,
    sinusoidal_embedding,
)
from avgen.modules.latent import kl_divergence
from avgen.modules.rope import apply_rope, rope_1d, rope_3d

__all__ = [
    "AdaLNZeroBlock",
    "CrossAttention",
    "NumberEmbedder",
    "SelfAttention",
    "SinusoidalEmbedder",
    "adaln",
    "apply_rope",
    "attention",
    "embedding_mlp",
    "feed_forward",
    "kl_divergence",
    "modulate",
    "rope_1d",
    "rope_3d",
    "sinusoidal_embedding",
]
