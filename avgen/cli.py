"""The ``avgen`` command. It parses arguments and calls ``avgen.api``; nothing else lives here.

Every generating command shares one set of flags (``add_generation_flags``). Any user error
prints one sentence on stderr and exits with code 2.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from avgen import __version__, api
from avgen.errors import AvgenError


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one sentence and exit code 2 (no usage dump)."""

    def error(self, message: str) -> None:  # type: ignore[override]
        sys.stderr.write(f"avgen: {message} (see '{self.prog} --help').\n")
        raise SystemExit(2)


def add_generation_flags(p: argparse.ArgumentParser, *, default_output: str) -> None:
    """The flags every generating command shares, so users learn them once."""
    p.add_argument("prompt", nargs="?", help="what to generate (or use --prompts-file)")
    p.add_argument("-o", "--output", default=default_output, help="output file")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--steps", type=int, default=None, help="sampling steps (model default)")
    p.add_argument("--guidance", type=float, default=None, help="classifier-free guidance scale")
    p.add_argument("--negative-prompt", default=None, help="what to steer away from")
    p.add_argument("--duration", type=float, default=None, help="seconds (default: prompt, or 4)")
    p.add_argument("--batch", type=int, default=1, help="N outputs: name_0 ... name_{N-1}")
    p.add_argument("--prompts-file", type=Path, default=None, help="one prompt a line")
    p.add_argument("--preview", action="store_true", help="also write preview images")
    p.add_argument("--device", default="cpu", help="cpu, cuda, cuda:1, mps (default cpu)")
    p.add_argument("--dtype", default="fp32", choices=api.DTYPES, help="default fp32 on a CPU")
    p.add_argument("--model", default=None, help="model folder (default: the shipped model)")
    p.add_argument("--cpu-offload", action="store_true", help="diffusers folder: idle parts on CPU")
    p.add_argument("--vae-slicing", action="store_true", help="diffusers folder: sliced VAE decode")
    p.add_argument("--vae-tiling", action="store_true", help="diffusers folder: tiled VAE decode")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.add_argument("--no-rewrite", action="store_true",
                   help="give avgen's own model the prompt as written (default: rewritten into "
                   "the words it was trained on)")  # fmt: skip
    add_overwrite_flag(p)


def add_overwrite_flag(p: argparse.ArgumentParser) -> None:
    """``--overwrite``: without it an output (or its sidecar or preview) that exists, or that
    appears while generating, is refused with exit code 2."""
    p.add_argument(
        "--overwrite", action="store_true", help="replace existing outputs (default: refuse)"
    )


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="avgen", description="Text to audio and video, on a laptop CPU.")
    parser.add_argument("--version", action="version", version=f"avgen {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    _add_audio(sub)
    _add_video(sub)
    _add_av(sub)
    _add_story(sub)
    p = sub.add_parser("demo", help="render an example clip with sound and print its path")
    p.add_argument("-o", "--output", default="out/demo.mp4")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--quiet", action="store_true")
    add_overwrite_flag(p)
    _add_prompt(sub)
    _add_plan(sub)
    _add_data(sub)
    p = sub.add_parser("eval", help="measure generated files")
    esub = p.add_subparsers(dest="eval_command", required=True, parser_class=_Parser)
    q = esub.add_parser("check", help="analytic checkers on a file, as JSON")
    q.add_argument("file", type=Path)
    q.add_argument("--prompt", required=True)
    p = sub.add_parser("rerun", help="regenerate an output from its sidecar JSON")
    p.add_argument("sidecar", type=Path)
    p.add_argument("-o", "--output", default=None)
    add_overwrite_flag(p)
    _add_serve(sub)
    for name, what in (
        ("train", "train a model from a folder of captioned clips"),
        ("finetune", "LoRA fine-tuning on a domain"),
        ("export", "export a model to another layout"),
    ):
        p = sub.add_parser(name, help=what)
        p.add_argument("args", nargs=argparse.REMAINDER)
    return parser


def _add_audio(sub: Any) -> None:
    p = sub.add_parser("audio", help="text to audio")
    add_generation_flags(p, default_output="out/audio.wav")
    p.add_argument("--candidates", type=int, default=1, help="generate N, keep the CLAP-best")
    p.add_argument("--init-audio", default=None, help="audio file to transform (sets duration)")
    p.add_argument("--strength", type=float, default=0.6, help="(0, 1]: how far from the input")
    p.add_argument("--inpaint", nargs=2, type=float, default=None, metavar=("START", "END"),
                   help="with --init-audio: regenerate only START..END seconds")  # fmt: skip
    p.add_argument("--super-resolution", type=float, default=None, metavar="HZ",
                   help="with --init-audio: keep the band below HZ, generate above")  # fmt: skip
    p.add_argument("--lora", default=None, help="LoRA adapter folder (avgen finetune audio)")
    p.add_argument("--vocoder", default=None, choices=("griffin-lim", "neural"),
                   help="mel -> waveform (default: the model's pipeline.json)")  # fmt: skip
    p.add_argument("--plan", default=None, metavar="PLAN.json",
                   help="note plan to follow (avgen plan audio ... -o PLAN.json)")  # fmt: skip
    p.add_argument("--melody", default=None, metavar="TUNE.mid",
                   help="play this MIDI file's melody (its notes are the plan)")  # fmt: skip
    p.add_argument("--melody-track", type=int, default=None, metavar="N",
                   help="with --melody: the N-th melodic track (from 0)")  # fmt: skip
    p.add_argument("--no-plan", action="store_true",
                   help="no note plan: generate from the text alone")  # fmt: skip


def _add_video(sub: Any) -> None:
    p = sub.add_parser("video", help="text to video")
    add_generation_flags(p, default_output="out/video.mp4")
    p.add_argument("--width", type=int, default=None, help="native width (default: the model's)")
    p.add_argument("--height", type=int, default=None, help="native height (default: the model's)")
    p.add_argument("--num-frames", type=int, default=None, help="frames (overrides --duration)")
    p.add_argument("--fps", type=int, default=None, help="frames per second (default: the model's)")
    p.add_argument("--upscale", type=int, default=256, help="MP4 short side in pixels (0: native)")
    p.add_argument("--engine", default=None, metavar="NAME",
                   help="the shipped model of an engine: dit (default) or phenaki; a --model "
                   "folder names its own")  # fmt: skip
    p.add_argument("--init-image", default=None, help="image file: the first frame")
    p.add_argument("--extend", default=None, help="MP4 to continue from its last frames")
    p.add_argument("--plan", default=None, metavar="PLAN.json",
                   help="motion plan to follow (avgen plan video ... -o PLAN.json)")  # fmt: skip
    p.add_argument("--no-plan", action="store_true",
                   help="no motion plan: generate from the text alone")  # fmt: skip


def _add_av(sub: Any) -> None:
    p = sub.add_parser("av", help="video with its soundtrack: sounds on the picture's events")
    p.add_argument("prompt", help="what is seen and heard")
    p.add_argument("-o", "--output", default="out/av.mp4", help="output MP4")
    p.add_argument("--video-prompt", default=None, help="the picture's prompt (default: split)")
    p.add_argument("--audio-prompt", default=None, help="the sound's prompt (default: split)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--steps", type=int, default=None, help="video sampling steps (model default)")
    p.add_argument("--guidance", type=float, default=None, help="video guidance scale")
    p.add_argument("--negative-prompt", default=None, help="what to steer away from")
    p.add_argument("--duration", type=float, default=None, help="seconds (default: prompt, or 4)")
    p.add_argument("--preview", action="store_true", help="also write a GIF and a contact sheet")
    p.add_argument("--device", default="cpu", help="cpu, cuda, cuda:1, mps (default cpu)")
    p.add_argument("--dtype", default="fp32", choices=api.DTYPES, help="default fp32 on a CPU")
    p.add_argument("--video-model", default=None, help="video model folder (default: shipped)")
    p.add_argument("--audio-model", default=None, help="audio model folder (default: shipped)")
    p.add_argument("--model", default=None, help=argparse.SUPPRESS)  # refused with a sentence
    p.add_argument("--width", type=int, default=None, help="native width (default: the model's)")
    p.add_argument("--height", type=int, default=None, help="native height (default: the model's)")
    p.add_argument("--fps", type=int, default=None, help="frames per second (default: the model's)")
    p.add_argument("--upscale", type=int, default=256, help="MP4 short side in pixels (0: native)")
    p.add_argument("--plan", default=None, metavar="PLAN.json",
                   help="motion plan to follow (avgen plan video ... -o PLAN.json)")  # fmt: skip
    p.add_argument("--no-plan", action="store_true",
                   help="no motion plan: events are found in the frames")  # fmt: skip
    p.add_argument("--cpu-offload", action="store_true", help="diffusers folder: idle parts on CPU")
    p.add_argument("--vae-slicing", action="store_true", help="diffusers folder: sliced VAE decode")
    p.add_argument("--vae-tiling", action="store_true", help="diffusers folder: tiled VAE decode")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    add_overwrite_flag(p)


def _add_story(sub: Any) -> None:
    p = sub.add_parser("story", help="several shots as one film with its soundtrack (MP4)")
    p.add_argument("prompts", nargs="*", help="one prompt per shot, in order")
    p.add_argument("--shots", default=None, metavar="SHOTS.json",
                   help="shots file: subject, prompts, durations, sounds")  # fmt: skip
    p.add_argument("--durations", nargs="+", type=float, default=None, metavar="S",
                   help="seconds of each shot, one per prompt")  # fmt: skip
    p.add_argument("--duration", type=float, default=None,
                   help="seconds of the whole story, shared equally by the shots")  # fmt: skip
    p.add_argument("--subject", default=None, help="the subject caption the shots carry")
    p.add_argument("-o", "--output", default="out/story.mp4", help="output MP4")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--steps", type=int, default=None, help="video sampling steps (model default)")
    p.add_argument("--audio-steps", type=int, default=None, help="soundtrack sampling steps")
    p.add_argument("--guidance", type=float, default=None, help="classifier-free guidance scale")
    p.add_argument("--negative-prompt", default=None, help="what to steer away from")
    p.add_argument("--width", type=int, default=None, help="native width (default: the model's)")
    p.add_argument("--height", type=int, default=None, help="native height (default: the model's)")
    p.add_argument("--fps", type=int, default=None, help="frames per second (default: the model's)")
    p.add_argument("--upscale", type=int, default=256, help="MP4 short side in pixels (0: native)")
    p.add_argument("--model", default=None, help="video model folder (default: the shipped one)")
    p.add_argument("--engine", default=None, metavar="NAME",
                   help="the shipped model of an engine: dit (default) or phenaki; a --model "
                   "folder names its own")  # fmt: skip
    p.add_argument("--audio-model", default=None, help="audio model folder for the soundtrack")
    p.add_argument("--device", default="cpu", help="cpu, cuda, cuda:1, mps (default cpu)")
    p.add_argument("--dtype", default="fp32", choices=api.DTYPES, help="default fp32 on a CPU")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    add_overwrite_flag(p)


def _output_kwargs(args: argparse.Namespace) -> dict[str, Any]:
    """The device, grid and output flags ``av`` and ``story`` share, as API keywords."""
    keys = ("device", "dtype", "quiet", "overwrite", "width", "height", "fps", "upscale")
    return {k: getattr(args, k) for k in keys}


def _av_command(args: argparse.Namespace) -> int:
    """``avgen av``: one MP4 with picture and sound, through ``api.generate_av``."""
    kwargs: dict[str, Any] = dict(
        video_prompt=args.video_prompt,
        audio_prompt=args.audio_prompt,
        negative_prompt=args.negative_prompt,
        num_inference_steps=args.steps,
        guidance_scale=args.guidance,
        duration_s=args.duration,
        seed=args.seed,
        preview=args.preview,
        **_output_kwargs(args),
    )
    if args.model is not None:
        kwargs["model"] = args.model  # refused by the API, naming the two flags
    for key in ("video_model", "audio_model"):
        if getattr(args, key) is not None:
            kwargs[key] = getattr(args, key)
    for key in api.GPU_EXTRA_KEYS:
        if getattr(args, key):
            kwargs[key] = True
    if args.plan is not None and args.no_plan:
        raise AvgenError("--plan and --no-plan exclude each other: give one.")
    if args.plan is not None:
        kwargs["plan"] = args.plan
    elif args.no_plan:
        kwargs["plan"] = False
    for path in api.generate_av(args.prompt, args.output, **kwargs):
        print(path)
    return 0


def _story_command(args: argparse.Namespace) -> list[Path]:
    """``avgen story``: the shots through ``avgen.api.generate_story``."""
    kwargs: dict[str, Any] = dict(
        shots=args.shots,
        durations=args.durations,
        duration_s=args.duration,
        subject=args.subject,
        negative_prompt=args.negative_prompt,
        num_inference_steps=args.steps,
        guidance_scale=args.guidance,
        audio_steps=args.audio_steps,
        seed=args.seed,
        **_output_kwargs(args),
    )
    for key in ("model", "engine", "audio_model"):
        if getattr(args, key) is not None:
            kwargs[key] = getattr(args, key)
    return api.generate_story(args.prompts or None, args.output, **kwargs)


def _add_prompt(sub: Any) -> None:
    p = sub.add_parser("prompt", help="build, parse and lint prompts")
    psub = p.add_subparsers(dest="prompt_command", required=True, parser_class=_Parser)
    q = psub.add_parser("parse", help="print the parsed prompt as JSON (with its rewrite)")
    q.add_argument("text")
    q.add_argument("--no-read", action="store_true",
                   help="read only the vocabulary's own words")  # fmt: skip
    q = psub.add_parser("lint", help="missing layers, a better prompt, unknown words")
    q.add_argument("text")
    q.add_argument("--kind", choices=("audio", "video"), default=None)
    q.add_argument("--model", default=None, help="model folder whose vocabulary to check")
    q.add_argument("--json", action="store_true", help="print JSON instead of text")
    q = psub.add_parser("build", help="build a layered prompt")
    q.add_argument("kind", choices=("audio", "video"))
    q.add_argument("layers", nargs="+", help="audio: mood details; video: scene motion style")
    q.add_argument("--duration", type=float, default=None)
    q.add_argument("--bpm", type=float, default=None)


def _add_serve(sub: Any) -> None:
    p = sub.add_parser("serve", help="the web app and HTTP job API on this machine")
    p.add_argument("--host", default="127.0.0.1", help="address (default 127.0.0.1: this machine)")
    p.add_argument("--port", type=int, default=7860, help="port (default 7860)")
    p.add_argument("--results-dir", default="avgen-results", help="results and the job store")
    p.add_argument("--workers", type=int, default=1, help="jobs run at once (default 1)")
    p.add_argument("--max-queue", type=int, default=16, help="queued jobs before 429 (default 16)")
    p.add_argument("--token", default=None, help="needed by every call (or AVGEN_TOKEN)")
    p.add_argument("--device", default="cpu", help="where jobs run: cpu, cuda, cuda:1, mps")
    p.add_argument("--model", action="append", default=None, metavar="NAME=DIR",
                   help="offer a model or adapter folder by name (repeatable)")  # fmt: skip
    p.add_argument("--max-duration", type=float, default=30.0, help="seconds a job may ask")
    p.add_argument("--max-steps", type=int, default=100, help="sampling steps a job may ask")
    p.add_argument("--max-size", type=int, default=512, help="pixels: width, height, upscale")
    p.add_argument("--max-prompt-chars", type=int, default=1000, help="prompt length limit")
    p.add_argument("--max-upload-mb", type=float, default=16.0, help="size of one upload")
    p.add_argument("--max-candidates", type=int, default=4, help="audio candidates a job may ask")


def _serve_command(args: argparse.Namespace) -> int:
    limits = dict(
        max_duration_s=args.max_duration,
        max_steps=args.max_steps,
        max_size=args.max_size,
        max_prompt_chars=args.max_prompt_chars,
        max_upload_mb=args.max_upload_mb,
        max_candidates=args.max_candidates,
    )
    api.serve(
        host=args.host,
        port=args.port,
        results_dir=args.results_dir,
        workers=args.workers,
        max_queue=args.max_queue,
        token=args.token,
        models=args.model,
        limits=limits,
        device=args.device,
    )
    return 0


def _add_plan(sub: Any) -> None:
    p = sub.add_parser("plan", help="write the plan a prompt would get, to edit and pass back")
    psub = p.add_subparsers(dest="plan_command", required=True, parser_class=_Parser)
    q = psub.add_parser("audio", help="the note plan: notes, beats, drums (JSON)")
    q.add_argument("prompt", nargs="?", default=None, help="what to play")
    q.add_argument("-o", "--output", default=None, help="plan file (default: print the JSON)")
    q.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    q.add_argument("--duration", type=float, default=None, help="seconds (default: prompt, or 4)")
    q.add_argument("--melody", default=None, help="MIDI file whose notes become the plan")
    q.add_argument("--melody-track", type=int, default=None, help="melodic track (from 0)")
    add_overwrite_flag(q)
    v = psub.add_parser("video", help="the motion plan: object tracks, contacts, camera (JSON)")
    v.add_argument("prompt", help="what moves")
    v.add_argument("-o", "--output", default=None, help="plan file (default: print the JSON)")
    v.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    v.add_argument("--duration", type=float, default=None, help="seconds (default: prompt, or 4)")
    v.add_argument("--fps", type=int, default=8, help="frames per second (default 8)")
    v.add_argument("--width", type=int, default=64, help="output width in pixels (default 64)")
    v.add_argument("--height", type=int, default=64, help="output height in pixels (default 64)")
    add_overwrite_flag(v)
    c = psub.add_parser("check", help="check a plan file; print what it holds")
    c.add_argument("file", help="plan JSON file (notes or motion)")


def _plan_command(args: argparse.Namespace) -> int:
    if args.plan_command == "video":
        return _plan_video(args)
    if args.plan_command == "check":
        return _plan_check(args)
    if args.melody is None and args.prompt is None:
        raise AvgenError("give a prompt to plan, or --melody tune.mid.")
    if args.output is not None:  # a folder that cannot take the file: refused before planning
        api.check_output(args.output, (".json",))
    plan = api.plan_audio(
        args.prompt,
        duration_s=args.duration,
        seed=args.seed,
        melody=args.melody,
        melody_track=args.melody_track,
    )
    if plan is None:
        raise AvgenError(
            "this prompt names nothing to play (an instrument, a raga, a genre or drums), so it "
            "gets no note plan; `avgen audio` renders it from the text alone."
        )
    return _emit_plan(plan, args)


def _emit_plan(plan: Any, args: argparse.Namespace) -> int:
    """Print the plan's JSON, or write it to ``-o`` (atomically; ``--overwrite`` rules)."""
    if args.output is None:
        _print_json(plan.to_dict(), "the plan", indent=1)
        return 0
    from avgen.plan.schema import write_json

    try:
        write_json(plan.to_dict(), args.output, overwrite=args.overwrite)
    except OSError as exc:  # e.g. a folder that refuses new files although access() allows it
        raise AvgenError(f"cannot write {args.output}: {exc.strerror or exc}.") from None
    print(args.output)
    return 0


def _plan_video(args: argparse.Namespace) -> int:
    plan = api.plan_video(
        args.prompt,
        duration_s=args.duration,
        seed=args.seed,
        fps=args.fps,
        width=args.width,
        height=args.height,
    )
    if plan is None:
        raise AvgenError(
            "this prompt names nothing to move (no object, or more than three), so it gets no "
            "motion plan; `avgen video` renders it from the text alone."
        )
    if args.output is not None:
        api.check_output(args.output, (".json",))
    return _emit_plan(plan, args)


def _plan_check(args: argparse.Namespace) -> int:
    plan = api.check_plan(args.file)
    d = plan.to_dict()
    if d["kind"] == "motion":
        print(
            f"{args.file}: a motion plan, {d['num_frames']} frames at {d['fps']} fps "
            f"({d['duration_s']:g} s), {len(d['objects'])} objects, {len(d['events'])} events."
        )
    else:
        print(
            f"{args.file}: a note plan, {d['duration_s']:g} s, {len(d['notes'])} notes, "
            f"{len(d['drums'])} drum hits."
        )
    return 0


def _add_data(sub: Any) -> None:
    p = sub.add_parser("data", help="make data sets")
    dsub = p.add_subparsers(dest="data_command", required=True, parser_class=_Parser)
    q = dsub.add_parser("world", help="render a procedural-world data set")
    q.add_argument("--kind", required=True, choices=("audio", "video", "av"))
    q.add_argument("--count", type=int, required=True)
    q.add_argument("--out", required=True, type=Path)
    q.add_argument("--seed", type=int, default=0)
    q.add_argument("--size", type=int, default=64)
    q.add_argument("--fps", type=int, default=8)
    q.add_argument("--instruments", default=None, help="comma-separated instruments to render")
    q.add_argument("--exclude", default=None, help="comma-separated instruments to leave out")
    q.add_argument("--heldout", default="exclude", choices=("exclude", "only", "any"))
    q.add_argument("--workers", type=int, default=None)
    q.add_argument("--quiet", action="store_true")


def _split(value: str | None) -> list[str] | None:
    return [v.strip() for v in value.split(",") if v.strip()] if value else None


#: Prompts a --prompts-file may hold (``--batch`` is capped at 64; a file is checked whole
#: before anything is generated, so it is kept to a size that checks in seconds).
MAX_PROMPTS_FILE = 1000
_MAX_PROMPTS_FILE_BYTES = MAX_PROMPTS_FILE * 2001 * 4  # 1000 lines of 2000 four-byte characters


def _read_prompts_file(path: Path) -> list[str]:
    """The prompts of ``path`` (UTF-8, one a line, ``#`` comments); AvgenError for a file that
    cannot be read, is not UTF-8 text, or holds more than MAX_PROMPTS_FILE prompts."""
    try:
        with open(path, "rb") as f:
            raw = f.read(_MAX_PROMPTS_FILE_BYTES + 1)
    except OSError as exc:
        raise AvgenError(f"cannot read prompts file {path}: {exc.strerror or exc}.") from exc
    if len(raw) > _MAX_PROMPTS_FILE_BYTES:
        raise AvgenError(
            f"prompts file {path} is too large: it may hold at most {MAX_PROMPTS_FILE} prompts "
            f"of at most 2000 characters."
        )
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise AvgenError(
            f"prompts file {path} is not UTF-8 text (byte {exc.start} cannot be read)."
        ) from None
    lines = text.splitlines()
    prompts = [line.strip() for line in lines if line.strip() and not line.startswith("#")]
    if not prompts:
        raise AvgenError(f"prompts file {path} has no prompts.")
    if len(prompts) > MAX_PROMPTS_FILE:
        raise AvgenError(
            f"prompts file {path} has {len(prompts)} prompts; the limit is {MAX_PROMPTS_FILE}."
        )
    for number, prompt in enumerate(prompts, 1):
        try:
            api.check_prompt(prompt)
        except AvgenError as exc:
            raise AvgenError(f"prompts file {path}, prompt {number}: {exc}") from None
    return prompts


def _prompts(args: argparse.Namespace) -> list[str]:
    if args.prompts_file is not None:
        if args.prompt:
            raise AvgenError("give either a prompt or --prompts-file, not both.")
        return _read_prompts_file(args.prompts_file)
    return [api.check_prompt(args.prompt)]


def _generate(args: argparse.Namespace) -> list[Path]:
    """Every prompt through the same ``avgen.api`` function the web app and users call."""
    kwargs: dict[str, Any] = dict(
        negative_prompt=args.negative_prompt,
        num_inference_steps=args.steps,
        guidance_scale=args.guidance,
        seed=args.seed,
        batch=args.batch,
        preview=args.preview,
        device=args.device,
        dtype=args.dtype,
        quiet=args.quiet,
        overwrite=args.overwrite,
    )
    if args.model is not None:
        kwargs["model"] = args.model
    for key in api.GPU_EXTRA_KEYS:  # cpu_offload, vae_slicing, vae_tiling: only when set
        if getattr(args, key):
            kwargs[key] = True
    if args.command == "audio":
        generate = api.text_to_audio
        kwargs.update(_audio_kwargs(args), audio_length_in_s=args.duration)
        kwargs.update({"rewrite": False} if args.no_rewrite else {})
    else:
        generate = api.text_to_video
        kwargs.update(width=args.width, height=args.height, fps=args.fps, upscale=args.upscale)
        kwargs.update(num_frames=args.num_frames, duration_s=args.duration)
        for key in ("engine", "init_image", "extend"):
            if getattr(args, key) is not None:
                kwargs[key] = getattr(args, key)
        kwargs.update(_video_plan_kwargs(args))
        kwargs.update({"rewrite": False} if args.no_rewrite else {})
    prompts = _prompts(args)
    paths = api.output_paths(args.output, len(prompts), 1)
    if len(prompts) > 1:  # every prompt checked before anything is written
        for number, (prompt, row) in enumerate(zip(prompts, paths), 1):
            try:
                generate(prompt, row[0], check_only=True, **kwargs)
            except AvgenError as exc:
                where = f"prompts file {args.prompts_file}, prompt {number}"
                raise AvgenError(f"{where}: {exc}") from None
    # every file of every prompt, checked before the first is generated
    outputs = [p for row in paths for p in api.output_paths(row[0], 1, args.batch)[0]]
    api.check_new_outputs(args.command, outputs, preview=args.preview, overwrite=args.overwrite)
    written: list[Path] = []
    for prompt, row in zip(prompts, paths):
        written += generate(prompt, row[0], **kwargs)
    return written


def _audio_kwargs(args: argparse.Namespace) -> dict[str, Any]:
    """The audio command's own flags, each passed only when set (as the sidecar records)."""
    kwargs: dict[str, Any] = {}
    if args.candidates != 1:
        kwargs["candidates"] = args.candidates
    for key in ("lora", "vocoder", "init_audio", "super_resolution"):
        if getattr(args, key) is not None:
            kwargs[key] = getattr(args, key)
    if args.inpaint is not None:
        kwargs["inpaint"] = tuple(args.inpaint)
    if args.init_audio is not None:
        kwargs["strength"] = args.strength
    given = [f for f, v in (("--plan", args.plan), ("--melody", args.melody)) if v is not None]
    if args.no_plan:
        given.append("--no-plan")
    if len(given) > 1:
        raise AvgenError(f"{' and '.join(given)} exclude each other: give one.")
    if given and given[0] != "--no-plan" and args.prompts_file is not None:
        raise AvgenError(f"{given[0]} plans one clip; it cannot be used with --prompts-file.")
    if args.melody_track is not None and args.melody is None:
        raise AvgenError("--melody-track needs --melody tune.mid.")
    for key in ("plan", "melody", "melody_track"):
        if getattr(args, key) is not None:
            kwargs[key] = getattr(args, key)
    if args.no_plan:
        kwargs["plan"] = False
    return kwargs


def _video_plan_kwargs(args: argparse.Namespace) -> dict[str, Any]:
    """--plan / --no-plan of the video command, passed only when set."""
    if args.plan is not None and args.no_plan:
        raise AvgenError("--plan and --no-plan exclude each other: give one.")
    if args.plan is not None and args.prompts_file is not None:
        raise AvgenError("--plan plans one clip; it cannot be used with --prompts-file.")
    if args.plan is not None:
        return {"plan": args.plan}
    return {"plan": False} if args.no_plan else {}


def run(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    cmd = args.command
    if cmd in ("audio", "video"):
        for path in _generate(args):
            print(path)
    elif cmd == "av":
        return _av_command(args)
    elif cmd == "story":
        for path in _story_command(args):
            print(path)
    elif cmd == "demo":
        print(
            api.render_demo(args.output, seed=args.seed, quiet=args.quiet, overwrite=args.overwrite)
        )
    elif cmd == "prompt":
        return _prompt_command(args)
    elif cmd == "plan":
        return _plan_command(args)
    elif cmd == "serve":
        return _serve_command(args)
    elif cmd == "data":
        out = api.make_world_dataset(
            args.kind,
            args.count,
            args.out,
            seed=args.seed,
            size=args.size,
            fps=args.fps,
            instruments=_split(args.instruments),
            exclude=_split(args.exclude),
            heldout=args.heldout,
            workers=args.workers,
            quiet=args.quiet,
        )
        print(out)
    elif cmd == "eval":
        _print_json(api.check_file(args.file, args.prompt), "the check results")
    elif cmd == "rerun":
        for path in api.rerun(args.sidecar, args.output, overwrite=args.overwrite):
            print(path)
    elif cmd == "train":
        if args.args[:1] == ["video"]:
            from avgen.train.video import main as train_video

            return train_video(args.args[1:])
        if args.args[:1] == ["phenaki"]:
            from avgen.train.phenaki import main as train_phenaki

            return train_phenaki(args.args[1:])
        if args.args[:1] != ["audio"]:
            what = args.args[0] if args.args else "(nothing)"
            raise AvgenError(
                f"'avgen train {what}' is not available; use 'avgen train audio', 'video' "
                "or 'phenaki'."
            )
        from avgen.train.audio import main as train_audio

        return train_audio(args.args[1:])
    elif cmd == "finetune":
        if args.args[:1] != ["audio"]:
            what = args.args[0] if args.args else "(nothing)"
            raise AvgenError(
                f"'avgen finetune {what}' is not available; use 'avgen finetune audio'."
            )
        from avgen.lora.train import main as finetune_audio

        return finetune_audio(args.args[1:])
    elif cmd == "export":
        from avgen.export import main as export_main

        return export_main(args.args)  # audio --format diffusers OUT [--model SRC]
    return 0


def _prompt_command(args: argparse.Namespace) -> int:
    from avgen import prompts

    if args.prompt_command == "parse":
        _print_json(api.parse_prompt(args.text, read=not args.no_read), "the parsed prompt")
    elif args.prompt_command == "lint":
        report = api.lint_prompt(args.text, kind=args.kind, model=args.model)
        if args.json:
            _print_json(report.to_dict(), "the lint report")
        else:
            print(report.format())
    else:
        if args.kind == "audio":
            mood, details = args.layers[0], " ".join(args.layers[1:])
            print(prompts.build_audio_prompt(mood, details, args.duration, args.bpm))
        else:
            scene, motion, style = (args.layers + ["", ""])[:3]
            print(prompts.build_video_prompt(scene, motion, style))
    return 0


def main(argv: list[str] | None = None) -> None:
    """Console entry point: one sentence on stderr and exit 2 for any user error; a reader that
    stops early (``avgen prompt parse ... | head -1``) ends the command quietly."""
    try:
        code = run(argv)
        sys.stdout.flush()  # a closed pipe shows here, not in the interpreter's last flush
    except BrokenPipeError:
        if not _stdout_closed():
            raise  # a pipe of something else broke: not the reader going away
        _silence_stdout()
        raise SystemExit(0) from None
    except AvgenError as exc:
        msg = str(exc).rstrip()
        sys.stderr.write(f"avgen: {msg}\n")
        raise SystemExit(2) from None
    except KeyboardInterrupt:
        sys.stderr.write("avgen: interrupted.\n")
        raise SystemExit(130) from None
    raise SystemExit(code)


def _print_json(value: Any, what: str, indent: int = 2) -> None:
    """Print ``value`` as standard JSON (AvgenError for a NaN or infinity, never ``NaN``)."""
    from avgen.files import json_text

    sys.stdout.write(json_text(value, what=what, indent=indent))


def _stdout_closed() -> bool:
    """True when nobody reads stdout any more (the pipe's reader has gone)."""
    import select

    try:
        poller = select.poll()
        poller.register(sys.stdout.fileno(), select.POLLOUT)
        return any(event & select.POLLERR for _, event in poller.poll(0))
    except (AttributeError, OSError, ValueError):  # no poll (Windows) or no real stdout
        return True


def _silence_stdout() -> None:
    """Point stdout at the null device, so Python's final flush into the closed pipe is quiet."""
    import os

    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # no real stdout (an embedded or captured one)
        pass


if __name__ == "__main__":
    main()
