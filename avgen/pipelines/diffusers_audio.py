"""Text to audio with a local diffusers pipeline folder, behind avgen's text-to-audio interface.

Runs AudioLDM (``AudioLDMPipeline``, arXiv 2301.12503), AudioLDM 2 (``AudioLDM2Pipeline``,
arXiv 2308.05734) and Stable Audio Open (``StableAudioPipeline``, arXiv 2407.14358), picked
from the folder's ``model_index.json``. ``DiffusersAudioPipeline`` is an
``avgen.pipelines.base.AudioPipeline`` like ``TextToAudioPipeline``: ``from_pretrained``,
``config`` (the pipeline's own default steps and guidance), ``model_id``, ``loads_dtype``,
``check_inputs``, ``encode_prompt`` (the prompt arguments: the folder's pipeline encodes text
itself), ``window_plan`` (always one window: these pipelines generate the whole clip at once)
and ``__call__`` returning an ``AudioPipelineOutput``.

Candidates (``num_candidates`` > 1) are generated in one call (``num_waveforms_per_prompt``)
and ranked by CLAP: AudioLDM 2 with its own CLAP (its text encoder + feature extractor, as its
``score_waveforms`` does, but without librosa: scipy resamples); AudioLDM (whose folder holds
only CLAP's text tower) and Stable Audio with avgen's shipped CLAP (avgen/models/audio/clap).

Version notes (diffusers 0.42, transformers 5): AudioLDM 2 folders that list their language
model as ``GPT2Model`` (as published checkpoints do) are loaded as ``GPT2LMHeadModel``: the
pipeline now calls generation helpers that only the LM-head class has, and the weights are
the same. Stable Audio Open's ``CosineDPMSolverMultistepScheduler`` needs ``torchsde``; without
it loading fails with one clear error naming the package.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import torch

from avgen.errors import AvgenError
from avgen.pipelines.checks import check_range, check_sampling
from avgen.pipelines.diffusers_common import (
    call_defaults,
    load_diffusers_pipeline,
    progress_kwargs,
)
from avgen.pipelines.text_to_audio import AudioPipelineOutput

FAMILIES = {
    "AudioLDMPipeline": "AudioLDM",
    "AudioLDM2Pipeline": "AudioLDM 2",
    "StableAudioPipeline": "Stable Audio Open",
}
VOCODER = "pipeline"  # the folder's own decoder (HiFi-GAN vocoder or Oobleck VAE)
DEFAULT_DURATION_S = 4.0


def _audioldm2_fixes(folder: Path, index: dict[str, Any], dtype: torch.dtype) -> dict[str, Any]:
    """Components that replace the saved ones for this diffusers/transformers pair."""
    if index.get("_class_name") != "AudioLDM2Pipeline":
        return {}
    encoder_2 = (index.get("text_encoder_2") or [None, None])[1]
    if encoder_2 == "VitsModel":
        raise AvgenError(
            f"{folder} is an AudioLDM 2 text-to-speech folder (VitsModel); avgen runs the "
            "text-to-audio and text-to-music AudioLDM 2 folders (T5EncoderModel)."
        )
    if (index.get("language_model") or [None, None])[1] == "GPT2Model":
        from transformers import GPT2LMHeadModel

        lm = GPT2LMHeadModel.from_pretrained(
            folder / "language_model", dtype=dtype, local_files_only=True
        )
        return {"language_model": lm}
    return {}


class DiffusersAudioPipeline:
    """A local diffusers text-to-audio pipeline run as an avgen audio model (an
    ``avgen.pipelines.base.AudioPipeline``)."""

    loads_dtype = True  # weights are loaded in the requested dtype: the API must not autocast

    def __init__(self, pipe: Any, folder: str | Path, device: str = "cpu") -> None:
        self.pipe = pipe
        self.class_name = type(pipe).__name__
        if self.class_name not in FAMILIES:
            raise AvgenError(
                f"{self.class_name} is not a supported audio pipeline; supported: "
                f"{', '.join(FAMILIES)}."
            )
        self.family = FAMILIES[self.class_name]
        self.folder = Path(folder)
        self.device = device
        self.model_id = f"{self.folder} ({self.class_name})"
        defaults = call_defaults(pipe, "num_inference_steps", "guidance_scale")
        self.config: dict[str, Any] = {
            "num_inference_steps": int(defaults["num_inference_steps"] or 50),
            "guidance_scale": float(defaults["guidance_scale"] or 3.0),
            "vocoder": VOCODER,
            "sample_rate": self.sample_rate,
            "max_duration_s": self.max_duration_s,
            "family": self.family,
        }
        self._clap: Any = None

    @classmethod
    def from_pretrained(
        cls,
        folder: str | Path,
        *,
        device: str = "cpu",
        dtype: str = "fp32",
        cpu_offload: bool = False,
        vae_slicing: bool = False,
        vae_tiling: bool = False,
        lora: str | Path | None = None,
    ) -> DiffusersAudioPipeline:
        """Load a local AudioLDM / AudioLDM 2 / Stable Audio folder offline (see
        ``diffusers_common.load_diffusers_pipeline`` for the options); ``lora`` an adapter
        folder (``avgen finetune audio`` on this AudioLDM / AudioLDM 2 folder) merged into its
        UNet before it is placed on the device."""

        def merge_lora(pipe: Any) -> None:
            if lora is None:
                return
            if getattr(pipe, "unet", None) is None:
                raise AvgenError(
                    f"LoRA adapters fit the UNet of AudioLDM and AudioLDM 2 folders; "
                    f"{type(pipe).__name__} has none, so drop lora for {folder}."
                )
            from avgen.lora import apply_lora

            apply_lora(pipe.unet, lora)

        pipe = load_diffusers_pipeline(
            folder,
            device=device,
            dtype=dtype,
            cpu_offload=cpu_offload,
            vae_slicing=vae_slicing,
            vae_tiling=vae_tiling,
            allowed=FAMILIES,
            overrides=_audioldm2_fixes,
            prepare=merge_lora,
        )
        return cls(pipe, folder, device)

    # ------------------------------------------------------------------ facts

    @property
    def is_stable_audio(self) -> bool:
        return self.class_name == "StableAudioPipeline"

    @property
    def sample_rate(self) -> int:
        if self.is_stable_audio:
            return int(self.pipe.vae.config.sampling_rate)
        return int(self.pipe.vocoder.config.sampling_rate)

    @property
    def hop_s(self) -> float:
        """Seconds per generated frame (a mel frame; an Oobleck latent frame)."""
        if self.is_stable_audio:
            return float(self.pipe.vae.hop_length) / self.sample_rate
        return float(np.prod(self.pipe.vocoder.config.upsample_rates)) / self.sample_rate

    @property
    def max_duration_s(self) -> float | None:
        """Stable Audio: the latent length and the timing conditioner's range cap the length."""
        if not self.is_stable_audio:
            return None
        latent = int(self.pipe.transformer.config.sample_size) * self.hop_s
        return float(min(latent, float(self.pipe.projection_model.config.max_value)))

    # ------------------------------------------------------------------ steps

    def check_inputs(
        self,
        prompt: str,
        num_inference_steps: int,
        guidance_scale: float,
        audio_length_in_s: float,
        num_candidates: int,
        vocoder: str | None,
        init_audio: np.ndarray | None = None,
        strength: float = 0.6,
        inpaint: tuple[float, float] | None = None,
        super_resolution: float | None = None,
    ) -> float:
        """One clear AvgenError for the first bad input; returns the duration."""
        if init_audio is not None or inpaint is not None or super_resolution is not None:
            raise AvgenError(
                f"init audio, inpainting and super-resolution are not available for "
                f"{self.family} folders; use avgen's own audio model for them."
            )
        check_sampling(prompt, num_inference_steps, guidance_scale, "sound")
        check_range("candidates", num_candidates)
        top = self.max_duration_s
        high = None if top is None else min(60.0, math.floor(top * 1000) / 1000)
        label = f"{self.family} audio duration"
        check_range("audio duration", float(audio_length_in_s), high=high, label=label)
        if vocoder not in (None, VOCODER):
            raise AvgenError(
                f"vocoder must be {VOCODER!r} for a diffusers model folder (it decodes with its "
                f"own), got {vocoder!r}."
            )
        return float(audio_length_in_s)

    def encode_prompt(
        self, prompt: str, negative_prompt: str | None, batch: int = 1
    ) -> dict[str, Any]:
        """2. The diffusers pipeline encodes the text itself: its prompt arguments."""
        return {
            "prompt": prompt.strip(),
            "negative_prompt": negative_prompt or None,
            "num_waveforms_per_prompt": batch,
        }

    def window_plan(self, duration_s: float) -> list[tuple[int, int]]:
        """One window (start 0, every frame): a diffusers pipeline generates the whole clip."""
        return [(0, max(1, math.ceil(float(duration_s) / self.hop_s)))]

    def _ranker(self) -> str:
        return "pipeline CLAP" if self.class_name == "AudioLDM2Pipeline" else "avgen CLAP"

    @torch.no_grad()
    def rank(self, prompt: str, audio: np.ndarray) -> np.ndarray:
        """CLAP cosine score of each candidate (N, T) or (N, C, T) against the prompt (N,)."""
        mono = audio.mean(axis=1) if audio.ndim == 3 else audio  # (N, T)
        if self.class_name == "AudioLDM2Pipeline":
            return self._rank_pipeline_clap(prompt, mono)
        return self._rank_avgen_clap(prompt, mono)

    def _rank_pipeline_clap(self, prompt: str, mono: np.ndarray) -> np.ndarray:
        """AudioLDM 2's own CLAP (text tower + audio tower), as its score_waveforms ranks."""
        from avgen.media import resample

        pipe = self.pipe
        fe = pipe.feature_extractor
        wave = resample(mono, self.sample_rate, int(fe.sampling_rate))
        feats = fe(list(wave), sampling_rate=fe.sampling_rate, return_tensors="pt")
        text = pipe.tokenizer([prompt], return_tensors="pt", padding=True)
        device = pipe._execution_device
        clap = pipe.text_encoder
        inputs = {
            "input_ids": text["input_ids"].to(device),
            "attention_mask": text["attention_mask"].to(device),
            "input_features": feats["input_features"].to(device, clap.dtype),
        }
        if "is_longer" in feats:
            inputs["is_longer"] = feats["is_longer"].to(device)
        out = clap(**inputs)
        a = torch.nn.functional.normalize(out.audio_embeds.float(), dim=-1)  # (N, D)
        t = torch.nn.functional.normalize(out.text_embeds.float(), dim=-1)  # (1, D)
        return (a @ t.T)[:, 0].cpu().numpy()

    def _rank_avgen_clap(self, prompt: str, mono: np.ndarray) -> np.ndarray:
        """avgen's shipped CLAP (MiniLM text side) on the candidates resampled to 16 kHz."""
        from avgen.audio.clap import CLAP
        from avgen.audio.mel import SAMPLE_RATE
        from avgen.media import resample
        from avgen.pipelines.text_to_audio import default_audio_model_dir
        from avgen.text import shared_text_encoder

        if self._clap is None:
            folder = default_audio_model_dir() / "clap"
            if not (folder / "config.json").is_file():
                raise AvgenError(
                    f"ranking candidates for {self.family} needs avgen's CLAP model in {folder}, "
                    "which this install lacks; use candidates=1."
                )
            self._clap = CLAP.from_pretrained(folder, device="cpu").eval()
        wave = torch.from_numpy(resample(mono, self.sample_rate, SAMPLE_RATE))  # (N, T)
        audio = self._clap.embed_audio(wave)
        pooled = shared_text_encoder("cpu").encode([prompt])["pooled"]
        text = self._clap.encode_text(pooled.to(audio))
        return self._clap.score(audio, text)[:, 0].numpy()

    @staticmethod
    def peak_limit(wave: np.ndarray, ceiling: float = 0.99) -> np.ndarray:
        """Scale a clip down when its peak passes ``ceiling`` (as avgen's own pipeline does)."""
        peak = float(np.abs(wave).max()) if wave.size else 0.0
        return wave * min(1.0, ceiling / peak) if peak > 0 else wave

    # ------------------------------------------------------------------ call

    @torch.no_grad()
    def __call__(
        self,
        prompt: str,
        negative_prompt: str | None = None,
        num_inference_steps: int | None = None,
        guidance_scale: float | None = None,
        audio_length_in_s: float | None = None,
        generator: torch.Generator | None = None,
        num_candidates: int = 1,
        vocoder: str | None = None,
        callback: Any = None,
        init_audio: np.ndarray | None = None,
        strength: float = 0.6,
        inpaint: tuple[float, float] | None = None,
        super_resolution: float | None = None,
    ) -> AudioPipelineOutput:
        """Generate ``audio_length_in_s`` seconds (default: the prompt's, else 4) with the
        folder's pipeline; ``num_candidates`` > 1 keeps the CLAP-best; ``callback(step,
        total)`` after each denoising step. ``audio`` is (T,) mono or (C, T) for stereo models."""
        from avgen.prompts import parse_prompt

        steps = int(num_inference_steps or self.config["num_inference_steps"])
        guidance = float(
            self.config["guidance_scale"] if guidance_scale is None else guidance_scale
        )
        duration = audio_length_in_s
        if duration is None:
            duration = (
                parse_prompt(prompt, read=False).duration_s if isinstance(prompt, str) else None
            )
        duration = float(DEFAULT_DURATION_S if duration is None else duration)
        self.check_inputs(  # 1
            prompt, steps, guidance, duration, num_candidates, vocoder,
            init_audio, strength, inpaint, super_resolution,
        )  # fmt: skip
        n = int(num_candidates)
        kwargs: dict[str, Any] = {
            **self.encode_prompt(prompt, negative_prompt, n),  # 2
            "num_inference_steps": steps,
            "guidance_scale": guidance,
            "generator": generator,
            "output_type": "np",
            **progress_kwargs(self.pipe, callback, steps),
        }
        if self.is_stable_audio:
            kwargs.update(audio_start_in_s=0.0, audio_end_in_s=duration)
        else:  # one frame more: AudioLDM rounds the length down to whole mel frames
            kwargs["audio_length_in_s"] = duration + self.hop_s
        audio = self._run(kwargs, duration)  # 3 - 7 inside diffusers
        scores = self.rank(kwargs["prompt"], audio) if n > 1 else np.zeros(1)  # 8
        order = np.argsort(-scores, kind="stable")
        best = self.peak_limit(audio[order[0]]).astype(np.float32)
        settings = {
            "num_inference_steps": steps,
            "guidance_scale": guidance,
            "audio_length_in_s": duration,
            "tempo_bpm": None,  # no tempo conditioning: the tempo lives in the prompt text
            "windows": 1,
            "num_candidates": n,
            "vocoder": VOCODER,
            "pipeline": self.class_name,
            "ranker": self._ranker() if n > 1 else None,
            "channels": 1 if best.ndim == 1 else int(best.shape[0]),
        }
        return AudioPipelineOutput(
            audio=best,
            sample_rate=self.sample_rate,
            clap_scores=[float(scores[i]) for i in order],
            settings=settings,
        )

    def _run(self, kwargs: dict[str, Any], duration: float) -> np.ndarray:
        """The diffusers pipeline's own loop; its candidates (N, T) or (N, C, T), cut or padded
        to ``duration`` and checked for NaN / inf."""
        try:
            out = self.pipe(**kwargs)
        except torch.cuda.OutOfMemoryError as exc:
            raise AvgenError(
                f"{self.family} ran out of GPU memory on {self.device}; try --cpu-offload, "
                "--vae-slicing, fewer candidates or a shorter duration."
            ) from exc
        except ValueError as exc:
            raise AvgenError(f"{self.class_name} rejected the inputs: {exc}") from exc
        audio = np.asarray(out.audios, dtype=np.float32)  # (N, T) or (N, C, T)
        length = int(round(duration * self.sample_rate))
        audio = audio[..., :length]
        if audio.shape[-1] < length:
            pad = [(0, 0)] * (audio.ndim - 1) + [(0, length - audio.shape[-1])]
            audio = np.pad(audio, pad)
        if not np.isfinite(audio).all():
            raise AvgenError(
                f"{self.family} produced non-finite samples (NaN or inf); try dtype fp32."
            )
        return audio
