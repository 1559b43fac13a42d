"""avgen's Python entry points: the CLI and the web app call these and nothing else.

Argument names follow diffusers (``prompt``, ``negative_prompt``, ``num_inference_steps``,
``guidance_scale``, ``num_frames``, ``audio_length_in_s``) so a diffusers user reads them
without a manual. Every function that writes files writes them atomically and leaves a
``<output>.json`` sidecar that ``rerun`` can replay.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from avgen import __version__
from avgen.errors import AvgenError

DEFAULT_DURATION_S = 4.0
MAX_DURATION_S = 600.0
AUDIO_DURATION_RANGE = (1.0, 60.0)
VIDEO_DURATION_RANGE = (0.125, 30.0)
DTYPES = ("fp32", "fp16", "bf16")


@dataclass
class GenerationOptions:
    """The one set of generation settings every generating command shares."""

    negative_prompt: str | None = None
    seed: int = 0
    num_inference_steps: int | None = None
    guidance_scale: float | None = None
    duration_s: float | None = None
    batch: int = 1
    preview: bool = False
    device: str = "cpu"
    dtype: str = "fp32"
    quiet: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def check_prompt(prompt: str | None) -> str:
    """Reject an empty or whitespace-only prompt; return it stripped."""
    if prompt is None or not str(prompt).strip():
        raise AvgenError("the prompt is empty: describe the sound or video you want.")
    prompt = str(prompt).strip()
    if len(prompt) > 2000:
        raise AvgenError(f"the prompt is {len(prompt)} characters long; the limit is 2000.")
    return prompt


def check_duration(seconds: float | None) -> float | None:
    """The shared duration check: (0, 600] seconds. Generators then apply their own range."""
    if seconds is None:
        return None
    try:
        seconds = float(seconds)
    except (TypeError, ValueError) as exc:
        raise AvgenError(f"duration must be a number of seconds, got {seconds!r}.") from exc
    if not seconds > 0 or seconds > MAX_DURATION_S:
        raise AvgenError(
            f"duration must be more than 0 and at most {MAX_DURATION_S:g} seconds, got {seconds:g}."
        )
    return seconds


def check_range(name: str, seconds: float, allowed: tuple[float, float]) -> float:
    """A generator's own duration range, named in the error."""
    lo, hi = allowed
    if not lo <= seconds <= hi:
        raise AvgenError(
            f"{name} duration must be between {lo:g} and {hi:g} seconds, got {seconds:g}."
        )
    return seconds


def check_device(device: str) -> str:
    """The device must exist on this machine (``cpu``, ``cuda``, ``cuda:N``, ``mps``)."""
    import torch

    kind = str(device).split(":")[0]
    if kind == "cpu":
        return device
    if kind == "cuda":
        index = str(device).split(":")[1] if ":" in str(device) else "0"
        if not torch.cuda.is_available():
            raise AvgenError(f"device {device!r} is not available: no CUDA GPU found; use cpu.")
        if not index.isdigit() or int(index) >= torch.cuda.device_count():
            raise AvgenError(
                f"device {device!r} does not exist: {torch.cuda.device_count()} CUDA GPU(s) found."
            )
        return device
    if kind == "mps":
        if not torch.backends.mps.is_available():
            raise AvgenError(f"device {device!r} is not available on this machine; use cpu.")
        return device
    raise AvgenError(f"device must be cpu, cuda, cuda:N or mps, got {device!r}.")


def check_options(options: GenerationOptions) -> GenerationOptions:
    """Validate the shared settings; raise AvgenError naming the first bad one."""
    check_duration(options.duration_s)
    if options.num_inference_steps is not None and not 1 <= options.num_inference_steps <= 1000:
        raise AvgenError(f"steps must be between 1 and 1000, got {options.num_inference_steps}.")
    if options.guidance_scale is not None and not 0.0 <= options.guidance_scale <= 50.0:
        raise AvgenError(f"guidance must be between 0 and 50, got {options.guidance_scale:g}.")
    if not 1 <= options.batch <= 64:
        raise AvgenError(f"batch must be between 1 and 64, got {options.batch}.")
    if options.dtype not in DTYPES:
        raise AvgenError(f"dtype must be one of {', '.join(DTYPES)}, got {options.dtype!r}.")
    check_device(options.device)
    if options.seed < 0 or options.seed >= 2**63:
        raise AvgenError(f"seed must be between 0 and 2**63 - 1, got {options.seed}.")
    return options


def resolve_duration(prompt: str, flag: float | None) -> tuple[float, str]:
    """Duration from the flag, else the prompt ("for 10 seconds"), else 4 s; with its source."""
    if flag is not None:
        return float(check_duration(flag)), "flag"
    from avgen.prompts import parse_prompt

    parsed = parse_prompt(prompt).duration_s
    if parsed is not None:
        return float(check_duration(parsed)), "prompt"
    return DEFAULT_DURATION_S, "default"


def output_paths(output: str | Path, n_prompts: int, batch: int) -> list[list[Path]]:
    """Output names for ``n_prompts`` prompts x ``batch`` samples.

    One prompt and one sample: ``output`` itself. A batch: ``name_0.wav`` ... ``name_{N-1}.wav``.
    Several prompts (``--prompts-file``): ``name_p{i}.wav`` or ``name_p{i}_{j}.wav``.
    """
    output = Path(output)
    stem, suffix = output.stem, output.suffix
    paths: list[list[Path]] = []
    for i in range(n_prompts):
        row = []
        for j in range(batch):
            name = stem
            if n_prompts > 1:
                name += f"_p{i}"
            if batch > 1:
                name += f"_{j}"
            row.append(output.with_name(name + suffix))
        paths.append(row)
    return paths


def check_output(path: str | Path, allowed_suffixes: tuple[str, ...]) -> Path:
    """The output must have an allowed extension and a writable folder."""
    from avgen.media import check_writable

    path = Path(path)
    if path.suffix.lower() not in allowed_suffixes:
        raise AvgenError(
            f"output {path} must end in one of {', '.join(allowed_suffixes)}, not "
            f"{path.suffix or 'no extension'!r}."
        )
    if not path.parent.exists():
        try:
            path.parent.mkdir(parents=True)
        except OSError as exc:
            raise AvgenError(
                f"cannot create the output folder {path.parent}: {exc.strerror}."
            ) from exc
    check_writable(path)
    return path


# ----------------------------------------------------------------------------- generators


def _not_available(what: str, issue: str) -> AvgenError:
    return AvgenError(f"{what} is not available yet in avgen {__version__}: {issue}.")


_PIPELINES: dict[tuple[str, ...], Any] = {}
# GPU switches for diffusers model folders (audio and video alike); avgen's own models ignore them
GPU_EXTRA_KEYS = ("cpu_offload", "vae_slicing", "vae_tiling")
AUDIO_EXTRA_KEYS = ("model", "candidates", "vocoder", "lora") + GPU_EXTRA_KEYS


def gpu_options(extra: dict[str, Any]) -> dict[str, bool]:
    """``cpu_offload`` / ``vae_slicing`` / ``vae_tiling`` from a generator's extra keywords."""
    out = {}
    for key in GPU_EXTRA_KEYS:
        value = extra.get(key, False)
        if not isinstance(value, bool):
            raise AvgenError(f"{key} must be True or False, got {value!r}.")
        out[key] = value
    return out


def _diffusers_adapter(kind: str) -> Any:
    """The class that runs a local diffusers pipeline folder (model_index.json) as ``kind``."""
    if kind == "audio":
        from avgen.pipelines.diffusers_audio import DiffusersAudioPipeline

        return DiffusersAudioPipeline
    from avgen.pipelines.diffusers_video import DiffusersVideoPipeline

    return DiffusersVideoPipeline


def _run_with_progress(
    pipe: Any, total: int, *, desc: str, quiet: bool, device: str, dtype: str, **call: Any
) -> Any:
    """Call ``pipe(**call)`` with a tqdm bar fed by its step callback; under autocast for
    fp16/bf16 unless the pipeline loaded its weights in that dtype (diffusers folders)."""
    import torch
    from tqdm import tqdm

    amp = {"fp16": torch.float16, "bf16": torch.bfloat16}.get(dtype)
    if getattr(pipe, "loads_dtype", False):
        amp = None
    with tqdm(total=total, desc=desc, unit="step", disable=quiet, leave=False) as bar:

        def tick(i: int, n: int) -> None:
            bar.update(i - bar.n)

        with torch.autocast(torch.device(device).type, dtype=amp, enabled=amp is not None):
            return pipe(callback=tick, **call)


def _is_avgen_export(folder: Path) -> bool:
    """True for a diffusers-layout folder that `avgen export audio` wrote (AvgenAudioPipeline)."""
    from avgen.pipelines.diffusers_common import is_diffusers_folder, read_model_index

    if not is_diffusers_folder(folder):
        return False
    return read_model_index(folder).get("_class_name") == "AvgenAudioPipeline"


def _ignored_gpu_options(kind: str, options: dict[str, Any]) -> None:
    if any(options.get(k) for k in GPU_EXTRA_KEYS):
        import warnings

        warnings.warn(
            "cpu_offload, vae_slicing and vae_tiling apply to diffusers model folders only; "
            f"the avgen {kind} model ignores them.",
            UserWarning,
            stacklevel=4,
        )


def _cached_pipeline(
    kind: str,
    cls: Any,
    default_dir: Path,
    model: Any,
    device: str,
    lora: Any = None,
    **options: Any,
) -> Any:
    """Load ``cls`` from ``model`` (default: the shipped folder) once per folder, device and
    LoRA adapter (its path and a hash of its weights, so a retrained adapter reloads).

    A folder with a ``model_index.json`` is a diffusers pipeline: it is loaded by the
    diffusers adapter with ``options`` (dtype, cpu_offload, vae_slicing, vae_tiling), which
    are then part of the cache key; avgen's own models ignore the GPU switches (a warning)."""
    from avgen.pipelines.diffusers_common import is_diffusers_folder

    folder = Path(model) if model is not None else default_dir
    key: tuple[str, ...] = (kind, str(folder.resolve()), str(device))
    extra: dict[str, Any] = {}
    if lora is not None:
        from avgen.finetune import adapter_id

        key += (adapter_id(lora),)
        extra["lora"] = lora
    if model is not None and _is_avgen_export(folder):  # `avgen export audio` wrote it
        from avgen.export import load_exported

        cls = type("ExportedAvgenAudio", (), {"from_pretrained": staticmethod(load_exported)})
        _ignored_gpu_options(kind, options)
    elif model is not None and is_diffusers_folder(folder):
        cls = _diffusers_adapter(kind)
        key += tuple(f"{k}={v}" for k, v in sorted(options.items()))
        extra.update(options)
    else:
        _ignored_gpu_options(kind, options)
    if key not in _PIPELINES:
        try:
            _PIPELINES[key] = cls.from_pretrained(model, device=device, **extra)
        except (RuntimeError, AssertionError) as exc:  # e.g. an unavailable device
            raise AvgenError(f"cannot load the {kind} model on device {device!r}: {exc}.") from exc
    return _PIPELINES[key]


def audio_pipeline(
    model: str | Path | None = None,
    device: str = "cpu",
    lora: str | Path | None = None,
    **options: Any,
) -> Any:
    """The text-to-audio pipeline of ``model`` (default: the shipped one), loaded once; with
    ``lora`` an adapter folder (``avgen finetune audio``) merged into its denoiser. A diffusers
    folder (AudioLDM, AudioLDM 2, Stable Audio) loads ``DiffusersAudioPipeline`` with
    ``options`` (dtype, cpu_offload, vae_slicing, vae_tiling)."""
    from avgen.pipelines.text_to_audio import TextToAudioPipeline, default_audio_model_dir

    return _cached_pipeline(
        "audio", TextToAudioPipeline, default_audio_model_dir(), model, device, lora, **options
    )


def text_to_audio(
    prompt: str,
    output: str | Path,
    *,
    negative_prompt: str | None = None,
    num_inference_steps: int | None = None,
    guidance_scale: float | None = None,
    audio_length_in_s: float | None = None,
    seed: int = 0,
    batch: int = 1,
    preview: bool = False,
    device: str = "cpu",
    dtype: str = "fp32",
    quiet: bool = False,
    init_audio: str | Path | None = None,
    strength: float = 0.6,
    inpaint: tuple[float, float] | None = None,
    super_resolution: float | None = None,
    **extra: Any,
) -> list[Path]:
    """Text to audio with the shipped AudioLDM-style model (or ``model=`` a local folder).

    Extra keywords: ``model`` (folder), ``candidates`` (N generated, the CLAP-best kept) and
    ``vocoder`` ("neural" or "griffin-lim"). A batch writes name_0 ... name_{N-1}; sample j
    uses seed + j and its sidecar records that seed with batch 1, so ``rerun`` replays it.
    ``init_audio`` (a file) + ``strength`` in (0, 1]: AudioLDM style transfer of that sound
    (its length sets the duration); ``inpaint=(start_s, end_s)`` regenerates only that range;
    ``super_resolution=cutoff_hz`` keeps its band below the cut-off and generates the band above.
    """
    import torch

    from avgen.media import write_audio, write_spectrogram_png
    from avgen.prompts import parse_prompt as _parse
    from avgen.sidecar import write_sidecar

    options = check_options(
        GenerationOptions(
            negative_prompt, seed, num_inference_steps, guidance_scale, audio_length_in_s,
            batch, preview, device, dtype, quiet, extra,
        )
    )  # fmt: skip
    unknown = sorted(set(extra) - set(AUDIO_EXTRA_KEYS))
    if unknown:
        raise AvgenError(f"text_to_audio got unknown option(s) {', '.join(unknown)}.")
    candidates = extra.get("candidates", 1)
    if candidates is None:
        candidates = 1
    if isinstance(candidates, bool) or not isinstance(candidates, int) or not 1 <= candidates <= 16:
        raise AvgenError(f"candidates must be a whole number from 1 to 16, got {candidates!r}.")
    vocoder = extra.get("vocoder")
    model = extra.get("model")
    prompt = check_prompt(prompt)
    duration, _ = resolve_duration(prompt, options.duration_s)
    init_wave = None
    if isinstance(strength, bool) or not isinstance(strength, (int, float)):
        raise AvgenError(f"strength must be a number in (0, 1], got {strength!r}.")
    if not 0.0 < float(strength) <= 1.0:
        raise AvgenError(f"strength must be in (0, 1], got {strength}.")
    if inpaint is not None:
        if init_audio is None:
            raise AvgenError("inpaint needs init_audio (the sound to keep outside the range).")
        if len(inpaint) != 2:
            raise AvgenError(f"inpaint must be (start_s, end_s), got {inpaint!r}.")
        inpaint = (float(inpaint[0]), float(inpaint[1]))
    if super_resolution is not None:
        from avgen.pipelines.text_to_audio import check_cutoff

        if init_audio is None:
            raise AvgenError("super_resolution needs init_audio (its band below the cut-off).")
        if inpaint is not None:
            raise AvgenError("super_resolution and inpaint cannot be combined: give one.")
        super_resolution = check_cutoff(super_resolution)
    if init_audio is not None:
        from avgen.media import read_audio

        try:
            init_wave, _ = read_audio(init_audio, sr=16000)
        except AvgenError:
            raise
        except Exception as exc:
            raise AvgenError(f"init audio '{init_audio}' is not a readable audio file.") from exc
        if init_wave.size == 0:
            raise AvgenError(f"init audio '{init_audio}' holds no samples.")
        duration = init_wave.shape[0] / 16000
        if inpaint is not None and not 0.0 <= inpaint[0] < inpaint[1] <= duration:
            raise AvgenError(
                f"inpaint range ({inpaint[0]:g}, {inpaint[1]:g}) must satisfy "
                f"0 <= start < end <= {duration:.2f} (the input's duration in seconds)."
            )
    check_range("audio", duration, AUDIO_DURATION_RANGE)
    output = check_output(output, (".wav", ".flac", ".ogg", ".mp3"))
    lora = extra.get("lora")
    if lora is not None and not isinstance(lora, str | Path):
        raise AvgenError(f"lora must be an adapter folder path, got {lora!r}.")
    gpu = gpu_options(extra)
    pipe = audio_pipeline(model, device, lora, dtype=dtype, **gpu)
    steps = int(num_inference_steps or pipe.config["num_inference_steps"])
    guidance = float(pipe.config["guidance_scale"] if guidance_scale is None else guidance_scale)
    vocoder = vocoder or str(pipe.config["vocoder"])
    pipe.check_inputs(prompt, steps, guidance, duration, candidates, vocoder)
    parsed = _parse(prompt).to_dict()
    written: list[Path] = []
    for j, path in enumerate(output_paths(output, 1, batch)[0]):
        generator = torch.Generator().manual_seed(seed + j)
        result = _run_with_progress(
            pipe,
            steps * len(pipe.window_plan(duration)),
            desc="audio",
            quiet=quiet,
            device=device,
            dtype=dtype,
            prompt=prompt,
            negative_prompt=negative_prompt,
            num_inference_steps=steps,
            guidance_scale=guidance,
            audio_length_in_s=duration,
            generator=generator,
            num_candidates=candidates,
            vocoder=vocoder,
            init_audio=init_wave,
            strength=float(strength),
            inpaint=inpaint,
            super_resolution=super_resolution,
        )
        write_audio(path, result.audio, result.sample_rate)
        if preview:
            write_spectrogram_png(
                path.with_name(path.name + ".png"), result.audio, result.sample_rate
            )
        settings: dict[str, Any] = {
            "negative_prompt": negative_prompt,
            "num_inference_steps": steps,
            "guidance_scale": guidance,
            "audio_length_in_s": duration,
            "batch": 1,
            "preview": preview,
            "device": device,
            "dtype": dtype,
            "candidates": candidates,
            "vocoder": vocoder,
            **gpu,
        }
        if model is not None:
            settings["model"] = str(model)
        if lora is not None:
            settings["lora"] = str(lora)
        if init_audio is not None:
            settings["init_audio"] = str(Path(init_audio).resolve())
            settings["strength"] = float(strength)
            settings["inpaint"] = None if inpaint is None else list(inpaint)
            settings["super_resolution"] = super_resolution
        write_sidecar(
            path,
            command="audio",
            prompt=prompt,
            seed=seed + j,
            settings=settings,
            model_id=pipe.model_id,
            parsed=parsed,
            extra={"clap_scores": result.clap_scores, "tempo_bpm": result.settings["tempo_bpm"]},
        )
        written.append(path)
    return written


VIDEO_EXTRA_KEYS = (
    "model", "width", "height", "fps", "upscale", "init_image", "extend",
) + GPU_EXTRA_KEYS  # fmt: skip
DEFAULT_UPSCALE = 256


def video_pipeline(model: str | Path | None = None, device: str = "cpu", **options: Any) -> Any:
    """The text-to-video pipeline of ``model`` (default: the shipped one), loaded once. A
    diffusers folder loads ``DiffusersVideoPipeline`` with ``options`` (dtype, cpu_offload,
    vae_slicing, vae_tiling)."""
    from avgen.pipelines.text_to_video import TextToVideoPipeline, default_video_model_dir

    return _cached_pipeline(
        "video", TextToVideoPipeline, default_video_model_dir(), model, device, **options
    )


def text_to_video(
    prompt: str,
    output: str | Path,
    *,
    negative_prompt: str | None = None,
    num_inference_steps: int | None = None,
    guidance_scale: float | None = None,
    duration_s: float | None = None,
    num_frames: int | None = None,
    seed: int = 0,
    batch: int = 1,
    preview: bool = False,
    device: str = "cpu",
    dtype: str = "fp32",
    quiet: bool = False,
    **extra: Any,
) -> list[Path]:
    """Text to video with the shipped space-time DiT (or ``model=`` a local folder: avgen's
    own, or a diffusers Wan / LTX-Video / CogVideoX folder with its model_index.json).

    Extra keywords: ``model`` (folder), ``width`` / ``height`` (native pixels, default: the
    model's, 64 for avgen's; off-grid sizes are rounded with a warning), ``fps`` (default:
    the model's, 8 for avgen's), ``cpu_offload`` / ``vae_slicing`` / ``vae_tiling`` (diffusers
    folders), ``upscale`` (short side of the written MP4, default 256; the model works at
    its native size), ``init_image`` (file: the first frame), ``extend`` (an MP4 to
    continue; the output holds it first).
    A batch writes name_0 ... name_{N-1}; sample j uses seed + j and its sidecar records that
    seed with batch 1, so ``rerun`` replays it. ``preview`` also writes ``<output>.gif`` and a
    contact sheet ``<output>.png``.
    """
    import torch

    from avgen.media import upscale_frames, write_contact_sheet, write_gif, write_mp4
    from avgen.prompts import parse_prompt as _parse
    from avgen.sidecar import write_sidecar

    options = check_options(
        GenerationOptions(
            negative_prompt, seed, num_inference_steps, guidance_scale, duration_s,
            batch, preview, device, dtype, quiet, extra,
        )
    )  # fmt: skip
    unknown = sorted(set(extra) - set(VIDEO_EXTRA_KEYS))
    if unknown:
        raise AvgenError(f"text_to_video got unknown option(s) {', '.join(unknown)}.")
    model = extra.get("model")
    width, height, fps = extra.get("width"), extra.get("height"), extra.get("fps")
    upscale = extra.get("upscale")
    upscale = DEFAULT_UPSCALE if upscale is None else upscale
    init_image, extend = extra.get("init_image"), extra.get("extend")
    if isinstance(upscale, bool) or not isinstance(upscale, int) or not 0 <= upscale <= 4096:
        raise AvgenError(
            f"upscale must be a whole number of pixels from 0 to 4096, got {upscale!r}."
        )
    if fps is not None and (
        isinstance(fps, bool) or not isinstance(fps, int) or not 1 <= fps <= 30
    ):
        raise AvgenError(f"fps must be a whole number from 1 to 30, got {fps!r}.")
    prompt = check_prompt(prompt)
    duration = None
    if num_frames is None:
        duration, _ = resolve_duration(prompt, options.duration_s)
        check_range("video", duration, VIDEO_DURATION_RANGE)
    elif isinstance(num_frames, bool) or not isinstance(num_frames, int):
        raise AvgenError(f"num_frames must be a whole number, got {num_frames!r}.")
    output = check_output(output, (".mp4",))
    gpu = gpu_options(extra)
    pipe = video_pipeline(model, device, dtype=dtype, **gpu)
    # unset size / fps: the model's own (avgen's: 64x64 at 8 fps; diffusers: the family's)
    native = pipe.config.get("native_size", 64)
    width = int(pipe.config.get("width", native)) if width is None else width
    height = int(pipe.config.get("height", native)) if height is None else height
    fps = int(pipe.config.get("fps", 8)) if fps is None else fps
    if num_frames is None:
        num_frames = max(1, round(duration * fps))
        if hasattr(pipe, "snap_frames"):  # a duration is approximate: the model's nearest count
            num_frames = pipe.snap_frames(num_frames, warn=False)
    steps = int(num_inference_steps or pipe.config["num_inference_steps"])
    guidance = float(pipe.config["guidance_scale"] if guidance_scale is None else guidance_scale)
    pipe.check_inputs(prompt, steps, guidance, num_frames, fps)
    width, height = pipe.snap_size(width, height)
    source = None
    if extend is not None:  # read once, before any work: a bad file fails here
        from avgen.pipelines.text_to_video import load_video

        source, _ = load_video(extend, width, height)
    image = None
    if init_image is not None:
        from avgen.pipelines.text_to_video import load_image

        image = load_image(init_image, width, height)
    parsed = _parse(prompt).to_dict()
    written: list[Path] = []
    for j, path in enumerate(output_paths(output, 1, batch)[0]):
        generator = torch.Generator().manual_seed(seed + j)
        result = _run_with_progress(
            pipe,
            steps * len(pipe.window_plan(num_frames, has_context=source is not None)),
            desc="video",
            quiet=quiet,
            device=device,
            dtype=dtype,
            prompt=prompt,
            negative_prompt=negative_prompt,
            num_inference_steps=steps,
            guidance_scale=guidance,
            num_frames=num_frames,
            width=width,
            height=height,
            fps=fps,
            generator=generator,
            init_image=image,
            extend_video=source,
        )
        frames = upscale_frames(result.frames, upscale) if upscale else result.frames
        write_mp4(path, frames, fps)
        if preview:
            write_gif(path.with_name(path.name + ".gif"), frames, fps)
            write_contact_sheet(path.with_name(path.name + ".png"), frames, max_frames=16)
        settings: dict[str, Any] = {
            "negative_prompt": negative_prompt,
            "num_inference_steps": steps,
            "guidance_scale": guidance,
            "duration_s": duration_s,
            "num_frames": num_frames,
            "batch": 1,
            "preview": preview,
            "device": device,
            "dtype": dtype,
            "width": width,
            "height": height,
            "fps": fps,
            "upscale": upscale,
            **gpu,
        }
        for key, value in (("model", model), ("init_image", init_image), ("extend", extend)):
            if value is not None:
                settings[key] = str(value)
        write_sidecar(
            path,
            command="video",
            prompt=prompt,
            seed=seed + j,
            settings=settings,
            model_id=pipe.model_id,
            parsed=parsed,
            extra={"windows": result.settings["windows"], "joins": result.joins},
        )
        written.append(path)
    return written


def text_to_audio_video(prompt: str, output: str | Path, **kwargs: Any) -> list[Path]:
    """Generated sound and generated video in one synced MP4."""
    check_options(
        GenerationOptions(
            **{k: v for k, v in kwargs.items() if k in GenerationOptions.__dataclass_fields__}
        )
    )
    prompt = check_prompt(prompt)
    duration, _ = resolve_duration(prompt, kwargs.get("duration_s"))
    check_range("video", duration, VIDEO_DURATION_RANGE)
    check_output(output, (".mp4",))
    raise _not_available("audio+video generation", "it needs the audio and video models")


def story(prompts: list[str], output: str | Path, **kwargs: Any) -> list[Path]:
    """A sequence of prompts over time, one shot each, the same subject across shots."""
    if not prompts:
        raise AvgenError("a story needs at least one prompt.")
    for p in prompts:
        check_prompt(p)
    check_output(output, (".mp4",))
    raise _not_available("story generation", "it needs the video model")


# ----------------------------------------------------------------------------- worlds, demo


def render_demo(
    output: str | Path = "out/demo.mp4", *, seed: int = 7, upscale: int = 256, quiet: bool = False
) -> Path:
    """Render an AVWorld example clip with sound to an MP4 (the main job until models ship)."""
    from avgen.media import upscale_frames, write_mp4
    from avgen.sidecar import write_sidecar
    from avgen.worlds.av import render_av_clip

    output = check_output(output, (".mp4",))
    clip = render_av_clip(seed)
    frames = upscale_frames(clip.frames, upscale)
    write_mp4(output, frames, clip.fps, audio=clip.audio, sr=clip.sr)
    write_sidecar(
        output,
        command="demo",
        prompt=clip.captions[-1],
        seed=seed,
        settings={"upscale": upscale},
        model_id="avworld",
        extra={"truth_events": clip.truth.get("events", [])},
    )
    return output


def parse_prompt(text: str) -> dict[str, Any]:
    """The parsed prompt as a JSON-ready dict (duration, tempo, objects, instruments, ...)."""
    from avgen.prompts import parse_prompt as _parse

    return _parse(check_prompt(text)).to_dict()


def lint_prompt(text: str, *, kind: str | None = None, model: str | Path | None = None) -> Any:
    """Missing layers, a more specific suggestion, and words the model never learned."""
    from avgen.prompts import lint_prompt as _lint

    return _lint(check_prompt(text), kind=kind, model_dir=model)


def make_world_dataset(kind: str, count: int, out: str | Path, **kwargs: Any) -> Path:
    """Render a SoundWorld / MotionWorld / AVWorld data set (AudioFolder/VideoFolder layout)."""
    from avgen.worlds.dataset import write_world_dataset

    return write_world_dataset(kind, count, out, **kwargs)


def check_file(path: str | Path, prompt: str) -> dict[str, Any]:
    """Run the analytic checkers on a generated file against its prompt."""
    from avgen.worlds.checks import check_file as _check

    return _check(path, check_prompt(prompt))


def rerun(sidecar: str | Path, output: str | Path | None = None) -> list[Path]:
    """Regenerate an output from its sidecar JSON (to ``output`` or the recorded name)."""
    from avgen.sidecar import read_sidecar

    record = read_sidecar(sidecar)
    target = Path(output) if output else Path(sidecar).with_name(record["output"])
    command = record["command"]
    settings = dict(record["settings"])
    if command == "demo":
        return [render_demo(target, seed=record["seed"], quiet=True, **settings)]
    generators = {"audio": text_to_audio, "video": text_to_video, "av": text_to_audio_video}
    if command not in generators:
        raise AvgenError(f"{sidecar} records command {command!r}, which rerun cannot replay.")
    return generators[command](record["prompt"], target, seed=record["seed"], **settings)
