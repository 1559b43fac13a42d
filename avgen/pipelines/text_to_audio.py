"""Text-to-audio pipeline: AudioLDM-style latent diffusion (arXiv 2301.12503) on avgen's models.

Numbered like diffusers' pipelines (``AudioLDMPipeline.__call__``): 1 check inputs, 2 encode
the prompt, 3 prepare timesteps, 4 prepare latents, 5 denoising loop (window by window),
6 decode the latent to a mel, 7 vocode, 8 rank candidates with CLAP.

Any duration from 1 to 60 s: the denoiser is trained on windows (``window_s``, 4 s); longer
audio is generated window after window in latent space, each new window inpainting its first
``overlap_s`` from the previous one (RePaint-style replacement inside the sampler), with a soft
keep mask whose last quarter ramps from 1 to 0: a crossfade in latent space at every step. The
whole latent is then decoded and vocoded in one pass (both are convolutional), so there is no
decoding seam. The beat grid of each window continues the previous window's beat phase.

Defaults come from ``pipeline.json`` in the model folder; duration and tempo come from the
prompt parser (``parse_prompt``: "for 10 seconds", "120 BPM", "upbeat" -> the class midpoint).
The frozen MiniLM text encoder is loaded once per process and shared by every pipeline.
"""

from __future__ import annotations

import json
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
from avgen.audio.mel import (
    FMAX,
    FMIN,
    HOP,
    N_MELS,
    SAMPLE_RATE,
    MelFrontEnd,
    griffin_lim,
    hz_to_mel,
    mel_to_hz,
)
from avgen.audio.vae import MelVAE
from avgen.audio.vocoder import Vocoder
from avgen.diffusion.flow import sample, timestep_schedule
from avgen.errors import AvgenError
from avgen.pipelines.checks import check_sampling, read_pipeline_config

PIPELINE_CONFIG = "pipeline.json"
PIPELINE_CLASS = "TextToAudioPipeline"
DURATION_RANGE = (1.0, 60.0)
MAX_CANDIDATES = 16
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

_TEXT_ENCODERS: dict[str, Any] = {}


def default_audio_model_dir() -> Path:
    """The shipped model folder ``avgen/models/audio`` (found inside the installed package)."""
    return Path(str(resources.files("avgen") / "models" / "audio"))


def shared_text_encoder(device: str | torch.device = "cpu") -> Any:
    """The bundled frozen MiniLM, loaded once per process and device."""
    from avgen.text import TextEncoder

    key = str(torch.device(device))
    if key not in _TEXT_ENCODERS:
        _TEXT_ENCODERS[key] = TextEncoder.from_default(device=device)
    return _TEXT_ENCODERS[key]


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


def check_cutoff(cutoff_hz: Any) -> float:
    """The super-resolution cut-off in Hz, which must lie strictly inside the mel range."""
    hi = SAMPLE_RATE / 2
    if isinstance(cutoff_hz, bool) or not isinstance(cutoff_hz, (int, float)):
        raise AvgenError(f"super-resolution cut-off must be a number in Hz, got {cutoff_hz!r}.")
    if not FMIN < float(cutoff_hz) < hi:
        raise AvgenError(
            f"super-resolution cut-off must be between {FMIN:g} and {hi:g} Hz (exclusive), "
            f"got {cutoff_hz:g}."
        )
    return float(cutoff_hz)


@dataclass
class AudioPipelineOutput:
    """``audio`` (T,) float32 at ``sample_rate``; ``clap_scores`` of every candidate (best first
    is ``audio``); ``settings`` the resolved values that made it."""

    audio: np.ndarray
    sample_rate: int
    clap_scores: list[float] = field(default_factory=list)
    settings: dict[str, Any] = field(default_factory=dict)


class TextToAudioPipeline:
    """VAE + vocoder + CLAP + latent denoiser + frozen MiniLM, run as one text-to-audio model."""

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
        from avgen.finetune import apply_lora

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
        tmp = folder / f".{PIPELINE_CONFIG}.tmp"
        tmp.write_text(json.dumps(cfg, indent=2) + "\n")
        tmp.replace(folder / PIPELINE_CONFIG)
        return folder

    def to(self, device: str | torch.device) -> TextToAudioPipeline:
        self.device = torch.device(device)
        for m in (self.vae, self.vocoder, self.denoiser, self.clap, self.front_end):
            if m is not None:
                m.to(self.device).eval()
        return self

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
    ) -> None:
        """1. One clear AvgenError for the first bad input."""
        check_sampling(prompt, num_inference_steps, guidance_scale, "sound")
        lo, hi = DURATION_RANGE
        if not lo <= float(audio_length_in_s) <= hi:
            raise AvgenError(
                f"audio duration must be between {lo:g} and {hi:g} seconds, "
                f"got {audio_length_in_s:g}."
            )
        if not 1 <= int(num_candidates) <= MAX_CANDIDATES:
            raise AvgenError(
                f"candidates must be between 1 and {MAX_CANDIDATES}, got {num_candidates}."
            )
        if num_candidates > 1 and self.clap is None:
            raise AvgenError(
                f"candidates={num_candidates} needs a CLAP model; this folder has none."
            )
        if vocoder not in VOCODERS:
            raise AvgenError(f"vocoder must be one of {', '.join(VOCODERS)}, got {vocoder!r}.")
        if vocoder == "neural" and self.vocoder is None:
            raise AvgenError("vocoder='neural' needs a vocoder/ folder; use 'griffin-lim'.")

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
        spf = HOP * 4 / SAMPLE_RATE  # seconds per latent frame
        total = math.ceil(math.ceil(round(duration_s * SAMPLE_RATE) / HOP) / 4)
        win = max(1, round(self.config["window_s"] / spf))
        overlap = min(win - 1, round(self.config["overlap_s"] / spf))
        starts = [0]
        while starts[-1] + win < total:
            starts.append(min(starts[-1] + win - overlap, total - win))
        return [(s, win) for s in starts]

    def prepare_latents(
        self, batch: int, frames: int, generator: torch.Generator | None
    ) -> tuple[int, ...]:
        """4. The latent shape of one window (B, C, n_mels / 4, frames); the noise is drawn
        inside the sampler from ``generator``."""
        return (batch, self.vae.latent_channels, self.vae.config["n_mels"] // 4, frames)

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
    ) -> torch.Tensor:
        """5. Window-by-window flow sampling with latent inpainting of the overlap.

        ``init_latent`` (B, C, H, total) with ``t_start`` < 1: SDEdit from the input's latent;
        ``user_keep`` (1, 1, 1 or H, total): 1 where the input's latent is kept (AudioLDM
        inpainting: of a time range, or of the rows below a cut-off for super-resolution).
        """
        plan = self.window_plan(duration_s)
        total = plan[-1][0] + plan[-1][1]  # >= the requested length; cropped after decoding
        spf = HOP * 4 / SAMPLE_RATE
        tempo_t = torch.full((batch,), tempo, device=self.device)
        grid = beat_grid(tempo_t, total, spf)  # (B, total, 4): one beat phase for all windows
        latent = torch.zeros(
            batch,
            self.vae.latent_channels,
            self.vae.config["n_mels"] // 4,
            total,
            device=self.device,
        )
        done_steps, all_steps = 0, steps * len(plan)

        def step_cb(i: int, n: int) -> None:
            if callback is not None:
                callback(done_steps + i, all_steps)

        for k, (start, length) in enumerate(plan):
            shape = self.prepare_latents(batch, length, generator)
            window_cond = {
                **cond,
                "tempo": tempo_t,
                # seconds_total (Stable Audio) = real audio in the window, as in training
                "seconds": torch.full((batch,), length * spf, device=self.device),
                "beat": grid[:, start : start + length],
            }
            inpaint = None
            window = slice(start, start + length)
            x_init = init_latent[..., window] if init_latent is not None else None
            if user_keep is not None and init_latent is not None:
                inpaint = (init_latent[..., window].clone(), user_keep[..., window].clone())
            if k > 0:
                prev_end = plan[k - 1][0] + plan[k - 1][1]
                overlap = prev_end - start
                known = torch.zeros(shape, device=self.device)
                known[..., :overlap] = latent[..., start:prev_end]
                keep = torch.zeros(1, 1, 1, length, device=self.device)
                keep[..., :overlap] = 1.0
                fade = max(1, overlap // 4)  # soft edge: a latent crossfade at every step
                keep[..., overlap - fade : overlap] = torch.linspace(1.0, 0.0, fade + 2)[1:-1]
                if inpaint is not None:  # the input's kept frames beyond the overlap stay kept
                    known[..., overlap:] = inpaint[0][..., overlap:]
                    keep = torch.maximum(keep, inpaint[1])
                inpaint = (known, keep)
            x = sample(
                self.denoiser,
                shape,
                window_cond,
                uncond,
                num_inference_steps=steps,
                guidance_scale=guidance,
                generator=generator,
                x_init=x_init,
                t_start=t_start,
                inpaint=inpaint,
                callback=step_cb,
                shift=float(self.config["shift"]),
                device=self.device,
            )
            latent[..., start : start + length] = x
            done_steps += steps
        return latent

    def encode_audio(self, audio: np.ndarray, frames: int) -> torch.Tensor:
        """Waveform (T,) at 16 kHz -> scaled diffusion latent (1, C, n_mels / 4, frames), the
        waveform zero-padded to ``frames`` latent frames (4 mel hops each)."""
        wave = torch.as_tensor(np.asarray(audio, dtype=np.float32), device=self.device)
        n = frames * 4 * HOP
        wave = torch.nn.functional.pad(wave[:n], (0, max(0, n - wave.shape[0])))[None]  # (1, T)
        mel = self.front_end(wave)  # (1, 1, 64, frames * 4)
        return self.vae.to_diffusion(mel)[..., :frames]

    @staticmethod
    def known_mel_bins(cutoff_hz: float) -> int:
        """Super-resolution: how many mel bins (from the bottom) the input keeps, i.e. those
        whose centre frequency lies below ``cutoff_hz`` (a bin belongs to its centre's band)."""
        edges = torch.linspace(
            float(hz_to_mel(torch.tensor(FMIN, dtype=torch.float64))),
            float(hz_to_mel(torch.tensor(FMAX, dtype=torch.float64))),
            N_MELS + 2,
            dtype=torch.float64,
        )
        centres = mel_to_hz(edges)[1:-1]  # (n_mels,) Hz
        return int((centres < float(cutoff_hz)).sum())

    def band_keep(self, cutoff_hz: float, frames: int) -> torch.Tensor:
        """Super-resolution keep mask (1, 1, n_mels / 4, frames): 1 on the latent rows whose
        four mel bins all lie below the cut-off (AudioLDM's inpainting along frequency)."""
        rows = self.vae.config["n_mels"] // 4
        keep = torch.zeros(1, 1, rows, frames, device=self.device)
        keep[:, :, : self.known_mel_bins(cutoff_hz) // 4] = 1.0  # latent row r = bins 4r..4r+3
        return keep

    def paste_known_band(
        self, mel: torch.Tensor, audio: np.ndarray, cutoff_hz: float
    ) -> torch.Tensor:
        """Super-resolution 6b: the input's own mel replaces the decoded mel (B, 1, 64, F) on the
        bins below the cut-off, so the known band skips the VAE and is exact before vocoding."""
        n = mel.shape[-1] * HOP
        wave = torch.as_tensor(np.asarray(audio, dtype=np.float32), device=self.device)[:n]
        wave = torch.nn.functional.pad(wave, (0, n - wave.shape[0]))[None]  # (1, F * hop)
        known = self.known_mel_bins(cutoff_hz)
        out = mel.clone()
        out[:, :, :known] = self.front_end(wave)[:, :, :known].to(mel)  # (B, 1, known, F)
        return out

    SPLICE_FFT = 1024  # the mel front end's window: 15.6 Hz bins

    def splice_known_band(
        self, wave: torch.Tensor, audio: np.ndarray, cutoff_hz: float, ceiling: float = 0.99
    ) -> torch.Tensor:
        """Super-resolution 7a (AudioSR's post-process): the input's own STFT below the cut-off,
        the generated one above it, so the known band comes back exactly rather than through
        the vocoder. Where the sum would peak over ``ceiling`` only the generated band is turned
        down (a bisection on its gain), so the kept band stays as it was; the final peak limit
        then only acts if the input itself is that loud. ``wave`` (B, T) -> (B, T)."""
        n = wave.shape[-1]
        src = torch.as_tensor(np.asarray(audio, dtype=np.float32), device=wave.device)[:n]
        src = torch.nn.functional.pad(src, (0, n - src.shape[0]))[None].to(wave.dtype)
        kw = {"n_fft": self.SPLICE_FFT, "hop_length": HOP, "center": True}
        window = torch.hann_window(self.SPLICE_FFT, device=wave.device, dtype=wave.dtype)
        spec_in = torch.stft(src, window=window, return_complex=True, **kw)  # (1, bins, F)
        spec_out = torch.stft(wave, window=window, return_complex=True, **kw)  # (B, bins, F)
        freqs = torch.arange(spec_out.shape[1], device=wave.device) * SAMPLE_RATE / self.SPLICE_FFT
        low = (freqs < float(cutoff_hz))[None, :, None]
        zero = torch.zeros((), dtype=spec_out.dtype, device=wave.device)
        kept = torch.istft(torch.where(low, spec_in, zero), window=window, length=n, **kw)
        new = torch.istft(torch.where(low, zero, spec_out), window=window, length=n, **kw)
        lo = torch.zeros(wave.shape[0], 1, device=wave.device, dtype=wave.dtype)  # (B, 1) gain
        hi = torch.ones_like(lo)
        for _ in range(20):
            mid = (lo + hi) / 2
            fits = (kept + mid * new).abs().amax(-1, keepdim=True) <= ceiling
            lo, hi = torch.where(fits, mid, lo), torch.where(fits, hi, mid)
        fits = (kept + new).abs().amax(-1, keepdim=True) <= ceiling
        return kept + torch.where(fits, torch.ones_like(lo), lo) * new

    def check_init(
        self,
        audio: np.ndarray,
        strength: float,
        inpaint: tuple[float, float] | None,
        super_resolution: float | None = None,
    ) -> float:
        """1b. Validate the audio-to-audio inputs; returns the input's duration in seconds."""
        audio = np.asarray(audio)
        if audio.ndim != 1 or audio.size == 0 or not np.isfinite(audio).all():
            raise AvgenError(
                f"init audio must be a finite mono waveform (T,), got shape {audio.shape}."
            )
        duration = audio.shape[0] / SAMPLE_RATE
        lo, hi = DURATION_RANGE
        if not lo <= duration <= hi:
            raise AvgenError(
                f"init audio must last between {lo:g} and {hi:g} seconds, got {duration:.2f}."
            )
        if isinstance(strength, bool) or not 0.0 < float(strength) <= 1.0:
            raise AvgenError(f"strength must be in (0, 1], got {strength}.")
        if inpaint is not None:
            start, end = (float(v) for v in inpaint)
            if not 0.0 <= start < end <= duration:
                raise AvgenError(
                    f"inpaint range ({start:g}, {end:g}) must satisfy 0 <= start < end <= "
                    f"{duration:.2f} (the input's duration in seconds)."
                )
        if super_resolution is not None:
            check_cutoff(super_resolution)
            if inpaint is not None:
                raise AvgenError("super-resolution and inpaint cannot be combined: give one.")
        return duration

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
        cut-off after it (``splice_known_band``, AudioSR's post-process)."""
        from avgen.prompts import parse_prompt

        steps = int(
            self.config["num_inference_steps"]
            if num_inference_steps is None
            else num_inference_steps
        )
        guidance = float(
            self.config["guidance_scale"] if guidance_scale is None else guidance_scale
        )
        vocoder = vocoder or str(self.config["vocoder"])
        duration = audio_length_in_s
        if duration is None:
            duration = parse_prompt(prompt).duration_s if isinstance(prompt, str) else None
        if duration is None:
            duration = float(self.config["default_duration_s"])
        duration = float(duration)
        if inpaint is not None and init_audio is None:
            raise AvgenError("inpaint needs init audio (the sound to keep outside the range).")
        if super_resolution is not None and init_audio is None:
            raise AvgenError("super-resolution needs init audio (its band below the cut-off).")
        if init_audio is not None:
            duration = self.check_init(init_audio, strength, inpaint, super_resolution)
        self.check_inputs(prompt, steps, guidance, duration, num_candidates, vocoder)  # 1
        prompt = prompt.strip()
        batch = int(num_candidates)
        cond, uncond = self.encode_prompt(prompt, negative_prompt, batch)  # 2
        self.prepare_timesteps(steps)  # 3 (validates; the sampler rebuilds the same grid)
        tempo = prompt_tempo(prompt)
        init_latent, user_keep, t_start = None, None, 1.0
        if init_audio is not None:
            plan = self.window_plan(duration)
            total = plan[-1][0] + plan[-1][1]
            init_latent = self.encode_audio(init_audio, total).expand(batch, -1, -1, -1)
            if super_resolution is not None:
                user_keep = self.band_keep(super_resolution, total)  # (1, 1, H, total)
            elif inpaint is None:
                t_start = float(strength)
            else:
                spf = HOP * 4 / SAMPLE_RATE  # seconds per latent frame
                user_keep = torch.ones(1, 1, 1, total, device=self.device)
                a, b = math.floor(inpaint[0] / spf), math.ceil(inpaint[1] / spf)
                user_keep[..., a:b] = 0.0  # (1, 1, 1, total): 0 = regenerate
        latent = self.denoise(  # 4 + 5
            cond, uncond, tempo, duration, batch, steps, guidance, generator, callback,
            init_latent, t_start, user_keep,
        )  # fmt: skip
        n_samples = int(round(duration * SAMPLE_RATE))
        mel_frames = math.ceil(n_samples / HOP)
        mel = self.decode(latent, None)[..., :mel_frames]  # 6
        if super_resolution is not None:
            mel = self.paste_known_band(mel, init_audio, super_resolution)  # 6b
        wave = self.vocode(mel, vocoder, generator)[:, :n_samples]  # 7
        if super_resolution is not None:
            wave = self.splice_known_band(wave, init_audio, super_resolution)  # 7a
        wave = self.peak_limit(torch.nan_to_num(wave))
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
