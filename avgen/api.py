"""avgen's Python entry points: the CLI and the web app call these and nothing else.

Argument names follow diffusers (``prompt``, ``negative_prompt``, ``num_inference_steps``,
``guidance_scale``, ``num_frames``, ``audio_length_in_s``) so a diffusers user reads them
without a manual. Every function that writes files writes them atomically and leaves a
``<output>.json`` sidecar that ``rerun`` can replay.

``text_to_audio`` and ``text_to_video`` check the settings the API owns (prompt, duration,
batch, dtype, device, seed, output), load the pipeline once (``audio_pipeline`` /
``video_pipeline``: avgen's own folders, exported folders, diffusers folders) and hand the rest
to the one generate path in ``avgen.generate``: the pipeline's ``check_inputs`` checks the
inputs once against the range table of ``avgen.pipelines.checks``, ``write_batch`` writes every
output, its previews and its sidecar.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from avgen.errors import AvgenError
from avgen.pipelines.checks import RANGES, check_frames, check_range
from avgen.ranges import spell

if TYPE_CHECKING:
    from avgen.pipelines.base import AudioPipeline, VideoPipeline

DEFAULT_DURATION_S = 4.0
MAX_DURATION_S = RANGES["duration"].high
DTYPES = ("fp32", "fp16", "bf16")
AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".mp3")
VIDEO_SUFFIXES = (".mp4",)


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
    if prompt is not None and not isinstance(prompt, str):
        raise AvgenError(f"the prompt must be text (a string), got {type(prompt).__name__}.")
    if prompt is None or not prompt.strip():
        raise AvgenError("the prompt is empty: describe the sound or video you want.")
    prompt = prompt.strip()
    if len(prompt) > 2000:
        raise AvgenError(f"the prompt is {len(prompt)} characters long; the limit is 2000.")
    return prompt


def check_duration(seconds: float | None) -> float | None:
    """The shared duration check: (0, 600] seconds. Each model then checks its own range."""
    if seconds is None:
        return None
    if isinstance(seconds, bool) or not isinstance(seconds, int | float):
        try:
            seconds = float(seconds)
        except (TypeError, ValueError):
            shown = spell(seconds)
            raise AvgenError(f"duration must be a number of seconds, got {shown}.") from None
    return float(check_range("duration", seconds))  # an int of any size: the range sentence


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
    """Validate the settings the API itself uses (duration, batch, dtype, device, seed); raise
    AvgenError naming the first bad one. Steps and guidance are checked here for their type and
    the shared range; every model-specific range is the pipeline's ``check_inputs``."""
    check_duration(options.duration_s)
    if options.num_inference_steps is not None:
        check_range("steps", options.num_inference_steps)
    if options.guidance_scale is not None:
        check_range("guidance", options.guidance_scale)
    for key in ("model", "lora", "init_image", "extend", "init_audio"):
        check_path(key, options.extra.get(key))
    if options.negative_prompt is not None and not isinstance(options.negative_prompt, str):
        shown = spell(options.negative_prompt)
        raise AvgenError(f"negative_prompt must be text (a string), got {shown}.")
    for key in ("preview", "quiet"):
        if not isinstance(getattr(options, key), bool):
            raise AvgenError(f"{key} must be True or False, got {spell(getattr(options, key))}.")
    check_range("batch", options.batch)
    if options.dtype not in DTYPES:
        raise AvgenError(f"dtype must be one of {', '.join(DTYPES)}, got {options.dtype!r}.")
    check_device(options.device)
    check_range("seed", options.seed)
    return options


def check_path(name: str, value: Any, *, required: bool = False) -> None:
    """``value`` is a path (str or Path), or None unless ``required``; else one sentence
    naming ``name``."""
    if (required or value is not None) and not isinstance(value, str | Path):
        raise AvgenError(f"{name} must be a file or folder path, got {spell(value)}.")


def resolve_duration(prompt: str, flag: float | None) -> tuple[float, str]:
    """Duration from the flag, else the prompt ("for 10 seconds"), else 4 s; with its source."""
    if flag is not None:
        return float(check_duration(flag)), "flag"
    from avgen.prompts import parse_prompt

    parsed = parse_prompt(prompt, read=False).duration_s
    if parsed is not None:
        return float(check_duration(parsed)), "prompt"
    return DEFAULT_DURATION_S, "default"


def check_prompt_tempo(prompt: str) -> float | None:
    """The prompt's tempo ("at 120 BPM") checked against the tempo range, or None."""
    from avgen.prompts import parse_prompt

    tempo = parse_prompt(prompt, read=False).tempo_bpm
    if tempo is not None:
        check_range("tempo", tempo, label="the prompt's tempo")
    return tempo


def own_model(pipe: Any) -> bool:
    """Whether ``pipe`` is one of avgen's own models (trained on the worlds' captions), not a
    diffusers folder (which reads prompts as people write them and gets them unchanged)."""
    return not type(pipe).__module__.startswith("avgen.pipelines.diffusers")


def text_condition(pipe: Any, prompt: str, rewrite: bool) -> tuple[str, dict[str, Any]]:
    """The text condition ``pipe`` gets for ``prompt`` and the sidecar's record of it.

    avgen's own models get the canonical rewrite (``ParsedPrompt.rewritten``: the prompt in the
    words they were trained on) unless ``rewrite`` is False; diffusers folders always get the
    prompt unchanged. A prompt with no recognised word is passed as written (it generates
    from the text alone) and the record says that nothing was recognised."""
    if not isinstance(rewrite, bool):
        raise AvgenError(f"rewrite must be True or False, got {spell(rewrite)}.")
    from avgen.prompts import parse_prompt as _parse

    parsed = _parse(prompt)
    applied = rewrite and own_model(pipe) and parsed.recognised
    condition = parsed.rewritten if applied else prompt
    record: dict[str, Any] = {
        "rewritten_prompt": condition if applied else None,
        "text_condition": condition,
        "prompt_recognised": parsed.recognised,
    }
    if not parsed.recognised:
        record["prompt_note"] = (
            "nothing in the prompt was recognised; generated from the text alone"
        )
    elif not own_model(pipe):
        record["prompt_note"] = "a diffusers model: the prompt is passed unchanged"
    return condition, record


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


#: Bytes of a file name kept free for the names made from an output's (``.<name>.tmp-<hex>``,
#: ``<name>.json``, ``<name>.png``).
_NAME_RESERVE = 32


def check_output(path: str | Path, allowed_suffixes: tuple[str, ...]) -> Path:
    """The output must have an allowed extension and a writable folder."""
    from avgen.media import check_writable

    if not isinstance(path, str | Path):
        raise AvgenError(f"output must be a file path, got {spell(path)}.")
    if "\0" in str(path):
        raise AvgenError(
            f"output {spell(str(path))} holds a NUL character, which no file name can."
        )
    path = Path(path)
    try:
        name_max = os.pathconf(path.parent if path.parent.exists() else ".", "PC_NAME_MAX")
    except (OSError, ValueError, AttributeError):
        name_max = 255
    longest = name_max - _NAME_RESERVE
    if len(os.fsencode(path.name)) > longest:
        raise AvgenError(
            f"output name {spell(path.name)} is {len(os.fsencode(path.name))} bytes long; at "
            f"most {longest} fit with its sidecar and temporary names."
        )
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


def check_new_outputs(
    command: str, paths: list[Path], *, preview: bool = False, overwrite: bool = False
) -> list[Path]:
    """Every file a run of ``command`` will write for the outputs ``paths`` (the outputs, their
    previews and sidecars: ``avgen.generate.run_files``), checked before any work: none twice
    and, without ``overwrite``, none that exists (OutputExistsError naming it). At publish time
    each is checked again (``avgen.files.publish``), for one that appears while generating."""
    from avgen.files import check_new
    from avgen.generate import run_files

    files = [f for path in paths for f in run_files(command, Path(path), preview)]
    return check_new(files, overwrite=overwrite)


# ----------------------------------------------------------------------------- loading


_PIPELINES: dict[tuple[str, ...], Any] = {}
# GPU switches for diffusers model folders (audio and video alike); avgen's own models ignore them
GPU_EXTRA_KEYS = ("cpu_offload", "vae_slicing", "vae_tiling")
AUDIO_EXTRA_KEYS = ("model", "candidates", "vocoder", "lora") + GPU_EXTRA_KEYS
VIDEO_EXTRA_KEYS = (
    "model", "engine", "width", "height", "fps", "upscale", "init_image", "extend",
) + GPU_EXTRA_KEYS  # fmt: skip
DEFAULT_UPSCALE = 256


def gpu_options(extra: dict[str, Any]) -> dict[str, bool]:
    """``cpu_offload`` / ``vae_slicing`` / ``vae_tiling`` from a generator's extra keywords."""
    out = {}
    for key in GPU_EXTRA_KEYS:
        value = extra.get(key, False)
        if not isinstance(value, bool):
            raise AvgenError(f"{key} must be True or False, got {value!r}.")
        out[key] = value
    return out


def _check_extra(function: str, extra: dict[str, Any], allowed: tuple[str, ...]) -> None:
    unknown = sorted(set(extra) - set(allowed))
    if unknown:
        raise AvgenError(f"{function} got unknown option(s) {', '.join(unknown)}.")


def _folder_kind(folder: Path) -> str:
    """ "export" for a folder `avgen export audio` wrote (AvgenAudioPipeline), "diffusers" for
    another diffusers pipeline folder (model_index.json), else "avgen"."""
    from avgen.pipelines.diffusers_common import is_diffusers_folder, read_model_index

    if not is_diffusers_folder(folder):
        return "avgen"
    if read_model_index(folder).get("_class_name") == "AvgenAudioPipeline":
        return "export"
    return "diffusers"


def _loader(
    kind: str, folder_kind: str, folder: Path | None = None, engine: str | None = None
) -> Callable[..., Any]:
    """The ``from_pretrained``-style loader of a ``kind`` ("audio", "video") model folder; an
    avgen video folder loads the engine its pipeline.json names (``folder`` None: the shipped
    folder of ``engine``)."""
    if kind == "audio" and folder_kind == "export":
        from avgen.export import load_exported

        return load_exported
    if kind == "audio" and folder_kind == "diffusers":
        from avgen.pipelines.diffusers_audio import DiffusersAudioPipeline

        return DiffusersAudioPipeline.from_pretrained
    if kind == "audio":
        from avgen.pipelines.text_to_audio import TextToAudioPipeline

        return TextToAudioPipeline.from_pretrained
    if folder_kind != "avgen":
        from avgen.pipelines.diffusers_video import DiffusersVideoPipeline

        return DiffusersVideoPipeline.from_pretrained
    from avgen.pipelines.engines import DEFAULT_ENGINE, engine_loader, folder_engine

    return engine_loader(folder_engine(folder) if folder else engine or DEFAULT_ENGINE)


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
    default_dir: Path,
    model: Any,
    device: str,
    lora: Any = None,
    engine: str | None = None,
    **options: Any,
) -> Any:
    """Load the ``kind`` model ``model`` (default: the shipped folder) once per folder, device
    and LoRA adapter (its path and a hash of its weights, so a retrained adapter reloads).

    A folder with a ``model_index.json`` is a diffusers pipeline: it is loaded by the
    diffusers adapter with ``options`` (dtype, cpu_offload, vae_slicing, vae_tiling), which
    are then part of the cache key; avgen's own models and exported folders ignore the GPU
    switches (a warning)."""
    folder = Path(model) if model is not None else default_dir
    key: tuple[str, ...] = (kind, str(folder.resolve()), str(device))
    extra: dict[str, Any] = {}
    if lora is not None:
        from avgen.lora import adapter_id

        key += (adapter_id(lora),)
        extra["lora"] = lora
    folder_kind = "avgen" if model is None else _folder_kind(folder)
    if folder_kind == "diffusers" or (kind == "video" and folder_kind == "export"):
        key += tuple(f"{k}={v}" for k, v in sorted(options.items()))
        extra.update(options)
    else:
        _ignored_gpu_options(kind, options)
    if key not in _PIPELINES:
        try:
            loader = _loader(kind, folder_kind, None if model is None else folder, engine)
            _PIPELINES[key] = loader(model, device=device, **extra)
        except (RuntimeError, AssertionError) as exc:  # e.g. an unavailable device
            raise AvgenError(f"cannot load the {kind} model on device {device!r}: {exc}.") from exc
    return _PIPELINES[key]


def audio_pipeline(
    model: str | Path | None = None,
    device: str = "cpu",
    lora: str | Path | None = None,
    **options: Any,
) -> AudioPipeline:
    """The text-to-audio pipeline of ``model`` (default: the shipped one), loaded once; with
    ``lora`` an adapter folder (``avgen finetune audio``) merged into its denoiser. A diffusers
    folder (AudioLDM, AudioLDM 2, Stable Audio) loads ``DiffusersAudioPipeline`` with
    ``options`` (dtype, cpu_offload, vae_slicing, vae_tiling); a folder ``avgen export audio``
    wrote loads as avgen's own ``TextToAudioPipeline`` (``avgen.export.load_exported``)."""
    from avgen.pipelines.text_to_audio import default_audio_model_dir

    return _cached_pipeline("audio", default_audio_model_dir(), model, device, lora, **options)


def video_pipeline(
    model: str | Path | None = None,
    device: str = "cpu",
    engine: str | None = None,
    **options: Any,
) -> VideoPipeline:
    """The text-to-video pipeline of ``model`` (default: the shipped folder of ``engine``,
    "dit" unless given; ``avgen.pipelines.engines``), loaded once. An avgen folder loads the
    engine its pipeline.json names; a diffusers folder loads ``DiffusersVideoPipeline`` with
    ``options`` (dtype, cpu_offload, vae_slicing, vae_tiling). ``engine`` with ``model`` is an
    error (the engine names a shipped folder)."""
    from avgen.pipelines.engines import DEFAULT_ENGINE, check_engine, engine_model_dir

    if engine is not None and model is not None:
        raise AvgenError(
            "--engine and --model exclude each other: --engine names a shipped model folder "
            "and a folder's own pipeline.json names its engine, so give one."
        )
    name = check_engine(DEFAULT_ENGINE if engine is None else engine)
    default_dir = engine_model_dir(name)
    return _cached_pipeline("video", default_dir, model, device, engine=name, **options)


# ----------------------------------------------------------------------------- generators


def _read_init_audio(init_audio: str | Path | None) -> Any:
    """The input sound of audio-to-audio as a 16 kHz mono waveform (T,), or None."""
    if init_audio is None:
        return None
    from avgen.media import read_audio

    try:
        wave, _ = read_audio(init_audio, sr=16000)
    except AvgenError:
        raise
    except Exception as exc:
        raise AvgenError(f"init audio '{init_audio}' is not a readable audio file.") from exc
    if wave.size == 0:
        raise AvgenError(f"init audio '{init_audio}' holds no samples.")
    return wave


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
    plan: Any = None,
    melody: str | Path | None = None,
    melody_track: int | None = None,
    rewrite: bool = True,
    overwrite: bool = False,
    check_only: bool = False,
    progress: Callable[[int, int], None] | None = None,
    **extra: Any,
) -> list[Path]:
    """Text to audio with the shipped AudioLDM-style model (or ``model=`` a local folder).

    Note plans ("plan, then render"; models whose denoiser reads them): by default the composer
    plans the notes from the prompt and ``seed`` (a prompt with nothing to play runs text-only);
    ``plan=`` a plan (dict, ``NotePlan`` or JSON file path) or ``melody=`` a MIDI file
    (``melody_track`` picks its melodic track) gives the notes instead; ``plan=False`` generates
    from the text alone. A plan's duration is the default duration; a different ``--duration``
    (or prompt duration) is an error. A batch reuses one plan with seeds seed + j.

    ``rewrite`` (default True): avgen's own models get the prompt rewritten into the words they
    were trained on (``text_condition``; the sidecar records both); diffusers folders never.

    Extra keywords: ``model`` (folder), ``candidates`` (N generated, the CLAP-best kept) and
    ``vocoder`` ("neural" or "griffin-lim"). A batch writes name_0 ... name_{N-1}; sample j
    uses seed + j and its sidecar records that seed with batch 1, so ``rerun`` replays it.
    ``init_audio`` (a file) + ``strength`` in (0, 1]: AudioLDM style transfer of that sound
    (its length sets the duration); ``inpaint=(start_s, end_s)`` regenerates only that range;
    ``super_resolution=cutoff_hz`` keeps its band below the cut-off and generates the band above.
    An output, preview or sidecar that exists is refused (OutputExistsError) before any work,
    and again if it appears while generating, unless ``overwrite``.
    ``check_only``: check everything (the model loaded, its ``check_inputs`` run) and write
    nothing; returns [] (the CLI checks every line of a prompts file this way first).
    ``progress(step, total)`` hears every sampler step of the whole batch (an exception it
    raises stops the run and writes nothing).
    """
    from avgen.generate import audio_job, write_batch

    options = check_options(
        GenerationOptions(
            negative_prompt, seed, num_inference_steps, guidance_scale, audio_length_in_s,
            batch, preview, device, dtype, quiet, extra,
        )
    )  # fmt: skip
    _check_extra("text_to_audio", extra, AUDIO_EXTRA_KEYS)
    prompt = check_prompt(prompt)
    duration, duration_source = resolve_duration(prompt, audio_length_in_s)
    check_prompt_tempo(prompt)
    check_path("init_audio", init_audio)
    check_range("strength", strength)
    init_wave = _read_init_audio(init_audio)
    output = check_output(output, AUDIO_SUFFIXES)
    paths = output_paths(output, 1, batch)[0]
    check_new_outputs("audio", paths, preview=preview, overwrite=overwrite)
    lora = extra.get("lora")
    if lora is not None and not isinstance(lora, str | Path):
        raise AvgenError(f"lora must be an adapter folder path, got {lora!r}.")
    extra = {**extra, **gpu_options(extra)}
    gpu = {k: extra[k] for k in GPU_EXTRA_KEYS}
    pipe = audio_pipeline(extra.get("model"), device, lora, dtype=dtype, **gpu)
    explicit = None if duration_source == "default" else duration
    if init_wave is not None:
        explicit = len(init_wave) / 16000.0
    note_plan = resolve_note_plan(
        getattr(pipe, "follows_plans", False),
        prompt,
        plan,
        melody,
        melody_track,
        explicit,
        explicit if explicit is not None else duration,
        seed,
    )
    if note_plan.plan is not None and explicit is None:
        duration = note_plan.plan.duration_s
    edit = dict(init_audio=init_audio, strength=strength, inpaint=inpaint,
                super_resolution=super_resolution)  # fmt: skip
    job = audio_job(pipe, prompt, options, duration, init_wave, edit, extra, note_plan)
    job.condition, job.condition_record = text_condition(pipe, prompt, rewrite)
    job.settings["rewrite"] = rewrite
    if check_only:
        return []
    return write_batch(
        pipe,
        job,
        paths,
        seed=seed,
        quiet=quiet,
        device=device,
        dtype=dtype,
        overwrite=overwrite,
        progress=progress,
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
    plan: Any = None,
    rewrite: bool = True,
    overwrite: bool = False,
    check_only: bool = False,
    progress: Callable[[int, int], None] | None = None,
    **extra: Any,
) -> list[Path]:
    """Text to video with the shipped space-time DiT (or ``model=`` a local folder: avgen's
    own, or a diffusers Wan / LTX-Video / CogVideoX folder with its model_index.json).

    ``rewrite`` (default True): as in ``text_to_audio``.

    Extra keywords: ``model`` (folder; its pipeline.json names the engine), ``engine`` (the
    shipped folder of an engine: "dit", the default, or "phenaki"; not with ``model``),
    ``width`` / ``height`` (native pixels, default: the
    model's, 64 for avgen's; off-grid sizes are rounded with a warning), ``fps`` (default:
    the model's, 8 for avgen's), ``cpu_offload`` / ``vae_slicing`` / ``vae_tiling`` (diffusers
    folders), ``upscale`` (short side of the written MP4, default 256; the model works at
    its native size), ``init_image`` (file: the first frame), ``extend`` (an MP4 to
    continue; the output holds it first).
    A batch writes name_0 ... name_{N-1}; sample j uses seed + j and its sidecar records that
    seed with batch 1, so ``rerun`` replays it. ``preview`` also writes ``<output>.gif`` and a
    contact sheet ``<output>.png`` (with the motion plan's trajectories drawn on it). An output,
    preview or sidecar that exists is refused (OutputExistsError) before any work, and again if
    it appears while generating, unless ``overwrite``. ``check_only``: check everything and
    write nothing ([]). ``progress(step, total)`` as in ``text_to_audio``.

    Motion plans ("plan, then render"; models whose DiT reads them): by default the planner
    simulates the prompt's objects from ``seed`` (a prompt with nothing to move runs text-only,
    as does a model without a layout input, and the sidecar says so); ``plan=`` a plan (dict,
    ``MotionPlan`` or JSON file path) gives the motion instead; ``plan=False`` generates from
    the text alone. A plan's duration is the default duration; a different ``duration_s`` /
    ``num_frames`` (or prompt duration) is an error. A batch reuses one plan with seeds seed + j;
    ``init_image`` and ``extend`` apply the plan to the new frames.
    """
    from avgen.generate import video_grid, video_job, write_batch

    options = check_options(
        GenerationOptions(
            negative_prompt, seed, num_inference_steps, guidance_scale, duration_s,
            batch, preview, device, dtype, quiet, extra,
        )
    )  # fmt: skip
    _check_extra("text_to_video", extra, VIDEO_EXTRA_KEYS)
    upscale = DEFAULT_UPSCALE if extra.get("upscale") is None else extra["upscale"]
    check_range("upscale", upscale)
    prompt = check_prompt(prompt)
    duration, duration_source = resolve_duration(prompt, duration_s)
    if num_frames is not None:
        duration = None
    output = check_output(output, VIDEO_SUFFIXES)
    paths = output_paths(output, 1, batch)[0]
    check_new_outputs("video", paths, preview=preview, overwrite=overwrite)
    extra = {**extra, **gpu_options(extra)}
    gpu = {k: extra[k] for k in GPU_EXTRA_KEYS}
    pipe = video_pipeline(extra.get("model"), device, extra.get("engine"), dtype=dtype, **gpu)
    width, height, fps = video_grid(pipe, extra)
    check_frames(num_frames, fps)
    explicit = None if duration_source == "default" else duration
    if num_frames is not None:
        explicit = num_frames / fps
    motion_plan = resolve_motion_plan(
        getattr(pipe, "follows_plans", False),
        prompt,
        plan,
        explicit,
        explicit if explicit is not None else duration,
        seed,
        (fps, width, height),
    )
    if motion_plan.plan is not None and explicit is None:
        duration = motion_plan.plan.duration_s
    job = video_job(pipe, prompt, options, duration, num_frames, extra, upscale, motion_plan)
    job.condition, job.condition_record = text_condition(pipe, prompt, rewrite)
    job.settings["rewrite"] = rewrite
    if check_only:
        return []
    return write_batch(
        pipe,
        job,
        paths,
        seed=seed,
        quiet=quiet,
        device=device,
        dtype=dtype,
        overwrite=overwrite,
        progress=progress,
    )


# ----------------------------------------------------------------------------- stories

STORY_EXTRA_KEYS = ("model", "engine", "audio_model", "width", "height", "fps", "upscale")


def _story_input(
    prompts: Any, shots: Any, durations: Any, duration_s: float | None, subject: str | None
) -> Any:
    """The checked ``avgen.story.Story`` of a ``generate_story`` call."""
    from avgen import story as stories

    if isinstance(prompts, str):
        prompts = [prompts]
    if shots is not None:
        if prompts:
            raise AvgenError("give shot prompts or a shots file, not both.")
        if durations is not None or duration_s is not None:
            raise AvgenError(
                "a shots file gives each shot's duration_s; drop --duration and --durations."
            )
        if subject is not None:
            raise AvgenError("a shots file gives the subject; drop --subject.")
        if isinstance(shots, dict | list):
            return stories.Story.from_dict(shots)
        check_path("shots", shots)
        return stories.read_shots_file(shots)
    if not prompts:
        raise AvgenError("a story needs at least one shot: give prompts or a shots file.")
    if not isinstance(prompts, list | tuple):
        raise AvgenError(f"prompts must be a list of texts, got {spell(prompts)}.")
    if subject is not None:
        check_prompt(subject)
    return stories.story_from_prompts(list(prompts), durations, duration_s, subject=subject)


def generate_story(
    prompts: list[str] | str | None = None,
    output: str | Path = "out/story.mp4",
    *,
    shots: str | Path | dict | list | None = None,
    durations: list[float] | None = None,
    duration_s: float | None = None,
    subject: str | None = None,
    negative_prompt: str | None = None,
    num_inference_steps: int | None = None,
    guidance_scale: float | None = None,
    audio_steps: int | None = None,
    seed: int = 0,
    device: str = "cpu",
    dtype: str = "fp32",
    quiet: bool = False,
    overwrite: bool = False,
    progress: Callable[[int, int], None] | None = None,
    **extra: Any,
) -> list[Path]:
    """A story (docs/STORY.md): one continuous MP4 (H.264 + AAC) of several shots with its
    soundtrack and sidecar. ``prompts`` (one shot each) with ``durations`` (one per prompt) or
    ``duration_s`` (the whole story, shared equally) and an optional ``subject`` caption; or
    ``shots``: a shots file, or its JSON object. The subject, the motion plan and the picture
    carry on from shot to shot (``avgen.story``); frames are streamed to the encoder as each
    window finishes. At most ``avgen.story.MAX_STORY_SECONDS`` in all.

    Extra keywords: ``model`` (an avgen video model folder), ``engine`` (the shipped folder of
    an engine, "dit" or "phenaki"; not with ``model``), ``audio_model`` (a text-to-audio
    folder), ``width`` / ``height`` / ``fps`` (default: the model's), ``upscale`` (short side of
    the MP4, default 256). ``audio_steps``: the soundtrack's sampling steps (default: the audio
    model's). The sidecar records the shots, so ``rerun`` replays the file byte for byte."""
    import torch
    from tqdm import tqdm

    from avgen import story as stories
    from avgen.files import write_text
    from avgen.generate import video_grid
    from avgen.media import mp4_stream, upscale_frames
    from avgen.sidecar import sidecar_path, sidecar_text

    options = check_options(
        GenerationOptions(
            negative_prompt, seed, num_inference_steps, guidance_scale, None, 1, False,
            device, dtype, quiet, {k: v for k, v in extra.items() if k == "model"},
        )
    )  # fmt: skip
    _check_extra("generate_story", extra, STORY_EXTRA_KEYS)
    check_path("audio_model", extra.get("audio_model"))
    if audio_steps is not None:
        check_range("steps", audio_steps, label="audio_steps")
    upscale = DEFAULT_UPSCALE if extra.get("upscale") is None else extra["upscale"]
    check_range("upscale", upscale)
    story = _story_input(prompts, shots, durations, duration_s, subject)
    output = check_output(output, VIDEO_SUFFIXES)
    check_new_outputs("story", [output], overwrite=overwrite)
    pipe = video_pipeline(extra.get("model"), device, extra.get("engine"))
    if not getattr(pipe, "streams_frames", False):
        raise AvgenError(
            f"the video model {extra.get('model')} cannot continue shots; a story needs an avgen "
            "video model folder (the shipped one by default)."
        )
    width, height, fps = video_grid(pipe, extra)
    check_range("fps", fps)
    width, height = pipe.snap_size(width, height)
    steps = int(pipe.config["num_inference_steps"] if num_inference_steps is None
                else num_inference_steps)  # fmt: skip
    guidance = float(pipe.config["guidance_scale"] if guidance_scale is None else guidance_scale)
    shot_prompts = stories.carry_subject([s.prompt for s in story.shots], story.subject)
    counts = stories.shot_frames([s.duration_s for s in story.shots], fps)
    for number, (prompt, n) in enumerate(zip(shot_prompts, counts), 1):
        try:
            pipe.check_inputs(prompt, steps, guidance, n, fps)
        except AvgenError as exc:
            raise AvgenError(f"shot {number}: {exc}") from None
    plans = stories.plan_shots(shot_prompts, counts, fps, width, height, seed)
    audio = audio_pipeline(extra.get("audio_model"), device)
    sounds = stories.sound_prompts(story)
    amp = {"fp16": torch.float16, "bf16": torch.bfloat16}.get(dtype)
    autocast = torch.autocast(torch.device(device).type, dtype=amp, enabled=amp is not None)
    with autocast:
        wave, sr = stories.story_soundtrack(
            sounds, [n / fps for n in counts], audio, seed=seed,
            num_inference_steps=audio_steps,
        )  # fmt: skip
    settings: dict[str, Any] = {
        "shots": [s.to_dict() for s in story.shots],
        "subject": story.subject,
        "negative_prompt": negative_prompt,
        "num_inference_steps": steps,
        "guidance_scale": guidance,
        "audio_steps": audio_steps,
        "device": options.device,
        "dtype": options.dtype,
        "width": width,
        "height": height,
        "fps": fps,
        "upscale": upscale,
    }
    for key in ("model", "engine", "audio_model"):
        if extra.get(key) is not None:
            settings[key] = str(extra[key])
    total = sum(counts)
    with tqdm(total=1, desc="story", unit="step", disable=quiet, leave=False) as bar:

        def tick(i: int, n: int) -> None:
            bar.total = n
            bar.update(i - bar.n)
            if progress is not None:
                progress(i, n)

        def sink(frames: Any) -> None:
            write(upscale_frames(frames, upscale) if upscale else frames)

        with mp4_stream(output, fps, audio=wave, sr=sr, num_frames=total, overwrite=overwrite) \
                as write, autocast:  # fmt: skip
            made = stories.render_story(
                pipe, shot_prompts, counts, sink, seed=seed, width=width, height=height,
                fps=fps, num_inference_steps=steps, guidance_scale=guidance,
                negative_prompt=negative_prompt, plans=plans, callback=tick,
            )  # fmt: skip
            text = sidecar_text(  # made before the MP4 is published (a NaN fails first)
                output,
                command="story",
                prompt=" | ".join(shot_prompts),
                seed=seed,
                settings=settings,
                model_id=pipe.model_id,
                extra={
                    "duration_s": total / fps,
                    "shot_prompts": shot_prompts,
                    "sound_prompts": sounds,
                    "shot_starts": made.starts,
                    "num_frames": total,
                    "follows_plans": bool(getattr(pipe, "follows_plans", False)),
                    "engine": getattr(pipe, "engine", None),
                    "audio_model_id": audio.model_id,
                    "plans": [None if p is None else p.to_dict() for p in plans],
                },
            )
    write_text(sidecar_path(output), text, overwrite=overwrite)
    return [output]


# ----------------------------------------------------------------------------- worlds, demo


def render_demo(
    output: str | Path = "out/demo.mp4",
    *,
    seed: int = 7,
    upscale: int = 256,
    quiet: bool = False,
    overwrite: bool = False,
) -> Path:
    """Render an AVWorld example clip with sound to an MP4 (the main job until models ship);
    an existing output or sidecar is refused unless ``overwrite``."""
    from avgen.files import write_text
    from avgen.media import upscale_frames, write_mp4
    from avgen.sidecar import sidecar_path, sidecar_text
    from avgen.worlds.av import render_av_clip

    output = check_output(output, VIDEO_SUFFIXES)
    check_new_outputs("demo", [output], overwrite=overwrite)
    check_range("seed", seed)
    check_range("upscale", upscale)
    clip = render_av_clip(seed)
    frames = upscale_frames(clip.frames, upscale)
    text = sidecar_text(
        output,
        command="demo",
        prompt=clip.captions[-1],
        seed=seed,
        settings={"upscale": upscale},
        model_id="avworld",
        extra={"truth_events": clip.truth.get("events", [])},
    )
    write_mp4(output, frames, clip.fps, audio=clip.audio, sr=clip.sr, overwrite=overwrite)
    write_text(sidecar_path(output), text, overwrite=overwrite)
    return output


def parse_prompt(text: str, *, read: bool = True) -> dict[str, Any]:
    """The parsed prompt as a JSON-ready dict (duration, tempo, objects, instruments, ..., the
    phrases the reader matched and the canonical rewrite); ``read=False``: vocabulary only."""
    from avgen.prompts import parse_prompt as _parse

    if not isinstance(read, bool):
        raise AvgenError(f"read must be True or False, got {spell(read)}.")
    return _parse(check_prompt(text), read=read).to_dict()


def lint_prompt(text: str, *, kind: str | None = None, model: str | Path | None = None) -> Any:
    """Missing layers, a more specific suggestion, and words the model never learned."""
    from avgen.prompts import lint_prompt as _lint

    check_path("model", model)
    return _lint(check_prompt(text), kind=kind, model_dir=model)


def build_prompt(
    kind: str,
    *layers: str,
    duration_s: float | None = None,
    tempo_bpm: float | None = None,
) -> str:
    """A layered prompt: audio (mood, details [, duration_s, tempo_bpm]) or video (scene,
    motion, style), in the order the prompt guide gives."""
    from avgen import prompts

    if kind == "audio":
        mood, details = (list(layers) + ["", ""])[:2]
        return prompts.build_audio_prompt(mood, details, duration_s, tempo_bpm)
    if kind == "video":
        scene, motion, style = (list(layers) + ["", "", ""])[:3]
        return prompts.build_video_prompt(scene, motion, style)
    raise AvgenError(f"kind must be 'audio' or 'video', got {kind!r}.")


def serve(**options: Any) -> None:
    """Run the web app and HTTP API (``avgen.serve.run_server``; see ``avgen serve --help``)."""
    from avgen.serve import run_server

    run_server(**options)


def plan_audio(
    prompt: str | None = None,
    *,
    duration_s: float | None = None,
    seed: int = 0,
    melody: str | Path | None = None,
    melody_track: int | None = None,
) -> Any:
    """The note plan ``avgen audio`` would follow (``avgen.plan.NotePlan``): composed from the
    prompt, seeded, or the notes of the MIDI file ``melody``; None when the prompt names nothing
    to play (generation then runs from the text alone)."""
    from avgen import plan

    check_range("seed", seed)
    check_path("melody", melody)
    if melody is not None:
        flag = None if duration_s is None else check_duration(duration_s)
        return plan.notes_from_midi(melody, track=melody_track, duration_s=flag)
    prompt = check_prompt(prompt)
    duration, _ = resolve_duration(prompt, duration_s)
    check_range("audio duration", duration)
    check_prompt_tempo(prompt)
    from avgen.prompts import parse_prompt as _parse

    return plan.compose_notes(_parse(prompt), duration, seed=seed)


def plan_video(
    prompt: str,
    *,
    duration_s: float | None = None,
    seed: int = 0,
    fps: int = 8,
    width: int = 64,
    height: int = 64,
) -> Any:
    """The motion plan a video prompt gets (``avgen.plan.MotionPlan``): its objects simulated
    with MotionWorld's physics from start states drawn from ``seed``, ``fps`` frames a second
    for a ``width`` x ``height`` output; None when the prompt names nothing to move (generation
    then runs from the text alone). The duration is the flag's, else the prompt's, else 4 s."""
    from avgen import plan

    check_range("seed", seed)
    check_range("fps", fps)
    check_range("width", width)
    check_range("height", height)
    prompt = check_prompt(prompt)
    duration, _ = resolve_duration(prompt, duration_s)
    check_range("video duration", duration)
    from avgen.prompts import parse_prompt as _parse

    return plan.plan_motion(_parse(prompt), duration, seed, fps=fps, width=width, height=height)


def check_plan(source: str | Path | dict) -> Any:
    """Read and check a plan file (or dict) of any kind: the ``NotePlan`` or ``MotionPlan`` it
    holds; a ``PlanError`` sentence naming the first wrong field otherwise."""
    from avgen.plan import motion, notes, schema

    data = schema.read_json(source)
    kind = data.get("kind") if isinstance(data, dict) else None
    if kind == motion.KIND:
        return motion.MotionPlan.from_dict(data)
    return notes.NotePlan.from_dict(data)


@dataclass
class ResolvedPlan:
    """The plan a generation follows (or None) and what the sidecar says about it."""

    plan: Any  # avgen.plan.NotePlan | avgen.plan.MotionPlan | None
    source: str  # "composer", "midi", "planner", "given" (a plan), "off" (text only) or "none"
    note: str | None = None  # why there is no plan

    def setting(self) -> dict | bool | None:
        """The sidecar's ``settings["plan"]``: the plan itself (so rerun replays it), False when
        text only was asked for, None when there was none to follow."""
        if self.plan is not None:
            return self.plan.to_dict()
        return False if self.source == "off" else None

    def record(self) -> dict[str, Any]:
        """The sidecar's ``plan_source`` and ``plan_note``."""
        return {"plan_source": self.source, "plan_note": self.note}


def _check_plan_length(given: Any, explicit_s: float | None, tolerance_s: float) -> None:
    """A given plan must last the duration the user asked for (within ``tolerance_s``)."""
    if explicit_s is not None and abs(given.duration_s - explicit_s) > tolerance_s:
        raise AvgenError(
            f"the plan lasts {given.duration_s:g} s but {explicit_s:g} s were asked for; "
            "drop --duration (the plan's duration is used) or give a plan of that length."
        )


def resolve_note_plan(
    follows: bool,
    prompt: str,
    plan: Any,
    melody: str | Path | None,
    melody_track: int | None,
    explicit_s: float | None,
    duration_s: float,
    seed: int,
) -> ResolvedPlan:
    """The note plan of one generation: ``plan`` (dict, ``NotePlan`` or path; False = none),
    else the MIDI file ``melody``, else the composer's plan of ``prompt`` when the model
    ``follows`` plans. ``explicit_s``: a duration the user asked for (flag, prompt words or the
    init audio's length), which a given plan must match."""
    from avgen import plan as plans

    if melody_track is not None and melody is None:
        raise AvgenError("melody_track needs melody (a MIDI file).")
    if melody is not None and plan is not None:
        raise AvgenError("give a plan or a melody, not both: the melody is a plan.")
    if plan is False:
        return ResolvedPlan(None, "off", "text only was asked for")
    if melody is not None or plan is not None:
        if not follows:
            raise AvgenError(
                "this model does not follow note plans (its denoiser has no note input); "
                "drop --plan/--melody or use a model trained with plans."
            )
        if melody is not None:
            return ResolvedPlan(
                plans.notes_from_midi(melody, track=melody_track, duration_s=explicit_s), "midi"
            )
        given = plans.load_note_plan(plan)
        _check_plan_length(given, explicit_s, 0.05)
        return ResolvedPlan(given, "given")
    if not follows:
        return ResolvedPlan(None, "none", "the model does not follow note plans")
    from avgen.prompts import parse_prompt as _parse

    composed = plans.compose_notes(_parse(prompt), duration_s, seed=seed)
    if composed is None:
        return ResolvedPlan(None, "none", "the prompt names nothing to play")
    return ResolvedPlan(composed, "composer")


def resolve_motion_plan(
    follows: bool,
    prompt: str,
    plan: Any,
    explicit_s: float | None,
    duration_s: float,
    seed: int,
    grid: tuple[int, int, int],
) -> ResolvedPlan:
    """The motion plan of one video generation: ``plan`` (dict, ``MotionPlan`` or path;
    False = none), else the planner's plan of ``prompt`` (seeded by ``seed``, at ``grid`` =
    (fps, width, height)) when the model ``follows`` plans. ``explicit_s``: a duration the user
    asked for (flag, frame count or prompt words), which a given plan must match."""
    from avgen import plan as plans

    if plan is False:
        return ResolvedPlan(None, "off", "text only was asked for")
    fps, width, height = grid
    if plan is not None:
        if not follows:
            raise AvgenError(
                "this model does not follow motion plans (its DiT has no layout input); "
                "drop --plan or use a model trained with plans."
            )
        given = plans.load_motion_plan(plan)
        _check_plan_length(given, explicit_s, 0.5 / fps + 1e-9)
        return ResolvedPlan(given, "given")
    if not follows:
        return ResolvedPlan(None, "none", "the model does not follow motion plans")
    from avgen.prompts import parse_prompt as _parse

    check_range("video duration", duration_s)
    planned = plans.plan_motion(
        _parse(prompt), duration_s, seed, fps=fps, width=width, height=height
    )
    if planned is None:
        return ResolvedPlan(None, "none", "the prompt names nothing to move")
    return ResolvedPlan(planned, "planner")


def make_world_dataset(kind: str, count: int, out: str | Path, **kwargs: Any) -> Path:
    """Render a SoundWorld / MotionWorld / AVWorld data set (AudioFolder/VideoFolder layout)."""
    from avgen.worlds.dataset import write_world_dataset

    check_path("out", out, required=True)
    for key in ("instruments", "exclude"):
        names = kwargs.get(key)
        if names is not None and not (
            isinstance(names, list | tuple) and all(isinstance(n, str) for n in names)
        ):
            raise AvgenError(f"{key} must be a list of instrument names, got {spell(names)}.")
    return write_world_dataset(kind, count, out, **kwargs)


def check_file(path: str | Path, prompt: str) -> dict[str, Any]:
    """Run the analytic checkers on a generated file against its prompt."""
    from avgen.worlds.checks import check_file as _check

    check_path("path", path, required=True)
    return _check(path, check_prompt(prompt))


def _replayable(function: Callable[..., Any], extra_keys: tuple[str, ...]) -> set[str]:
    """The settings a sidecar may record for ``function``: its keywords and extra keys."""
    import inspect

    params = inspect.signature(function).parameters
    named = {k for k, p in params.items() if p.kind is inspect.Parameter.KEYWORD_ONLY}
    return (named | set(extra_keys)) - {"check_only", "overwrite"}


def rerun(
    sidecar: str | Path, output: str | Path | None = None, *, overwrite: bool = False
) -> list[Path]:
    """Regenerate an output from its sidecar JSON (to ``output`` or the recorded name); an
    existing output is refused unless ``overwrite`` (regenerating in place needs it).

    The sidecar may have been edited by hand: every field is checked (``read_sidecar``) and
    every setting must be one the recorded command takes, so a bad edit is one sentence that
    names the field, not a traceback."""
    from avgen.sidecar import read_sidecar

    record = read_sidecar(sidecar)
    if output:
        target = Path(output)
    elif record.get("output") is None:
        raise AvgenError(f"sidecar {sidecar} records no output name; give one with -o.")
    else:
        target = Path(sidecar).with_name(record["output"])
    command = record["command"]
    settings = dict(record["settings"])
    if command == "story":
        return _rerun_story(sidecar, record, settings, target, overwrite)
    generators = {
        "audio": text_to_audio,
        "video": text_to_video,
        "demo": render_demo,
        "av": generate_av,
    }
    if command not in generators:
        raise AvgenError(f"{sidecar} records command {spell(command)}, which rerun cannot replay.")
    extra_keys = {
        "audio": AUDIO_EXTRA_KEYS,
        "video": VIDEO_EXTRA_KEYS,
        "demo": (),
        "av": AV_EXTRA_KEYS,
    }[command]
    allowed = _replayable(generators[command], extra_keys) - {"seed"}
    allowed -= {"quiet"} if command == "demo" else set()  # the demo is replayed quietly
    unknown = sorted(set(settings) - allowed)
    if unknown:
        raise AvgenError(
            f"sidecar {sidecar}: setting {spell(unknown[0])} is not one '{command}' takes "
            f"({', '.join(sorted(allowed))})."
        )
    if record.get("seed") is None:
        raise AvgenError(f"sidecar {sidecar}: 'seed' must be a whole number, got None.")
    if command == "demo":
        check_range("seed", record["seed"])
        if "upscale" in settings:
            check_range("upscale", settings["upscale"])
        return [
            render_demo(target, seed=record["seed"], quiet=True, overwrite=overwrite, **settings)
        ]
    if record.get("prompt") is None:
        raise AvgenError(f"sidecar {sidecar}: 'prompt' must be text, got None.")
    # a sidecar written before the canonical rewrite existed records none: the model read the
    # prompt as written, so the replay does too
    if command in ("audio", "video"):
        settings.setdefault("rewrite", False)
    return generators[command](
        record["prompt"], target, seed=record["seed"], overwrite=overwrite, **settings
    )


# ----------------------------------------------------------------------------- sound and picture

AV_EXTRA_KEYS = (
    "video_model", "audio_model", "width", "height", "fps", "upscale",
) + GPU_EXTRA_KEYS  # fmt: skip


def generate_av(
    prompt: str,
    output: str | Path,
    *,
    video_prompt: str | None = None,
    audio_prompt: str | None = None,
    negative_prompt: str | None = None,
    num_inference_steps: int | None = None,
    guidance_scale: float | None = None,
    duration_s: float | None = None,
    seed: int = 0,
    preview: bool = False,
    device: str = "cpu",
    dtype: str = "fp32",
    quiet: bool = False,
    plan: Any = None,
    overwrite: bool = False,
    check_only: bool = False,
    progress: Callable[[int, int], None] | None = None,
    **extra: Any,
) -> list[Path]:
    """A video and its soundtrack in one MP4 (H.264 + AAC) with its sidecar (docs/AV.md).

    The prompt is split into picture words and sound words (``avgen.av.split``;
    ``video_prompt`` / ``audio_prompt`` replace either part). The video model renders the
    picture (following the motion plan when it reads plans: ``plan`` as in ``text_to_video``);
    the sounds go on the plan's contact events, or, without a plan, on the events found in the
    frames; the audio model generates the impacts and the bed under them.

    Extra keywords: ``video_model`` and ``audio_model`` (folders: avgen's own or local diffusers
    pipelines; ``model`` is refused, as av runs two), ``width`` / ``height`` / ``fps`` (the
    video model's by default), ``upscale`` (short side of the written MP4, default 256),
    ``cpu_offload`` / ``vae_slicing`` / ``vae_tiling``. ``num_inference_steps`` and
    ``guidance_scale`` are the video model's; the audio model runs at its own defaults.
    Files: the MP4, with ``preview`` its GIF and contact sheet, and its sidecar; an existing one
    is refused unless ``overwrite``. ``check_only`` checks and writes nothing ([])."""
    from avgen.av import check_model_kind
    from avgen.av.mux import av_files, write_av
    from avgen.av.run import render_av
    from avgen.av.split import split_prompt
    from avgen.files import check_new
    from avgen.generate import run_with_progress, video_job
    from avgen.prompts import parse_prompt as _parse
    from avgen.sidecar import sidecar_text

    if "model" in extra:
        raise AvgenError(
            "av runs two models: give the video model with --video-model DIR and the audio "
            "model with --audio-model DIR instead of --model."
        )
    _check_extra("generate_av", extra, AV_EXTRA_KEYS)
    for key in ("video_model", "audio_model"):
        check_path(key, extra.get(key))
    options = check_options(
        GenerationOptions(
            negative_prompt, seed, num_inference_steps, guidance_scale, duration_s,
            1, preview, device, dtype, quiet, {},
        )
    )  # fmt: skip
    upscale = DEFAULT_UPSCALE if extra.get("upscale") is None else extra["upscale"]
    check_range("upscale", upscale)
    prompt = check_prompt(prompt)
    for name, part in (("video_prompt", video_prompt), ("audio_prompt", audio_prompt)):
        if part is not None:
            try:
                check_prompt(part)
            except AvgenError as exc:
                raise AvgenError(f"{name}: {exc}") from None
    duration, duration_source = resolve_duration(prompt, duration_s)
    output = check_output(output, VIDEO_SUFFIXES)
    check_new(av_files(output, preview), overwrite=overwrite)
    check_model_kind(extra.get("video_model"), "video")
    check_model_kind(extra.get("audio_model"), "audio")
    split = split_prompt(prompt, video_prompt, audio_prompt)
    gpu = gpu_options(extra)
    vpipe = video_pipeline(extra.get("video_model"), device, dtype=dtype, **gpu)
    apipe = audio_pipeline(extra.get("audio_model"), device, dtype=dtype, **gpu)
    vextra = {k: extra.get(k) for k in ("width", "height", "fps")}
    width, height, fps = _video_grid(vpipe, vextra)
    explicit = None if duration_source == "default" else duration
    motion_plan = resolve_motion_plan(
        getattr(vpipe, "follows_plans", False),
        split.video,
        plan,
        explicit,
        duration,
        seed,
        (fps, width, height),
    )
    if motion_plan.plan is not None and explicit is None:
        duration = motion_plan.plan.duration_s
    check_range("video duration", duration)
    job = video_job(vpipe, split.video, options, duration, None, {**vextra, **gpu}, upscale,
                    motion_plan)  # fmt: skip
    if check_only:
        return []
    job.call.pop("extend_video", None)
    job.call.pop("init_image", None)

    def run_video(**call: Any) -> Any:
        return run_with_progress(
            vpipe, job.total_steps, desc="av video", quiet=quiet, device=device, dtype=dtype,
            progress=progress, prompt=split.video, **call,
        )  # fmt: skip

    result = render_av(
        vpipe,
        apipe,
        split,
        job.call,
        plan=motion_plan.plan,
        seed=seed,
        scene=_parse(split.video).scene,
        run_video=run_video,
        audio_options={"negative_prompt": negative_prompt},
    )
    settings = {
        "video_prompt": video_prompt,
        "audio_prompt": audio_prompt,
        **{k: v for k, v in job.settings.items() if k not in ("batch", "num_frames", "model")},
        "duration_s": duration_s,
    }
    for key in ("video_model", "audio_model"):
        if extra.get(key) is not None:
            settings[key] = str(extra[key])
    text = sidecar_text(
        output,
        command="av",
        prompt=prompt,
        seed=seed,
        settings=settings,
        model_id=f"{vpipe.model_id} + {apipe.model_id}",
        parsed=_parse(prompt).to_dict(),
        extra={
            "split": {k: v for k, v in split.to_dict().items() if k != "clauses"},
            "num_frames": int(result.frames.shape[0]),
            **motion_plan.record(),
            **result.record(),
        },
    )
    sr = result.soundtrack.sample_rate
    tracks = None
    if preview and motion_plan.plan is not None:
        from avgen.generate import plan_tracks

        tracks = plan_tracks(motion_plan.plan, len(result.frames), result.fps)
    write_av(output, result.frames, result.fps, result.soundtrack.audio, sr, text,
             upscale=upscale, preview=preview, overwrite=overwrite,
             event_times=[e.t for e in result.events], tracks=tracks)  # fmt: skip
    return [output]


def _video_grid(pipe: Any, extra: dict[str, Any]) -> tuple[int, int, int]:
    from avgen.generate import video_grid

    return video_grid(pipe, extra)


def _rerun_story(
    sidecar: str | Path, record: dict[str, Any], settings: dict[str, Any], target: Path,
    overwrite: bool,
) -> list[Path]:  # fmt: skip
    """``rerun`` of a story sidecar: its shots and subject, settings and seed."""
    allowed = _replayable(generate_story, STORY_EXTRA_KEYS) - {"seed", "progress"}
    allowed -= {"durations", "duration_s"}
    unknown = sorted(set(settings) - allowed)
    if unknown:
        raise AvgenError(
            f"sidecar {sidecar}: setting {spell(unknown[0])} is not one 'story' takes "
            f"({', '.join(sorted(allowed))})."
        )
    if "shots" not in settings:
        raise AvgenError(f"sidecar {sidecar}: the story's 'shots' are missing from its settings.")
    if record.get("seed") is None:
        raise AvgenError(f"sidecar {sidecar}: 'seed' must be a whole number, got None.")
    shots = {"subject": settings.pop("subject", None), "shots": settings.pop("shots")}
    if not isinstance(shots["shots"], list):
        raise AvgenError(f"sidecar {sidecar}: 'shots' must be a list of shots.")
    return generate_story(
        None, target, shots=shots, seed=record["seed"], overwrite=overwrite, **settings
    )
