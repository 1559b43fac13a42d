"""avgen's text-to-audio model as a diffusers pipeline: ``AvgenAudioPipeline``, what
``avgen export audio --format diffusers`` writes a folder for (``avgen.export``).

Loaded by diffusers' own loader (``AvgenAudioPipeline.from_pretrained(folder)``, or
``DiffusionPipeline.from_pretrained(folder, custom_pipeline="pipeline", trust_remote_code=True)``
through the folder's ``pipeline.py``). Folders exported before this module existed carry a
``pipeline.py`` that imports the class from ``avgen.export``, which still provides it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import torch
from diffusers import DiffusionPipeline, FlowMatchEulerDiscreteScheduler
from diffusers.pipelines.pipeline_utils import AudioPipelineOutput
from diffusers.utils.torch_utils import randn_tensor
from transformers import PreTrainedModel, PreTrainedTokenizerBase

from avgen.audio.denoiser import beat_grid
from avgen.audio.mel import SAMPLE_RATE
from avgen.diffusion.flow import concat_conditions, timestep_schedule
from avgen.diffusion.windows import overlap_inpaint
from avgen.errors import AvgenError
from avgen.pipelines.text_to_audio import (
    TextToAudioPipeline,
    prompt_tempo,
    window_condition,
)

if TYPE_CHECKING:  # the wrappers live in avgen.export, which imports this module
    from avgen.export import AvgenAudioDenoiser, AvgenCLAP, AvgenMelVAE, AvgenVocoder

# pipeline.json key -> AvgenAudioPipeline config key ("shift" lives in the scheduler's config)
PIPELINE_KEYS = {
    "num_inference_steps": "num_inference_steps",
    "guidance_scale": "guidance_scale",
    "window_s": "window_s",
    "overlap_s": "overlap_s",
    "default_duration_s": "default_duration_s",
    "sample_rate": "sample_rate",
    "griffin_lim_iters": "griffin_lim_iters",
    "vocoder": "default_vocoder",
}


def _text_embeddings(
    text_encoder: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    prompt: str,
    max_length: int,
    device: torch.device,
) -> dict[str, torch.Tensor]:
    """One prompt -> tokens (1, L, D), mask (1, L), pooled (1, D): ``avgen.text.TextEncoder``'s
    math (sentence-transformers mean pooling, L2-normalised) with transformers classes."""
    batch = tokenizer(
        [prompt], padding=True, truncation=True, max_length=max_length, return_tensors="pt"
    )
    batch = {k: v.to(device) for k, v in batch.items()}
    hidden = text_encoder(**batch).last_hidden_state.float()  # (1, L, D)
    mask = batch["attention_mask"].bool()  # (1, L)
    m = mask.unsqueeze(-1).float()
    pooled = torch.nn.functional.normalize((hidden * m).sum(1) / m.sum(1).clamp_min(1.0), dim=-1)
    n = int(mask[0].sum())
    return {"tokens": hidden[:, :n], "mask": mask[:, :n], "pooled": pooled}


def _denoiser_kwargs(cond: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """avgen's condition dict -> ``AvgenAudioDenoiser.forward`` keyword arguments."""
    names = {"tokens": "encoder_hidden_states", "mask": "encoder_attention_mask"}
    names["pooled"] = "pooled_projections"
    return {names.get(k, k): v for k, v in cond.items()}


class AvgenAudioPipeline(DiffusionPipeline):
    """avgen's text-to-audio model (AudioLDM-style latent flow matching, arXiv 2301.12503) as a
    diffusers pipeline: transformers MiniLM -> ``AvgenAudioDenoiser`` stepped by
    ``FlowMatchEulerDiscreteScheduler`` -> ``AvgenMelVAE`` -> ``AvgenVocoder``.

    Text to audio only (audio-to-audio stays in ``TextToAudioPipeline``). The window loop runs
    around the scheduler with the same window plan, cross-fade (``avgen.diffusion.windows``)
    and window conditions (``text_to_audio.window_condition``) as
    ``TextToAudioPipeline.denoise``; checks, decoding, vocoding and CLAP ranking call that
    class's step methods. tests/test_export.py holds the two to the same samples.
    """

    _optional_components = ["vocoder", "clap"]

    def __init__(
        self,
        vae: AvgenMelVAE,
        text_encoder: PreTrainedModel,
        tokenizer: PreTrainedTokenizerBase,
        denoiser: AvgenAudioDenoiser,
        scheduler: FlowMatchEulerDiscreteScheduler,
        vocoder: AvgenVocoder | None = None,
        clap: AvgenCLAP | None = None,
        num_inference_steps: int = 25,
        guidance_scale: float = 3.0,
        window_s: float = 4.0,
        overlap_s: float = 1.0,
        default_duration_s: float = 4.0,
        sample_rate: int = SAMPLE_RATE,
        griffin_lim_iters: int = 32,
        default_vocoder: str = "neural",
        max_text_length: int = 64,
    ) -> None:
        super().__init__()
        self.register_modules(
            vae=vae,
            text_encoder=text_encoder,
            tokenizer=tokenizer,
            denoiser=denoiser,
            scheduler=scheduler,
            vocoder=vocoder,
            clap=clap,
        )
        self.register_to_config(
            num_inference_steps=num_inference_steps,
            guidance_scale=guidance_scale,
            window_s=window_s,
            overlap_s=overlap_s,
            default_duration_s=default_duration_s,
            sample_rate=sample_rate,
            griffin_lim_iters=griffin_lim_iters,
            default_vocoder=default_vocoder,
            max_text_length=max_text_length,
        )

    def avgen_settings(self) -> dict[str, Any]:
        """pipeline.json's settings (avgen's names), the shift read from the scheduler."""
        settings = {key: self.config[name] for key, name in PIPELINE_KEYS.items()}
        settings["shift"] = float(self.scheduler.config.shift)
        return settings

    def _avgen_view(self, device: torch.device) -> Any:
        """avgen's ``TextToAudioPipeline`` over the same modules (for its step methods)."""
        view = TextToAudioPipeline(
            self.vae.model,
            self.vocoder.model if self.vocoder is not None else None,
            self.denoiser.model,
            self.clap.model if self.clap is not None else None,
            text_encoder=False,  # never used: prompts are encoded by ``encode_prompt``
            config=self.avgen_settings(),
            model_id="diffusers:" + str(self.config.get("_name_or_path", "memory")),
        )
        return view.to(device)

    def encode_prompt(
        self, prompt: str, negative_prompt: str | None, batch: int, device: torch.device
    ) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
        """2. MiniLM token states + pooled vector; the negative prompt or the null condition."""
        n = int(self.config.max_text_length)
        cond = _text_embeddings(self.text_encoder, self.tokenizer, prompt, n, device)
        if negative_prompt:
            uncond = _text_embeddings(self.text_encoder, self.tokenizer, negative_prompt, n, device)
        else:
            uncond = self.denoiser.null_condition(1, device)
        cond = {k: v.expand(batch, *v.shape[1:]) for k, v in cond.items()}
        uncond = {k: v.expand(batch, *v.shape[1:]) for k, v in uncond.items()}
        return cond, uncond

    def set_schedule(self, num_inference_steps: int, device: torch.device) -> None:
        """3. avgen's grid on the scheduler: sigmas linspace(1, 1/N, N), shifted by it, then 0."""
        unshifted = timestep_schedule(num_inference_steps, 1.0)[:-1].numpy()
        self.scheduler.set_timesteps(sigmas=unshifted, device=device)

    def sample_window(
        self,
        shape: tuple[int, ...],
        cond: dict[str, torch.Tensor],
        uncond: dict[str, torch.Tensor],
        steps: int,
        guidance: float,
        generator: torch.Generator | None,
        inpaint: tuple[torch.Tensor, torch.Tensor] | None,
        device: torch.device,
        bar: Any,
    ) -> torch.Tensor:
        """5. One window: scheduler Euler steps from pure noise, guided by CFG, with the kept
        (``inpaint``) region replaced after every step by its latent noised to the new sigma."""
        noise = randn_tensor(shape, generator=generator, device=device, dtype=torch.float32)
        x = noise.clone()
        self.set_schedule(steps, device)
        sigmas = self.scheduler.sigmas.tolist()
        if inpaint is not None:
            known, keep = inpaint[0], inpaint[1].expand(shape)

            def replace(x: torch.Tensor, t: float) -> torch.Tensor:
                return keep * ((1 - t) * known + t * noise) + (1 - keep) * x

            x = replace(x, sigmas[0])
        guided = guidance != 1.0
        both = _denoiser_kwargs(concat_conditions(cond, uncond)) if guided else None
        b = shape[0]
        for i, timestep in enumerate(self.scheduler.timesteps):
            if guided:
                tt = torch.full((2 * b,), sigmas[i], device=device)
                v_c, v_u = self.denoiser(torch.cat([x, x]), tt, **both).chunk(2)
                v = v_u + guidance * (v_c - v_u)
            else:
                tt = torch.full((b,), sigmas[i], device=device)
                v = self.denoiser(x, tt, **_denoiser_kwargs(cond))
            x = self.scheduler.step(v, timestep, x).prev_sample
            if inpaint is not None:
                x = replace(x, sigmas[i + 1])
            bar.update()
        return x

    @torch.no_grad()
    def __call__(
        self,
        prompt: str,
        negative_prompt: str | None = None,
        num_inference_steps: int | None = None,
        guidance_scale: float | None = None,
        audio_length_in_s: float | None = None,
        num_waveforms_per_prompt: int = 1,
        generator: torch.Generator | None = None,
        vocoder: str | None = None,
        output_type: str = "np",
        return_dict: bool = True,
    ) -> AudioPipelineOutput | tuple[Any]:
        """Generate ``audio_length_in_s`` seconds (1-60; default the prompt's, else the config's)
        of 16 kHz audio for one ``prompt``; ``audios`` (B, T) holds the
        ``num_waveforms_per_prompt`` candidates, CLAP-best first; ``vocoder`` "neural" or
        "griffin-lim"; ``output_type`` "np" or "pt"."""
        if output_type not in ("np", "pt"):
            raise AvgenError(f"output_type must be 'np' or 'pt', got {output_type!r}.")
        device = self._execution_device
        view = self._avgen_view(device)
        steps, guidance, which, duration = view.resolve_defaults(
            prompt, num_inference_steps, guidance_scale, vocoder, audio_length_in_s
        )
        batch = int(num_waveforms_per_prompt)
        view.check_inputs(prompt, steps, guidance, duration, batch, which)  # 1
        prompt = prompt.strip()
        cond, uncond = self.encode_prompt(prompt, negative_prompt, batch, device)  # 2
        self.set_schedule(steps, device)  # 3
        latent = self.denoise(view, cond, uncond, prompt_tempo(prompt), duration, steps,
                              guidance, generator, device)  # 4 + 5  # fmt: skip
        wave = view.to_waveform(latent, duration, which, generator, None, None)  # 6 + 7
        if batch > 1:  # 8
            wave = wave[torch.argsort(view.rank(wave, cond["pooled"]), descending=True)]
        self.maybe_free_model_hooks()
        audios: Any = wave.float().cpu()
        if output_type == "np":
            audios = audios.numpy()
        if not return_dict:
            return (audios,)
        return AudioPipelineOutput(audios=audios)

    def denoise(
        self,
        view: TextToAudioPipeline,
        cond: dict[str, torch.Tensor],
        uncond: dict[str, torch.Tensor],
        tempo: float,
        duration: float,
        steps: int,
        guidance: float,
        generator: torch.Generator | None,
        device: torch.device,
    ) -> torch.Tensor:
        """4 + 5. Window by window (``view.window_plan``), each window's overlap with the one
        before kept with a soft edge; returns the whole latent (B, C, H, total)."""
        batch = cond["pooled"].shape[0]
        plan = view.window_plan(duration)
        total = plan[-1][0] + plan[-1][1]
        tempo_t = torch.full((batch,), tempo, device=device)
        grid = beat_grid(tempo_t, total, view.seconds_per_latent)  # (B, total, 4): one beat phase
        latent = torch.zeros(view.prepare_latents(batch, total, generator), device=device)
        with self.progress_bar(total=steps * len(plan)) as bar:
            for k, (start, length) in enumerate(plan):
                shape = view.prepare_latents(batch, length, generator)
                window_cond = window_condition(
                    cond, tempo_t, grid, start, length, view.seconds_per_latent
                )
                inpaint = overlap_inpaint(latent, plan, k, shape) if k > 0 else None
                x = self.sample_window(
                    shape, window_cond, uncond, steps, guidance, generator, inpaint, device, bar
                )
                latent[..., start : start + length] = x
        return latent
