"""Thin inference pipelines (numbered steps, diffusers-style); they never import the trainers.

- ``text_to_audio``: ``TextToAudioPipeline`` (AudioLDM-style latent diffusion, arXiv 2301.12503).
"""

from avgen.pipelines.text_to_audio import (
    AudioPipelineOutput,
    TextToAudioPipeline,
    default_audio_model_dir,
)

__all__ = ["AudioPipelineOutput", "TextToAudioPipeline", "default_audio_model_dir"]
