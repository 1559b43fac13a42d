"""Benchmark stories (``avgen story``) on held-out three-shot stories built from MotionWorld.

Each story: shot 1 is a held-out MotionWorld caption (``heldout="only"``, the world's phrasings
rotated); shots 2 and 3 name no object ("then it is spinning", "now it is sliding to the
left"), so the story must carry the subject into them (``avgen.story.carry_subject``). The
shots are rendered as ``avgen story`` renders them (``avgen.story.render_story``: each shot
continues the previous shot's last frames) with the shipped video model; the soundtrack is not
part of this benchmark (``tests/story`` check its joins).

Measured:
- identity kept across shot boundaries: the checker's measured colour and shape of the tracked
  subject (object 0) in the last ``--side`` frames before a join and the first after it are
  the same (both measured); beside it, the same for the shots cut together cold (each shot
  generated alone, as ``avgen video`` would, and concatenated);
- frame change at a join: the mean absolute RGB change from the last frame of a shot to the
  first of the next, over the median change between consecutive frames inside the shots
  (target <= 1.3x), for the story and for the cold cut;
- adherence per shot: ``check_video`` of each shot's frames against its (subject-carried)
  prompt, beside the same prompt generated alone (single-shot adherence).

Usage: ``python benchmarks/story.py [--count 50] [--threads 1] [--out FILE]``.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np
import torch

from avgen.pipelines.engines import engine_loader, folder_engine
from avgen.prompts import parse_prompt
from avgen.story import carry_subject, plan_shots, render_story
from avgen.worlds.motion import render_motion_clip
from avgen.worlds.video_checks import check_video

#: Later shots' prompts: no object named (the story carries the subject), one motion each.
NEXT_SHOTS = (
    ("then it is sliding to the left", "move"),
    ("then it is sliding to the right", "move"),
    ("now it is bouncing", "bounce"),
    ("now it is spinning", "spin"),
    ("then it is rising", "rise"),
    ("then it is growing", "grow"),
    ("now it is resting", "still"),
    ("then it is shrinking", "shrink"),
)
DURATIONS = (2.0, 1.5, 1.5)
ATTRS = ("colour", "shape", "count", "motion", "direction", "size", "scene")


def build_stories(count: int, seed: int) -> list[list[str]]:
    """``count`` three-shot stories: a held-out caption, then two motions it does not have."""
    rng = np.random.default_rng(seed)
    stories = []
    for i in range(count):
        clip = render_motion_clip(seed + i, duration_s=DURATIONS[0], heldout="only")
        first = clip.captions[i % len(clip.captions)]
        motion = (clip.expected["objects"][0].get("motion") or "still") if clip.expected else ""
        options = [p for p, m in NEXT_SHOTS if m != motion]
        picks = rng.choice(len(options), size=2, replace=False)
        stories.append([first, options[int(picks[0])], options[int(picks[1])]])
    return stories


def expected_of(prompt: str, seconds: float) -> dict[str, Any]:
    """The checker's expectation: the parsed prompt with the shot's duration."""
    d = parse_prompt(prompt).to_dict()
    d["duration_s"] = seconds
    return d


def subject_of(prompt: str) -> dict[str, Any] | None:
    """The tracked subject (object 0) as a still expectation: colour, shape and size only."""
    d = parse_prompt(prompt).to_dict()
    if not d["objects"]:
        return None
    o = dict(d["objects"][0], motion=None, direction=None, count=1)
    return {"kind": "video", "objects": [o], "scene": d.get("scene"), "camera": "static"}


def identity(frames: np.ndarray, fps: int, subject: dict[str, Any]) -> tuple[Any, Any]:
    """The measured (colour, shape) of the subject in ``frames`` (None where not measured)."""
    report = check_video(frames, fps, subject)
    colour = report.get("objects[0].colour", {}).get("measured")
    shape = report.get("objects[0].shape", {}).get("measured")
    return colour, shape


def consecutive_change(frames: np.ndarray) -> np.ndarray:
    """Mean absolute RGB change between consecutive frames (F - 1,)."""
    x = frames.astype(np.float32)
    return np.abs(np.diff(x, axis=0)).mean(axis=(1, 2, 3))


class Tally:
    """Matches over measurable checks per attribute."""

    def __init__(self) -> None:
        self.hit: dict[str, int] = defaultdict(int)
        self.n: dict[str, int] = defaultdict(int)

    def add(self, report: dict[str, dict]) -> None:
        for key, entry in report.items():
            if entry.get("measurable") and entry.get("match") is not None:
                a = key.split(".")[-1]
                self.n[a] += 1
                self.hit[a] += bool(entry["match"])

    def cell(self, a: str) -> str:
        return f"{100.0 * self.hit[a] / self.n[a]:.1f} (n={self.n[a]})" if self.n[a] else "-"


def join_stats(video: np.ndarray, starts: list[int]) -> tuple[list[float], float]:
    """Each join's change over the median change inside the shots, and that median."""
    change = consecutive_change(video)  # change[i]: frame i -> i + 1
    at = {s - 1 for s in starts[1:]}
    inside = np.median([c for i, c in enumerate(change) if i not in at])
    return [float(change[j] / max(inside, 1e-6)) for j in sorted(at)], float(inside)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default=None, help="video model folder (default: the shipped one)")
    p.add_argument("--count", type=int, default=50)
    p.add_argument("--seed", type=int, default=9_100_000)
    p.add_argument("--side", type=int, default=4, help="frames each side of a join")
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--out", type=Path, default=Path("benchmarks/results/story.md"))
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    t_all = time.time()
    pipe = engine_loader(folder_engine(args.model) if args.model else "dit")(args.model)
    pipe.encode_prompt("warm up", None)
    fps = int(pipe.config["fps"])
    counts = [round(d * fps) for d in DURATIONS]
    stories = build_stories(args.count, args.seed)
    story_t, single_t = [Tally() for _ in DURATIONS], [Tally() for _ in DURATIONS]
    kept = {name: [0, 0, 0] for name in ("story", "cold", "inside")}  # kept, measured, all
    ratios: dict[str, list[float]] = {"story": [], "cold": []}
    gen_time, frames_made = 0.0, 0
    for i, shots in enumerate(stories):
        prompts = carry_subject(shots)
        plans = plan_shots(prompts, counts, fps, 64, 64, args.seed + i)
        parts: list[np.ndarray] = []
        t = time.time()
        made = render_story(pipe, prompts, counts, parts.append, seed=i, plans=plans)
        gen_time += time.time() - t
        frames_made += made.num_frames
        video = np.concatenate(parts)
        singles = []
        for k, (prompt, n) in enumerate(zip(prompts, counts)):
            shot = video[made.starts[k] : made.starts[k] + n]
            story_t[k].add(check_video(shot, fps, expected_of(prompt, n / fps)))
            if k == 0:  # the same call as the story's first shot: the same frames
                alone = shot
            else:
                out = pipe(prompt, num_frames=n, generator=torch.Generator().manual_seed(i + k))
                alone = out.frames
            singles.append(alone)
            single_t[k].add(check_video(alone, fps, expected_of(prompt, n / fps)))
        cold = np.concatenate(singles)
        # the measure's floor: the same comparison at the middle of shot 1 (no join there)
        mid, subject = counts[0] // 2, subject_of(prompts[0])
        before = identity(video[max(0, mid - args.side) : mid], fps, subject)
        after = identity(video[mid : mid + args.side], fps, subject)
        kept["inside"][2] += 1
        if None not in before and None not in after:
            kept["inside"][1] += 1
            kept["inside"][0] += before == after
        for name, clip in (("story", video), ("cold", cold)):
            r, _ = join_stats(clip, made.starts)
            ratios[name] += r
            for k in range(1, len(prompts)):
                s = made.starts[k]
                before = identity(clip[max(0, s - args.side) : s], fps, subject_of(prompts[k - 1]))
                after = identity(clip[s : s + args.side], fps, subject_of(prompts[k]))
                kept[name][2] += 1
                if None not in before and None not in after:
                    kept[name][1] += 1
                    kept[name][0] += before == after
        if (i + 1) % 10 == 0:
            print(f"{i + 1}/{len(stories)} stories", file=sys.stderr)

    total = time.time() - t_all
    cmd = "python " + " ".join([sys.argv[0], *(argv if argv is not None else sys.argv[1:])])

    def pct(a: int, b: int) -> str:
        return f"{100.0 * a / b:.1f} %" if b else "-"

    lines = [
        "# Stories: three-shot held-out stories (`avgen story`)",
        "",
        f"Command: `{cmd}`",
        "",
        f"- model: {pipe.model_id} (follows plans: {pipe.follows_plans}); "
        f"{pipe.config['num_inference_steps']} steps, guidance {pipe.config['guidance_scale']}",
        f"- stories: {len(stories)}, seeds {args.seed} to {args.seed + len(stories) - 1}: shot 1 a "
        'held-out MotionWorld caption (heldout="only"), shots 2 and 3 a motion that names no '
        "object (the subject is carried); "
        f"{' + '.join(f'{d:g}' for d in DURATIONS)} s at {fps} fps, 64x64",
        f"- machine: {platform.machine()}, {torch.get_num_threads()} torch thread(s), "
        f"Python {platform.python_version()}; the CPU is shared with other jobs",
        f"- wall time {total:.0f} s; story generation {gen_time:.0f} s for "
        f"{frames_made / fps:.0f} s of video ({gen_time / max(frames_made / fps, 1e-9):.2f} s "
        "per second of video)",
        "",
        "## Identity and continuity at the shot joins",
        "",
        "Identity kept: the checker's measured colour and shape of the tracked subject are the "
        f"same in the {args.side} frames before and after a join (of the joins where both sides "
        "measured; the share of joins measured in brackets). Join change: the mean absolute "
        "RGB change across the join over the median change between consecutive frames inside "
        "the shots. The cold cut is each shot generated alone and concatenated.",
        "",
        "| | identity kept (target >= 90 %) | joins measured | median join change / "
        "inside change (target <= 1.3x) | joins <= 1.3x |",
        "|---|---|---|---|---|",
    ]
    for name, label in (("story", "story (continued)"), ("cold", "cold cut")):
        k = kept[name]
        r = np.asarray(ratios[name])
        lines.append(
            f"| {label} | {pct(k[0], k[1])} | {k[1]}/{k[2]} | {np.median(r):.2f}x | "
            f"{pct(int((r <= 1.3).sum()), len(r))} |"
        )
    k = kept["inside"]
    lines.append(
        f"| no join: the middle of shot 1 (the measure's floor) | {pct(k[0], k[1])} | "
        f"{k[1]}/{k[2]} | | |"
    )
    lines += [
        "",
        "## Adherence per shot (checker matches, % of measurable checks)",
        "",
        "Story: the shot as rendered inside the story; alone: the same (subject-carried) prompt "
        "generated by itself (shot 1 is the same call in both).",
        "",
        "| attribute | " + " | ".join(
            f"shot {k + 1} story | shot {k + 1} alone" for k in range(len(DURATIONS))
        ) + " |",
        "|---|" + "---|---|" * len(DURATIONS),
    ]  # fmt: skip
    for a in ATTRS:
        cells = []
        for k in range(len(DURATIONS)):
            cells += [story_t[k].cell(a), single_t[k].cell(a)]
        lines.append(f"| {a} | " + " | ".join(cells) + " |")
    lines += [
        "",
        "Example story (the first): " + " / ".join(f"`{s}`" for s in carry_subject(stories[0])),
        "",
    ]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines))
    summary = {  # the headline numbers, for side-by-side reports (video_plans.py report)
        "command": cmd,
        "model": str(pipe.model_id),
        "stories": len(stories),
        "identity_kept": {n: kept[n][0] / kept[n][1] if kept[n][1] else None for n in kept},
        "joins_measured": {n: [kept[n][1], kept[n][2]] for n in kept},
        "join_ratio_median": {n: float(np.median(ratios[n])) for n in ratios},
        "seconds_per_video_second": gen_time / max(frames_made / fps, 1e-9),
        "threads": torch.get_num_threads(),
    }
    args.out.with_suffix(".json").write_text(json.dumps(summary, indent=1) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
