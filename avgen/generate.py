"""The one generate path behind ``avgen.api.text_to_audio`` and ``text_to_video``.

A request is resolved against a loaded pipeline into a ``Job`` (``audio_job`` / ``video_job``:
the model's defaults filled in, the inputs checked once by the pipeline's ``check_inputs``, the
sidecar settings written down), then ``write_batch`` runs it for every seed of the batch and
writes each output, its previews and its sidecar. Sample j of a batch uses seed + j and its
sidecar records that seed with batch 1, so ``avgen rerun`` replays it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from avgen.pipelines.base import AudioPipeline, GeneratingPipeline, VideoPipeline

if TYPE_CHECKING:  # avgen.api imports this module
    from avgen.api import GenerationOptions


@dataclass
class Job:
    """A checked request: the pipeline's keyword arguments (all but ``generator`` and
    ``callback``), the sidecar's settings, the progress total in steps, and how to write a
    result (the file and its previews) and what of it the sidecar keeps."""

    command: str  # "audio" or "video": the sidecar's command
    prompt: str
    call: dict[str, Any]
    settings: dict[str, Any]
    total_steps: int
    write: Callable[[Path, Any, bool], None]  # (path, result, overwrite)
    record: Callable[[Any], dict[str, Any]]
    # the model's text condition (the canonical rewrite, or the prompt) and what the sidecar
    # says about it (``avgen.api.text_condition``); None: the prompt itself
    condition: str | None = None
    condition_record: dict[str, Any] | None = None
    # long output: (path, overwrite) -> a context that yields the pipeline's frame_sink and
    # publishes the file at its end (frames are encoded as each window finishes)
    stream: Callable[[Path, bool], Any] | None = None


def run_with_progress(
    pipe: GeneratingPipeline, total: int, *, desc: str, quiet: bool, device: str, dtype: str,
    progress: Callable[[int, int], None] | None = None, **call: Any,
) -> Any:  # fmt: skip
    """Call ``pipe(**call)`` with a tqdm bar fed by its step callback; under autocast for
    fp16/bf16 unless the pipeline loaded its weights in that dtype (diffusers folders).
    ``progress(step, total)`` also hears every step (the web app's progress and cancel: an
    exception it raises stops the run)."""
    import torch
    from tqdm import tqdm

    amp = {"fp16": torch.float16, "bf16": torch.bfloat16}.get(dtype)
    if pipe.loads_dtype:
        amp = None
    with tqdm(total=total, desc=desc, unit="step", disable=quiet, leave=False) as bar:

        def tick(i: int, n: int) -> None:
            bar.update(i - bar.n)
            if progress is not None:
                progress(i, n)

        with torch.autocast(torch.device(device).type, dtype=amp, enabled=amp is not None):
            return pipe(callback=tick, **call)


def write_batch(
    pipe: GeneratingPipeline,
    job: Job,
    paths: list[Path],
    *,
    seed: int,
    quiet: bool,
    device: str,
    dtype: str,
    overwrite: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> list[Path]:
    """Run ``job`` once per path (seed + j for the j-th) and write each output, its previews
    and its sidecar; returns the paths written. The sidecar's JSON is made before the output
    is published (a value JSON cannot hold fails before any file); then the output, its
    previews and its sidecar are published in that order, each refused without ``overwrite``
    when its name exists (``avgen.files.publish``). ``progress(step, total)`` counts the steps
    of the whole batch. A job with ``stream`` (a video without previews) hands the pipeline a
    frame sink that encodes each window as it finishes; the file is published at the end."""
    import torch

    from avgen.files import write_text
    from avgen.prompts import parse_prompt
    from avgen.sidecar import sidecar_path, sidecar_text

    parsed = parse_prompt(job.prompt).to_dict()
    for j, path in enumerate(paths):
        generator = torch.Generator().manual_seed(seed + j)
        done = j * job.total_steps
        call = dict(
            desc=job.command, quiet=quiet, device=device, dtype=dtype,
            progress=_batch_progress(progress, done, job.total_steps * len(paths)),
            prompt=job.condition or job.prompt, generator=generator, **job.call,
        )  # fmt: skip

        def sidecar(result: Any, seed_j: int = seed + j, path: Path = path) -> str:
            return sidecar_text(
                path,
                command=job.command,
                prompt=job.prompt,
                seed=seed_j,
                settings=job.settings,
                model_id=pipe.model_id,
                parsed=parsed,
                extra={**(job.condition_record or {}), **job.record(result)},
            )

        if job.stream is not None:  # written window by window, published at the end
            with job.stream(path, overwrite) as sink:
                result = run_with_progress(pipe, job.total_steps, frame_sink=sink, **call)
                text = sidecar(result)
        else:
            result = run_with_progress(pipe, job.total_steps, **call)
            text = sidecar(result)
            job.write(path, result, overwrite)
        write_text(sidecar_path(path), text, overwrite=overwrite)
    return paths


def run_files(command: str, path: Path, preview: bool) -> list[Path]:
    """Every file one output of ``command`` ("audio", "video", "demo") makes: the output, its
    previews when ``preview`` (audio: ``<output>.png``; video: ``<output>.gif`` and ``.png``)
    and its sidecar ``<output>.json``."""
    from avgen.sidecar import sidecar_path

    previews = {"audio": (".png",), "video": (".gif", ".png")}.get(command, ())
    files = [path]
    if preview:
        files += [path.with_name(path.name + ext) for ext in previews]
    return files + [sidecar_path(path)]


def _batch_progress(
    progress: Callable[[int, int], None] | None, done: int, total: int
) -> Callable[[int, int], None] | None:
    """A per-sample step callback that reports ``progress(done + step, total)``."""
    if progress is None:
        return None
    return lambda i, n: progress(done + i, total)


# ----------------------------------------------------------------------------- audio


def audio_job(
    pipe: AudioPipeline,
    prompt: str,
    options: GenerationOptions,
    duration: float,
    init_wave: Any,
    edit: dict[str, Any],
    extra: dict[str, Any],
    note_plan: Any,
) -> Job:
    """Text to audio (``options``: the API's ``GenerationOptions``; ``duration``: resolved
    from them and the prompt; ``init_wave`` the input read from ``edit["init_audio"]``;
    ``edit``: init_audio, strength, inpaint, super_resolution; ``extra``: model, candidates,
    vocoder, lora and the checked GPU switches; ``note_plan``: the API's ``ResolvedPlan``)
    resolved against ``pipe`` and checked by it."""
    plan = note_plan.plan
    steps = options.num_inference_steps
    steps = int(pipe.config["num_inference_steps"] if steps is None else steps)
    guidance = options.guidance_scale
    guidance = float(pipe.config["guidance_scale"] if guidance is None else guidance)
    candidates = 1 if extra.get("candidates") is None else extra["candidates"]
    vocoder = extra.get("vocoder") or str(pipe.config["vocoder"])
    strength, inpaint, cutoff = edit["strength"], edit["inpaint"], edit["super_resolution"]
    duration = pipe.check_inputs(  # the one check of the inputs
        prompt, steps, guidance, duration, candidates, vocoder,
        init_wave, strength, inpaint, cutoff,
    )  # fmt: skip
    call = dict(
        negative_prompt=options.negative_prompt, num_inference_steps=steps,
        guidance_scale=guidance, audio_length_in_s=duration, num_candidates=candidates,
        vocoder=vocoder, init_audio=init_wave, strength=float(strength), inpaint=inpaint,
        super_resolution=cutoff,
    )  # fmt: skip
    if plan is not None:  # only pipelines that follow plans take one
        call["note_plan"] = plan
    settings: dict[str, Any] = {
        "negative_prompt": options.negative_prompt,
        "num_inference_steps": steps,
        "guidance_scale": guidance,
        "audio_length_in_s": duration,
        **_shared_settings(options),
        "candidates": candidates,
        "vocoder": vocoder,
        **{k: extra.get(k, False) for k in ("cpu_offload", "vae_slicing", "vae_tiling")},
    }
    for key in ("model", "lora"):
        if extra.get(key) is not None:
            settings[key] = str(extra[key])
    if edit["init_audio"] is not None:
        settings["init_audio"] = str(Path(edit["init_audio"]).resolve())
        settings["strength"] = float(strength)
        settings["inpaint"] = None if inpaint is None else [float(v) for v in inpaint]
        settings["super_resolution"] = None if cutoff is None else float(cutoff)
    settings["plan"] = note_plan.setting()  # the plan itself, so rerun replays it
    plan_record = note_plan.record()
    drawn = [(n.onset_s, n.duration_s, n.pitch) for n in plan.notes] if plan else None
    return Job(
        "audio", prompt, call, settings, steps * len(pipe.window_plan(duration)),
        write=lambda path, result, overwrite: _write_audio(
            path, result, options.preview, overwrite, drawn
        ),
        record=lambda r: {
            "clap_scores": r.clap_scores, "tempo_bpm": r.settings["tempo_bpm"], **plan_record
        },
    )  # fmt: skip


def _shared_settings(options: GenerationOptions) -> dict[str, Any]:
    """The sidecar settings every generator records: one sample per file."""
    return {
        "batch": 1,
        "preview": options.preview,
        "device": options.device,
        "dtype": options.dtype,
    }


def _write_audio(
    path: Path, result: Any, preview: bool, overwrite: bool, notes: list | None = None
) -> None:
    from avgen.media import write_audio, write_spectrogram_png

    write_audio(path, result.audio, result.sample_rate, overwrite=overwrite)
    if preview:
        png = path.with_name(path.name + ".png")
        write_spectrogram_png(
            png, result.audio, result.sample_rate, notes=notes, overwrite=overwrite
        )


# ----------------------------------------------------------------------------- video


def video_job(
    pipe: VideoPipeline,
    prompt: str,
    options: GenerationOptions,
    duration: float | None,
    num_frames: int | None,
    extra: dict[str, Any],
    upscale: int,
    motion_plan: Any,
) -> Job:
    """Text to video (``options``: the API's ``GenerationOptions``; ``duration``: resolved from
    them and the prompt when ``num_frames`` is None; ``extra``: model, width, height, fps,
    init_image, extend and the checked GPU switches; ``motion_plan``: the API's
    ``ResolvedPlan``) resolved against ``pipe`` and checked by it."""
    cfg = pipe.config
    plan = motion_plan.plan
    width, height, fps = video_grid(pipe, extra)
    steps = options.num_inference_steps
    steps = int(cfg["num_inference_steps"] if steps is None else steps)
    guidance = options.guidance_scale
    guidance = float(cfg["guidance_scale"] if guidance is None else guidance)
    pipe.check_inputs(prompt, steps, guidance, num_frames, fps, duration)  # the one check
    if num_frames is None:  # a duration is approximate: the model's nearest frame count
        num_frames = pipe.snap_frames(max(1, round(duration * fps)), warn=False)
    width, height = pipe.snap_size(width, height)
    source, image = _read_video_inputs(extra, width, height)
    call = dict(
        negative_prompt=options.negative_prompt, num_inference_steps=steps,
        guidance_scale=guidance, num_frames=num_frames, width=width, height=height, fps=fps,
        init_image=image, extend_video=source,
    )  # fmt: skip
    if plan is not None:  # only pipelines that follow plans take one
        call["motion_plan"] = plan
    settings: dict[str, Any] = {
        "negative_prompt": options.negative_prompt,
        "num_inference_steps": steps,
        "guidance_scale": guidance,
        "duration_s": options.duration_s,
        "num_frames": num_frames,
        **_shared_settings(options),
        "width": width,
        "height": height,
        "fps": fps,
        "upscale": upscale,
        **{k: extra.get(k, False) for k in ("cpu_offload", "vae_slicing", "vae_tiling")},
    }
    for key in ("model", "engine", "init_image", "extend"):
        if extra.get(key) is not None:
            settings[key] = str(extra[key])
    settings["plan"] = motion_plan.setting()  # the plan itself, so rerun replays it
    plan_record = motion_plan.record()
    windows = pipe.window_plan(num_frames, has_context=source is not None)
    stream = None
    if getattr(pipe, "streams_frames", False) and not options.preview:
        stream = lambda path, overwrite: _video_stream(path, fps, upscale, overwrite, source)  # noqa: E731
    return Job(
        "video", prompt, call, settings, steps * len(windows),
        write=lambda path, result, overwrite: _write_video(
            path, result, fps, upscale, options.preview, overwrite, plan
        ),
        record=lambda result: {
            "windows": result.settings["windows"], "joins": result.joins,
            "engine": getattr(pipe, "engine", None), **plan_record,
        },
        stream=stream,
    )  # fmt: skip


def video_grid(pipe: VideoPipeline, extra: dict[str, Any]) -> tuple[int, int, int]:
    """(width, height, fps) of a video request: the flags, else the model's own (avgen's:
    64x64 at 8 fps; diffusers: the family's)."""
    cfg = pipe.config
    native = cfg.get("native_size", 64)
    width = int(cfg.get("width", native)) if extra.get("width") is None else extra["width"]
    height = int(cfg.get("height", native)) if extra.get("height") is None else extra["height"]
    fps = int(cfg.get("fps", 8)) if extra.get("fps") is None else extra["fps"]
    return width, height, fps


def plan_tracks(plan: Any, frames: int, fps: int, source_frames: int = 0) -> Any:
    """The plan's object centres at each written frame (frames, objects, 2) in frame fractions,
    NaN where an object is hidden or before the plan (an extended clip's own frames)."""
    import numpy as np

    from avgen.video.layout import plan_frame_indices

    out = np.full((frames, len(plan.objects), 2), np.nan)
    new = list(range(frames - source_frames))
    if not new:
        return out
    centres = plan.centres()  # (plan frames, objects, 2)
    out[source_frames:] = centres[plan_frame_indices(plan, new, fps)]
    return out


def _read_video_inputs(extra: dict[str, Any], width: int, height: int) -> tuple[Any, Any]:
    """The clip to extend (F, H, W, 3) and the first frame (H, W, 3), read once before any
    work (a bad file fails here), each None when not given."""
    from avgen.pipelines.text_to_video import load_image, load_video

    source = image = None
    if extra.get("extend") is not None:
        source, _ = load_video(extra["extend"], width, height)
    if extra.get("init_image") is not None:
        image = load_image(extra["init_image"], width, height)
    return source, image


@contextlib.contextmanager
def _video_stream(
    path: Path, fps: int, upscale: int, overwrite: bool, source: Any = None
) -> Iterator[Callable[[Any], None]]:
    """A frame sink that upscales each window's frames and encodes them into ``path`` (the
    clip being extended first), published when the block ends (``avgen.media.mp4_stream``)."""
    from avgen.media import mp4_stream, upscale_frames

    with mp4_stream(path, fps, overwrite=overwrite) as write:

        def sink(frames: Any) -> None:
            write(upscale_frames(frames, upscale) if upscale else frames)

        if source is not None and len(source):
            sink(source)
        yield sink


def _write_video(
    path: Path,
    result: Any,
    fps: int,
    upscale: int,
    preview: bool,
    overwrite: bool,
    plan: Any = None,
) -> None:
    from avgen.media import upscale_frames, write_contact_sheet, write_gif, write_mp4

    frames = upscale_frames(result.frames, upscale) if upscale else result.frames
    write_mp4(path, frames, fps, overwrite=overwrite)
    if preview:
        write_gif(path.with_name(path.name + ".gif"), frames, fps, overwrite=overwrite)
        tracks = None
        if plan is not None:
            source = int(result.settings.get("source_frames", 0))
            tracks = plan_tracks(plan, len(frames), fps, source)
        sheet = path.with_name(path.name + ".png")
        write_contact_sheet(sheet, frames, max_frames=16, tracks=tracks, overwrite=overwrite)
