"""Text-to-audio pipeline: AudioLDM-style latent diffusion (arXiv 2301.12503) on avgen's models.

Numbered like diffusers' pipelines (``AudioLDMPipeline.__call__``): 1 check inputs, 2 encode
the prompt, 3 prepare timesteps, 4 prepare latents, 5 denoising loop (window by window),
6 decode the latent to a mel, 7 vocode, 8 rank candidates with CLAP.

Any duration from 1 to 120 s: the denoiser is trained on windows (``window_s``, 4 s); longer
audio is generated window after window in latent space, each new window inpainting its first
``overlap_s`` from the previous one (RePaint-style replacement inside the sampler), with a soft
keep mask whose last quarter ramps from 1 to 0: a crossfade in latent space at every step. The
whole latent is then decoded and vocoded in one pass (both are convolutional), so there is no
decoding seam; audio longer than ``DECODE_BLOCK_S`` + 2 ``DECODE_MARGIN_S`` (up to 120 s) is
decoded and vocoded in overlapping blocks, cross-faded, so memory does not grow with its length.
The beat grid of each window continues the previous window's beat phase.

Defaults come from ``pipeline.json`` in the model folder; duration and tempo come from the
prompt parser (``parse_prompt``: "for 10 seconds", "120 BPM", "upbeat" -> the class midpoint).
The frozen MiniLM text encoder is loaded once per process and shared by every pipeline.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import torch

from avgen.audio.clap import CLAP
from avgen.audio.denoiser import AudioDenoiser, beat_grid
from avgen.audio.mel import HOP, SAMPLE_RATE, MelFrontEnd, griffin_lim
from avgen.audio.vae import MelVAE
from avgen.audio.vocoder import Vocoder
from avgen.diffusion.flow import sample, timestep_schedule
from avgen.diffusion.windows import overlap_inpaint, plan_windows, window_callback
from avgen.errors import AvgenError
from avgen.files import write_json
from avgen.pipelines.audio_to_audio import AudioToAudioSteps, check_cutoff, check_init
from avgen.pipelines.checks import check_range, check_sampling, read_pipeline_config
from avgen.plan.notes import NotePlan
from avgen.text import shared_text_encoder

#: Long audio is decoded and vocoded in blocks of this many seconds with this much context on
#: each side (``decode_in_blocks``); audio up to a block and both margins is decoded in one pass.
DECODE_BLOCK_S = 20.0
DECODE_MARGIN_S = 1.0
PIPELINE_CONFIG = "pipeline.json"
PIPELINE_CLASS = "TextToAudioPipeline"
VOCODERS = ("neural", "griffin-lim")
DEFAULTS: dict[str, Any] = {
    "num_inference_steps": 25,
    "guidance_scale": 3.0,
    "shift": 1.0,
    "window_s": 4.0,
    "overlap_s": 1.0,
    "default_duration_s": 4.0,
    "sample_rate": SAMPLE_RATE,
    "griffin_lim_iters": 32,
    "vocoder": "neural",
}

__all__ = ["AudioPipelineOutput", "TextToAudioPipeline", "check_cutoff", "shared_text_encoder"]


def default_audio_model_dir() -> Path:
    """The shipped model folder ``avgen/models/audio`` (found inside the installed package)."""
    return Path(str(resources.files("avgen") / "models" / "audio"))


def prompt_tempo(prompt: str) -> float:
    """Tempo (BPM) the prompt asks for: explicit BPM, else its tempo class's midpoint, else NaN."""
    from avgen.prompts import parse_prompt
    from avgen.vocab import TEMPO_CLASS_RANGES

    parsed = parse_prompt(prompt)
    if parsed.tempo_bpm is not None:
        return float(parsed.tempo_bpm)
    if parsed.tempo_class in TEMPO_CLASS_RANGES:
        lo, hi = TEMPO_CLASS_RANGES[parsed.tempo_class]
        return 0.5 * (lo + hi)
    return math.nan


def window_condition(
    cond: dict[str, torch.Tensor],
    tempo: torch.Tensor,
    grid: torch.Tensor,
    start: int,
    length: int,
    frame_seconds: float,
    notes: torch.Tensor | None = None,
) -> dict[str, torch.Tensor]:
    """The condition of the window (start, length): the text plus tempo (B,), seconds (B,) and
    its slice (B, length, 4) of the whole clip's beat grid (B, total, 4), and of the note plan's
    features (B, total, F) when there is a plan; ``frame_seconds`` is the length of one latent
    frame (``TextToAudioPipeline.seconds_per_latent``)."""
    out = {
        **cond,
        "tempo": tempo,
        # seconds_total (Stable Audio) = real audio in the window, as in training
        "seconds": torch.full(tempo.shape, length * frame_seconds, device=tempo.device),
        "beat": grid[:, start : start + length],
    }
    if notes is not None:
        out["notes"] = notes[:, start : start + length]
    return out


def window_inpaint(
    latent: torch.Tensor,
    plan: list[tuple[int, int]],
    k: int,
    shape: tuple[int, ...],
    init_latent: torch.Tensor | None,
    user_keep: torch.Tensor | None,
) -> tuple[torch.Tensor, torch.Tensor] | None:
    """Window ``k``'s (known, keep) pair: the previous window's overlap (cross-faded) and an
    edit's kept input latent (``user_keep`` 1 = keep), or None when nothing is known."""
    start, length = plan[k]
    window = slice(start, start + length)
    inpaint = None
    if user_keep is not None and init_latent is not None:
        inpaint = (init_latent[..., window].clone(), user_keep[..., window].clone())
    if k == 0:
        return inpaint
    known, keep = overlap_inpaint(latent, plan, k, shape)
    if inpaint is not None:  # the input's kept frames beyond the overlap stay kept
        overlap = plan[k - 1][0] + plan[k - 1][1] - start
        known[..., overlap:] = inpaint[0][..., overlap:]
        keep = torch.maximum(keep, inpaint[1])
    return known, keep


@dataclass
class AudioPipelineOutput:
    """``audio`` (T,) float32 at ``sample_rate``; ``clap_scores`` of every candidate (best first
    is ``audio``); ``settings`` the resolved values that made it."""

    audio: np.ndarray
    sample_rate: int
    clap_scores: list[float] = field(default_factory=list)
    settings: dict[str, Any] = field(default_factory=dict)


class TextToAudioPipeline(AudioToAudioSteps):
    """VAE + vocoder + CLAP + latent denoiser + frozen MiniLM, run as one text-to-audio model
    (an ``avgen.pipelines.base.AudioPipeline``)."""

    loads_dtype = False  # float32 weights: the API autocasts for fp16 / bf16

    def __init__(
        self,
        vae: MelVAE,
        vocoder: Vocoder | None,
        denoiser: AudioDenoiser,
        clap: CLAP | None = None,
        text_encoder: Any = None,
        config: dict[str, Any] | None = None,
        model_id: str = "custom",
    ) -> None:
        self.vae, self.vocoder, self.denoiser, self.clap = vae, vocoder, denoiser, clap
        self._text_encoder = text_encoder
        self.config = {**DEFAULTS, **(config or {})}
        self.model_id = model_id
        self.lora: str | None = None  # the merged LoRA adapter folder, if any
        self.front_end = MelFrontEnd()
        self.device = torch.device("cpu")

    # ------------------------------------------------------------------ loading

    @classmethod
    def from_pretrained(
        cls,
        folder: str | Path | None = None,
        *,
        device: str | torch.device = "cpu",
        text_encoder: Any = None,
        lora: str | Path | None = None,
    ) -> TextToAudioPipeline:
        """Load ``folder`` (default: the shipped ``avgen/models/audio``); AvgenError if it is not
        an avgen audio model (pipeline.json + vae/ vocoder/ denoiser/, optional clap/).
        ``lora``: an adapter folder from ``avgen finetune audio``, merged in (``load_lora``)."""
        shipped = folder is None
        folder = default_audio_model_dir() if shipped else Path(folder)
        config = read_pipeline_config(folder, PIPELINE_CONFIG, PIPELINE_CLASS, "audio", shipped)
        vae = MelVAE.from_pretrained(folder / "vae", device=device)
        denoiser = AudioDenoiser.from_pretrained(folder / "denoiser", device=device)
        vocoder = (
            Vocoder.from_pretrained(folder / "vocoder", device=device)
            if (folder / "vocoder" / "config.json").is_file()
            else None
        )
        clap = (
            CLAP.from_pretrained(folder / "clap", device=device)
            if (folder / "clap" / "config.json").is_file()
            else None
        )
        model_id = "avgen/models/audio" if shipped else str(folder)
        pipe = cls(vae, vocoder, denoiser, clap, text_encoder, config, model_id=model_id)
        if lora is not None:
            pipe.load_lora(lora)
        return pipe.to(device)

    def load_lora(self, adapter_dir: str | Path, scale: float = 1.0) -> TextToAudioPipeline:
        """Merge a LoRA adapter (``avgen finetune audio``) into the denoiser; AvgenError for a
        missing, corrupt or foreign folder or one made for another base model."""
        from avgen.lora import apply_lora

        apply_lora(self.denoiser, adapter_dir, scale=scale)
        self.lora = str(adapter_dir)
        return self

    def save_pretrained(self, folder: str | Path) -> Path:
        """Write every component (save_pretrained) and pipeline.json into ``folder``."""
        folder = Path(folder)
        self.vae.save_pretrained(folder / "vae")
        self.denoiser.save_pretrained(folder / "denoiser")
        if self.vocoder is not None:
            self.vocoder.save_pretrained(folder / "vocoder")
        if self.clap is not None:
            self.clap.save_pretrained(folder / "clap")
        cfg = {"_class": PIPELINE_CLASS, **{k: self.config[k] for k in DEFAULTS}}
        write_json(folder / PIPELINE_CONFIG, cfg)  # a unique temporary name, then a rename
        return folder

    def to(self, device: str | torch.device) -> TextToAudioPipeline:
        self.device = torch.device(device)
        for m in (self.vae, self.vocoder, self.denoiser, self.clap, self.front_end):
            if m is not None:
                m.to(self.device).eval()
        return self

    @property
    def seconds_per_latent(self) -> float:
        """Seconds of audio in one latent frame (the VAE's temporal factor times the hop)."""
        return HOP * self.vae.temporal_factor / SAMPLE_RATE

    @property
    def text_encoder(self) -> Any:
        if self._text_encoder is None:
            self._text_encoder = shared_text_encoder(self.device)
        return self._text_encoder

    # ------------------------------------------------------------------ steps

    def check_inputs(
        self,
        prompt: str,
        num_inference_steps: int,
        guidance_scale: float,
        audio_length_in_s: float,
        num_candidates: int,
        vocoder: str,
        init_audio: np.ndarray | None = None,
        strength: float = 0.6,
        inpaint: tuple[float, float] | None = None,
        super_resolution: float | None = None,
    ) -> float:
        """1. One clear AvgenError for the first bad input; returns the duration to generate
        (``init_audio``'s own length when it is given)."""
        duration = check_init(init_audio, strength, inpaint, super_resolution)  # 1b
        duration = audio_length_in_s if duration is None else duration
        check_sampling(prompt, num_inference_steps, guidance_scale, "sound")
        check_range("candidates", num_candidates)
        check_range("audio duration", float(duration))
        if num_candidates > 1 and self.clap is None:
            raise AvgenError(
                f"candidates={num_candidates} needs a CLAP model; this folder has none."
            )
        if vocoder not in VOCODERS:
            raise AvgenError(f"vocoder must be one of {', '.join(VOCODERS)}, got {vocoder!r}.")
        if vocoder == "neural" and self.vocoder is None:
            raise AvgenError("vocoder='neural' needs a vocoder/ folder; use 'griffin-lim'.")
        return float(duration)

    def encode_prompt(
        self, prompt: str, negative_prompt: str | None, batch: int
    ) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
        """2. MiniLM token states + pooled vector; the negative prompt or the null condition."""
        cond = self.text_encoder.encode([prompt])
        if negative_prompt:
            uncond = self.text_encoder.encode([negative_prompt])
        else:
            uncond = self.denoiser.null_condition(1, self.device)
        expand = {k: v.to(self.device).expand(batch, *v.shape[1:]) for k, v in cond.items()}
        un = {k: v.to(self.device).expand(batch, *v.shape[1:]) for k, v in uncond.items()}
        return expand, un

    def prepare_timesteps(self, num_inference_steps: int) -> torch.Tensor:
        """3. The sampling times (steps + 1,) from 1 to 0 (``shift`` from pipeline.json)."""
        return timestep_schedule(num_inference_steps, float(self.config["shift"]))

    def window_plan(self, duration_s: float) -> list[tuple[int, int]]:
        """Latent-frame (start, length) of each window covering ``duration_s``.

        Every window has the full training length (shorter audio is generated as one window
        and cropped, so the denoiser always sees what it was trained on); windows advance by
        ``window - overlap`` and the last one is pulled back to end exactly at the end.
        """
        spf = self.seconds_per_latent
        total = self.vae.latent_frames(math.ceil(round(duration_s * SAMPLE_RATE) / HOP))
        win = max(1, round(self.config["window_s"] / spf))
        overlap = min(win - 1, round(self.config["overlap_s"] / spf))
        return plan_windows(total, win, overlap)

    def prepare_latents(
        self, batch: int, frames: int, generator: torch.Generator | None
    ) -> tuple[int, ...]:
        """4. The latent shape of one window (B, C, latent rows, frames); the noise is drawn
        inside the sampler from ``generator``."""
        return (batch, self.vae.latent_channels, self.vae.latent_freq, frames)

    def denoise(
        self,
        cond: dict[str, torch.Tensor],
        uncond: dict[str, torch.Tensor],
        tempo: float,
        duration_s: float,
        batch: int,
        steps: int,
        guidance: float,
        generator: torch.Generator | None,
        callback: Callable[[int, int], None] | None,
        init_latent: torch.Tensor | None = None,
        t_start: float = 1.0,
        user_keep: torch.Tensor | None = None,
        note_plan: NotePlan | None = None,
    ) -> torch.Tensor:
        """5. Window-by-window flow sampling with latent inpainting of the overlap; each window
        gets its frames of ``note_plan``'s features (``prepare_notes``).

        ``init_latent`` (B, C, H, total) with ``t_start`` < 1: SDEdit from the input's latent;
        ``user_keep`` (1, 1, 1 or H, total): 1 where the input's latent is kept (AudioLDM
        inpainting: of a time range, or of the rows below a cut-off for super-resolution).
        """
        plan = self.window_plan(duration_s)
        total = plan[-1][0] + plan[-1][1]  # >= the requested length; cropped after decoding
        tempo_t = torch.full((batch,), tempo, device=self.device)
        grid = beat_grid(tempo_t, total, self.seconds_per_latent)  # (B, total, 4): one beat phase
        latent = torch.zeros(self.prepare_latents(batch, total, generator), device=self.device)
        notes = self.prepare_notes(note_plan, batch, total)  # 4b
        for k, (start, length) in enumerate(plan):
            shape = self.prepare_latents(batch, length, generator)
            window = slice(start, start + length)
            x = sample(
                self.denoiser,
                shape,
                window_condition(
                    cond, tempo_t, grid, start, length, self.seconds_per_latent, notes
                ),
                uncond,
                num_inference_steps=steps,
                guidance_scale=guidance,
                generator=generator,
                x_init=init_latent[..., window] if init_latent is not None else None,
                t_start=t_start,
                inpaint=window_inpaint(latent, plan, k, shape, init_latent, user_keep),
                callback=window_callback(callback, k * steps, steps * len(plan)),
                shift=float(self.config["shift"]),
                device=self.device,
            )
            latent[..., window] = x
        return latent

    @property
    def follows_plans(self) -> bool:
        """Whether the denoiser reads note plans (``note_dim`` in its config)."""
        return bool(getattr(self.denoiser, "note_dim", 0))

    def prepare_notes(self, note_plan: NotePlan | None, batch: int, total: int):
        """4b. The note plan's per-frame features over all ``total`` latent frames
        (B, total, F), or None without a plan."""
        if note_plan is None:
            return None
        if not self.follows_plans:
            raise AvgenError(
                f"the model {self.model_id} does not follow note plans (its denoiser has no note "
                "input); generate without a plan or use a model trained with plans."
            )
        feats = torch.from_numpy(note_plan.features(total, self.seconds_per_latent))
        return feats.to(self.device)[None].expand(batch, -1, -1)

    def decode(self, latent: torch.Tensor, mel_frames: int | None) -> torch.Tensor:
        """6. Scaled latent -> normalised mel (B, 1, 64, mel_frames), in one pass."""
        return self.vae.from_diffusion(latent, frames=mel_frames)

    def vocode(
        self, mel: torch.Tensor, which: str, generator: torch.Generator | None
    ) -> torch.Tensor:
        """7. Mel -> waveform (B, frames * hop): the neural vocoder or Griffin-Lim."""
        if which == "neural":
            return self.vocoder(mel)
        return griffin_lim(
            mel,
            int(self.config["griffin_lim_iters"]),
            front_end=self.front_end,
            generator=generator,
        )

    def decode_block_frames(self) -> tuple[int, int, int]:
        """Latent frames of a decoding block, of its margin on each side, and the longest
        latent decoded in one pass (a block with both margins)."""
        spl = self.seconds_per_latent
        block, margin = round(DECODE_BLOCK_S / spl), round(DECODE_MARGIN_S / spl)
        return block, margin, block + 2 * margin

    def decode_in_blocks(
        self, latent: torch.Tensor, vocoder: str, generator: torch.Generator | None
    ) -> torch.Tensor:
        """6-7 for long audio: the latent (B, C, rows, frames) decoded and vocoded in blocks of
        ``DECODE_BLOCK_S`` with ``DECODE_MARGIN_S`` of context on each side, so memory does
        not grow with the length; neighbouring blocks are cross-faded linearly over half a
        margin each side of their boundary (the VAE's GroupNorm sees one block at a time, so
        the two sides differ very slightly). Returns (B, frames x samples per latent frame)."""
        block, margin, _ = self.decode_block_frames()
        total = latent.shape[-1]
        per = self.vae.temporal_factor * HOP  # samples per latent frame
        fade = margin * per  # the cross-fade, centred on each boundary
        out = torch.zeros(latent.shape[0], total * per)
        starts = list(range(0, total, block))
        for k, start in enumerate(starts):
            end = min(total, start + block)
            lo, hi = max(0, start - margin), min(total, end + margin)
            mel = self.decode(latent[..., lo:hi], None)  # (B, 1, n_mels, (hi - lo) x factor)
            wave = self.vocode(mel, vocoder, generator).float().cpu()  # (B, samples)
            a, b = (start - lo) * per, (end - lo) * per  # the block's own span in ``wave``
            left = fade // 2 if k > 0 else 0
            right = fade // 2 if k < len(starts) - 1 else 0
            piece = wave[:, a - left : b + right]
            weight = torch.ones(piece.shape[-1])
            if left:
                weight[: 2 * left] = torch.linspace(0.0, 1.0, 2 * left + 2)[1:-1]
            if right:
                weight[-2 * right :] = torch.linspace(1.0, 0.0, 2 * right + 2)[1:-1]
            out[:, start * per - left : start * per - left + piece.shape[-1]] += piece * weight
        return out

    @staticmethod
    def peak_limit(wave: torch.Tensor, ceiling: float = 0.99) -> torch.Tensor:
        """7b. Scale down any candidate whose peak passes ``ceiling`` (no hard clipping)."""
        peak = wave.abs().amax(dim=-1, keepdim=True).clamp_min(1e-9)  # (B, 1)
        return wave * torch.clamp(ceiling / peak, max=1.0)

    def rank(self, wave: torch.Tensor, pooled: torch.Tensor) -> torch.Tensor:
        """8. CLAP score (cosine) of each candidate waveform against the prompt (B,)."""
        if self.clap is None:
            return torch.zeros(wave.shape[0])
        audio = self.clap.encode_audio(self.front_end(wave))
        text = self.clap.encode_text(pooled[:1].to(audio))
        return self.clap.score(audio, text)[:, 0]

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
        callback: Callable[[int, int], None] | None = None,
        init_audio: np.ndarray | None = None,
        strength: float = 0.6,
        inpaint: tuple[float, float] | None = None,
        super_resolution: float | None = None,
        note_plan: NotePlan | None = None,
    ) -> AudioPipelineOutput:
        """Generate ``audio_length_in_s`` seconds (default: the prompt's, else pipeline.json's)
        for ``prompt``; ``num_candidates`` > 1 keeps the CLAP-best; ``vocoder`` "neural" or
        "griffin-lim" (default: pipeline.json's); ``callback(step, total)`` after each step.

        Audio-to-audio (AudioLDM, arXiv 2301.12503): ``init_audio`` (T,) at 16 kHz sets the
        duration (1-60 s, windowed like text-to-audio); without ``inpaint`` sampling starts
        from its latent noised to t = ``strength`` (SDEdit); with ``inpaint=(start_s, end_s)``
        its latent is kept outside that range and the inside is generated from pure noise
        (``strength`` is then unused). ``super_resolution=cutoff_hz`` inpaints along frequency
        instead: the latent rows below the cut-off are kept, the band above is generated from
        pure noise, the input's own mel replaces the decoded mel below the cut-off before
        vocoding (``paste_known_band``) and its own STFT replaces the vocoded one below the
        cut-off after it (``splice_known_band``, AudioSR's post-process).

        ``note_plan`` (``avgen.plan.NotePlan``; models whose denoiser has a note input): which
        notes sound when, rendered with the timbre the prompt asks for; its duration is the
        default duration and its tempo sets the beat grid."""
        if note_plan is not None and audio_length_in_s is None and init_audio is None:
            audio_length_in_s = note_plan.duration_s
        steps, guidance, vocoder, duration = self.resolve_defaults(
            prompt, num_inference_steps, guidance_scale, vocoder, audio_length_in_s
        )
        duration = self.check_inputs(  # 1
            prompt, steps, guidance, duration, num_candidates, vocoder,
            init_audio, strength, inpaint, super_resolution,
        )  # fmt: skip
        prompt = prompt.strip()
        batch = int(num_candidates)
        cond, uncond = self.encode_prompt(prompt, negative_prompt, batch)  # 2
        self.prepare_timesteps(steps)  # 3 (validates; the sampler rebuilds the same grid)
        tempo = prompt_tempo(prompt)
        if note_plan is not None and note_plan.tempo_bpm is not None:
            tempo = float(note_plan.tempo_bpm)
        init_latent, user_keep, t_start = self.prepare_init(  # 4a
            init_audio, duration, batch, strength, inpaint, super_resolution
        )
        latent = self.denoise(  # 4 + 5
            cond, uncond, tempo, duration, batch, steps, guidance, generator, callback,
            init_latent, t_start, user_keep, note_plan,
        )  # fmt: skip
        wave = self.to_waveform(latent, duration, vocoder, generator, init_audio, super_resolution)
        scores = self.rank(wave, cond["pooled"]) if batch > 1 else torch.zeros(1)  # 8
        order = torch.argsort(scores, descending=True)
        best = wave[order[0]].float().cpu().numpy()
        settings = {
            "num_inference_steps": steps,
            "guidance_scale": guidance,
            "audio_length_in_s": duration,
            "tempo_bpm": None if math.isnan(tempo) else tempo,
            "windows": len(self.window_plan(duration)),
            "num_candidates": batch,
            "vocoder": vocoder,
            "note_plan": note_plan is not None,
        }
        if init_audio is not None:
            edit = inpaint is not None or super_resolution is not None
            settings["strength"] = None if edit else float(strength)
            settings["inpaint"] = None if inpaint is None else [float(v) for v in inpaint]
            sr_hz = None if super_resolution is None else float(super_resolution)
            settings["super_resolution"] = sr_hz
        return AudioPipelineOutput(
            audio=best.astype(np.float32),
            sample_rate=SAMPLE_RATE,
            clap_scores=[float(scores[i]) for i in order],
            settings=settings,
        )

    def resolve_defaults(
        self,
        prompt: str,
        num_inference_steps: int | None,
        guidance_scale: float | None,
        vocoder: str | None,
        audio_length_in_s: float | None,
    ) -> tuple[int, float, str, float]:
        """Steps, guidance, vocoder and duration with pipeline.json's defaults filled in (the
        duration: the argument, else the prompt's "for 10 seconds", else the default)."""
        from avgen.prompts import parse_prompt

        cfg = self.config
        steps = int(
            cfg["num_inference_steps"] if num_inference_steps is None else num_inference_steps
        )
        guidance = float(cfg["guidance_scale"] if guidance_scale is None else guidance_scale)
        duration = audio_length_in_s
        if duration is None:
            duration = (
                parse_prompt(prompt, read=False).duration_s if isinstance(prompt, str) else None
            )
        if duration is None:
            duration = float(cfg["default_duration_s"])
        return steps, guidance, vocoder or str(cfg["vocoder"]), float(duration)

    def to_waveform(
        self,
        latent: torch.Tensor,
        duration: float,
        vocoder: str,
        generator: torch.Generator | None,
        init_audio: np.ndarray | None,
        super_resolution: float | None,
    ) -> torch.Tensor:
        """6-7. Decode the whole latent and vocode it (B, T), cropped to ``duration``; for
        super-resolution the input's band is pasted before and spliced after vocoding."""
        n_samples = int(round(duration * SAMPLE_RATE))
        mel_frames = math.ceil(n_samples / HOP)
        if super_resolution is None and latent.shape[-1] > self.decode_block_frames()[2]:
            wave = self.decode_in_blocks(latent, vocoder, generator)[:, :n_samples]  # 6-7
            return self.peak_limit(torch.nan_to_num(wave))
        mel = self.decode(latent, None)[..., :mel_frames]  # 6
        if super_resolution is not None:
            mel = self.paste_known_band(mel, init_audio, super_resolution)  # 6b
        wave = self.vocode(mel, vocoder, generator)[:, :n_samples]  # 7
        if super_resolution is not None:
            wave = self.splice_known_band(wave, init_audio, super_resolution)  # 7a
        return self.peak_limit(torch.nan_to_num(wave))
