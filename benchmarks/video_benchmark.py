"""Benchmark the text-to-video model on held-out MotionWorld prompts with the analytic checkers.

Measures (results written as Markdown with the exact command):
- per-attribute accuracy of ``check_video`` on ``--count`` held-out prompts (new seeds,
  ``heldout="only"`` attribute combinations, the world's synonym phrasings), the same checker on
  the rendered ground-truth clips as the ceiling, and the bounce / fall gravity target;
- wall time per second of video at default settings (4 s clips at 64x64, 8 fps);
- quality versus sampling steps on the first ``--subset`` prompts;
- colour / position continuity at the window joins of long (extended) clips;
- how close the first frame stays to an ``init_image``.

Usage: ``python benchmarks/video_benchmark.py [--model DIR] [--count 200] [--out FILE]``.
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np
import torch

from avgen.pipelines.text_to_video import (
    TextToVideoPipeline,
    join_continuity,
    to_frames,
    to_tensor,
)
from avgen.worlds.motion import render_motion_clip
from avgen.worlds.video_checks import check_video

TARGETS = {"colour": 90.0, "direction": 85.0, "shape": 75.0, "count": 80.0}
MAIN_ATTRS = ("colour", "direction", "shape", "count", "motion", "size", "scene", "contacts",
              "gravity", "speed", "consistency", "background_consistency")  # fmt: skip


def attribute(key: str) -> str:
    """``objects[1].colour`` -> ``colour``."""
    return key.split(".")[-1]


class Tally:
    """Per-attribute counts of matches over measurable checks, plus the gravity target."""

    def __init__(self) -> None:
        self.hit: dict[str, int] = defaultdict(int)
        self.n: dict[str, int] = defaultdict(int)
        self.grav_ok = 0
        self.grav_n = 0

    def add(self, report: dict[str, dict]) -> None:
        groups: dict[str, dict[str, Any]] = defaultdict(dict)
        for key, entry in report.items():
            if entry.get("measurable") and entry.get("match") is not None:
                a = attribute(key)
                self.n[a] += 1
                self.hit[a] += bool(entry["match"])
            if "." in key:
                groups[key.rsplit(".", 1)[0]][attribute(key)] = entry
        for g in groups.values():  # bounce / fall groups: contacts present and gravity in 30 %
            if "gravity" in g and "contacts" in g:
                self.grav_n += 1
                self.grav_ok += bool(g["gravity"].get("match")) and bool(g["contacts"].get("match"))

    def pct(self, a: str) -> float:
        return 100.0 * self.hit[a] / self.n[a] if self.n[a] else float("nan")

    def grav_pct(self) -> float:
        return 100.0 * self.grav_ok / self.grav_n if self.grav_n else float("nan")


def held_out(count: int, seed: int, duration: float) -> list[tuple[str, Any]]:
    """(prompt, clip) pairs: held-out combinations, phrasings rotated through the synonyms."""
    out = []
    for i in range(count):
        clip = render_motion_clip(seed + i, duration_s=duration, heldout="only")
        out.append((clip.captions[i % len(clip.captions)], clip))
    return out


@torch.no_grad()
def vae_roundtrip(pipe: TextToVideoPipeline, frames: np.ndarray) -> np.ndarray:
    """The rendered clip through the VAE (encode, decode): what the DiT could at best emit."""
    x = to_tensor(frames)
    z = pipe.vae.encode_frames(x)
    return to_frames(pipe.vae.decode_latents(z, num_frames=x.shape[2])[0])


def generate(pipe: TextToVideoPipeline, prompt: str, frames: int, seed: int, **kw: Any) -> Any:
    return pipe(prompt, num_frames=frames, generator=torch.Generator().manual_seed(seed), **kw)


def speed_4s(pipe: TextToVideoPipeline, pairs: list[tuple[str, Any]], fps: int) -> float:
    """Median wall time of 4 s clips at default settings over 5 prompts."""
    walls = []
    for i in range(5):
        t = time.time()
        generate(pipe, pairs[i % len(pairs)][0], 4 * fps, 100 + i)
        walls.append(time.time() - t)
    return float(np.median(walls))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default=None, help="model folder (default: the shipped one)")
    p.add_argument("--count", type=int, default=200)
    p.add_argument("--subset", type=int, default=50, help="prompts for the steps table")
    p.add_argument("--steps-list", default="4,8,40", help="extra step counts for the table")
    p.add_argument("--guidance-list", default="3", help="other guidance scales for the subset")
    p.add_argument("--seed", type=int, default=9_000_000)
    p.add_argument("--duration", type=float, default=2.0, help="held-out clip length (s)")
    p.add_argument("--long-seconds", type=float, default=12.0, help="extended clips' length")
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--out", type=Path, default=Path("benchmarks/results/video.md"))
    p.add_argument("--speed-only", action="store_true", help="only time 4 s clips; print it")
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    t_all = time.time()
    pipe = TextToVideoPipeline.from_pretrained(args.model)
    pipe.encode_prompt("warm up", None)  # load MiniLM before timing
    steps0 = int(pipe.config["num_inference_steps"])
    fps = int(pipe.config["fps"])
    pairs = held_out(args.count, args.seed, args.duration)
    n_frames = int(round(args.duration * fps))
    if args.speed_only:
        wall4 = speed_4s(pipe, pairs, fps)
        print(f"4 s of {pipe.config['native_size']}px video: median {wall4:.2f} s over 5 prompts")
        return 0

    # 1. accuracy at default settings, and the ceiling on the rendered clips
    model_t, truth_t = Tally(), Tally()
    per_steps: dict[int, Tally] = {steps0: Tally()}
    gen_time = 0.0
    for i, (prompt, clip) in enumerate(pairs):
        t = time.time()
        out = generate(pipe, prompt, n_frames, i)
        gen_time += time.time() - t
        report = check_video(out.frames, fps, clip.expected)
        model_t.add(report)
        if i < args.subset:
            per_steps[steps0].add(report)
        if i < args.subset:  # a ceiling: the checker on the VAE's reconstruction of the truth
            truth_t.add(check_video(vae_roundtrip(pipe, clip.frames), clip.fps, clip.expected))
        if (i + 1) % 25 == 0:
            print(f"{i + 1}/{len(pairs)} colour {model_t.pct('colour'):.0f} %", file=sys.stderr)

    # 2. quality versus steps on the subset
    step_time: dict[int, float] = {steps0: gen_time / len(pairs)}
    for steps in [int(s) for s in args.steps_list.split(",") if s.strip()]:
        tally, spent = Tally(), 0.0
        for i, (prompt, clip) in enumerate(pairs[: args.subset]):
            t = time.time()
            out = generate(pipe, prompt, n_frames, i, num_inference_steps=steps)
            spent += time.time() - t
            tally.add(check_video(out.frames, fps, clip.expected))
        per_steps[steps] = tally
        step_time[steps] = spent / max(1, min(args.subset, len(pairs)))

    guid: dict[float, Tally] = {float(pipe.config["guidance_scale"]): per_steps[steps0]}
    for g in [float(v) for v in args.guidance_list.split(",") if v.strip()]:
        tally = Tally()
        for i, (prompt, clip) in enumerate(pairs[: args.subset]):
            out = generate(pipe, prompt, n_frames, i, guidance_scale=g)
            tally.add(check_video(out.frames, fps, clip.expected))
        guid[g] = tally

    # 3. speed at default settings: 4 s of 64x64 video
    wall4 = speed_4s(pipe, pairs, fps)

    # 4. joins of long clips (window extension) and an init image
    conts = []
    for i in range(3):
        out = generate(pipe, pairs[i % len(pairs)][0], int(args.long_seconds * fps), 200 + i)
        conts.append(join_continuity(out.frames, out.joins))
        n_windows = out.settings["windows"]
    cont = {k: float(np.mean([c[k] for c in conts])) for k in conts[0]}
    init_err = []
    for i in range(min(10, len(pairs))):
        prompt, clip = pairs[i]
        out = generate(pipe, prompt, n_frames, 300 + i, init_image=clip.frames[0])
        init_err.append(np.abs(out.frames[0].astype(float) - clip.frames[0].astype(float)).mean())

    # report
    total = time.time() - t_all
    cmd = "python " + " ".join([sys.argv[0], *(argv if argv is not None else sys.argv[1:])])
    lines = [
        "# Text-to-video benchmark (held-out MotionWorld prompts)",
        "",
        f"Command: `{cmd}`",
        "",
        f"- model: {pipe.model_id}; defaults: {steps0} Euler steps, guidance "
        f"{pipe.config['guidance_scale']}, {pipe.config['window_frames']}-frame windows",
        f"- prompts: {len(pairs)} held-out clips (seeds {args.seed} to "
        f'{args.seed + len(pairs) - 1}, heldout="only", {args.duration:g} s at {fps} fps, '
        "64x64), captions rotated over the world's phrasings (synonyms)",
        f"- machine: {platform.machine()}, {torch.get_num_threads()} torch threads, 2-core CPU "
        f"shared with other jobs; benchmark wall time {total:.0f} s",
        "",
        "## Accuracy per attribute (checker matches / measurable checks)",
        "",
        "| attribute | n | model % | VAE round trip of the truth % (subset) | target |",
        "|---|---|---|---|---|",
    ]
    for a in MAIN_ATTRS:
        if model_t.n[a] or truth_t.n[a]:
            target = f">= {TARGETS[a]:g} %" if a in TARGETS else ""
            lines.append(
                f"| {a} | {model_t.n[a]} | {model_t.pct(a):.1f} | {truth_t.pct(a):.1f} | {target} |"
            )
    lines += [
        f"| gravity target (contacts + g within 30 %, bounce/fall groups) | {model_t.grav_n} | "
        f"{model_t.grav_pct():.1f} | {truth_t.grav_pct():.1f} | >= 70 % |",
        "",
        "## Speed at default settings",
        "",
        f"- 4 s of 64x64 video ({4 * fps} frames, {len(pipe.window_plan(4 * fps))} windows, "
        f"{steps0} steps): median {wall4:.2f} s wall over 5 prompts = "
        f"{wall4 / 4:.2f} s per second of video (target: 4 s in <= 4 s)",
        f"- {args.duration:g} s clips (one window): {step_time[steps0]:.2f} s each",
        "",
        f"## Quality versus steps (first {min(args.subset, len(pairs))} prompts)",
        "",
        "| steps | colour % | direction % | shape % | count % | motion % | s per clip |",
        "|---|---|---|---|---|---|---|",
    ]
    for steps in sorted(per_steps):
        t = per_steps[steps]
        lines.append(
            f"| {steps} | {t.pct('colour'):.1f} | {t.pct('direction'):.1f} | "
            f"{t.pct('shape'):.1f} | {t.pct('count'):.1f} | {t.pct('motion'):.1f} | "
            f"{step_time[steps]:.2f} |"
        )
    lines += [
        "",
        f"## Guidance scale ({steps0} steps, same subset)",
        "",
        "| guidance | colour % | direction % | shape % | count % | motion % |",
        "|---|---|---|---|---|---|",
    ]
    for g in sorted(guid):
        t = guid[g]
        lines.append(
            f"| {g:g} | {t.pct('colour'):.1f} | {t.pct('direction'):.1f} | "
            f"{t.pct('shape'):.1f} | {t.pct('count'):.1f} | {t.pct('motion'):.1f} |"
        )
    lines += [
        "",
        f"## Continuity at window joins ({args.long_seconds:g} s clips, {n_windows} windows, "
        "mean of 3)",
        "",
        "| measure | at joins | inside windows |",
        "|---|---|---|",
        f"| colour change between frames (mean abs RGB, 0-255) | "
        f"{cont['colour_jump_at_joins']:.2f} | {cont['colour_change_inside']:.2f} |",
        f"| object centroid shift (pixels) | {cont['position_jump_at_joins']:.2f} | "
        f"{cont['position_change_inside']:.2f} |",
        "",
        f"Init image: mean abs error of frame 0 against the given image: "
        f"{np.mean(init_err):.2f} / 255 (10 prompts; the VAE round trip bounds it).",
        "",
    ]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines))
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
