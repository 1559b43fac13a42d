"""Thin inference pipelines (numbered steps, diffusers-style); they never import the trainers.

- ``base``: the protocols every pipeline satisfies (``AudioPipeline``, ``VideoPipeline``).
- ``checks``: the one table of input ranges (``RANGES``) and the shared input checks.
- ``text_to_audio``: ``TextToAudioPipeline`` (AudioLDM-style latent diffusion, arXiv 2301.12503),
  with its audio-to-audio steps in ``audio_to_audio``.
- ``text_to_video``: ``TextToVideoPipeline`` (a Sora-style space-time DiT, rectified flow).
- ``exported_audio``: ``AvgenAudioPipeline``, the audio model as a diffusers pipeline (the
  folders ``avgen export audio`` writes).
- ``diffusers_audio`` / ``diffusers_video``: local diffusers folders (AudioLDM, AudioLDM 2,
  Stable Audio Open; Wan, LTX-Video, CogVideoX) behind the same protocols, with the loading
  plumbing in ``diffusers_common``.
"""

from avgen.pipelines.text_to_audio import (
    AudioPipelineOutput,
    TextToAudioPipeline,
    default_audio_model_dir,
)

__all__ = ["AudioPipelineOutput", "TextToAudioPipeline", "default_audio_model_dir"]
