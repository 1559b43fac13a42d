"""Benchmark of the motion planner: do the plans move the way the prompts say?

On the held-out MotionWorld prompts of ``video_benchmark.py`` (same clip seeds, same captions,
same clip length; plan seed = the generation seed ``i`` there), each caption is parsed and
planned (``avgen.plan.plan_motion``, what ``avgen plan video PROMPT --seed i`` writes). A plan's
own tracks then go through the video checker's per-object measurements
(``worlds.video_objects``: motion class, direction, speed, gravity and floor contacts, size,
count) against the clip's ``expected`` (the analytic truth of what the caption describes), as if
the plan were a perfectly rendered clip. Colour and shape are copied from the parse into the
plan's ``meta`` (the plan never draws them), so their rows measure the parser only. The rendered
clips' own tracks (``plan_from_motion_truth``) go through the same measurement as the ceiling.

    python benchmarks/motion_plans.py --count 200
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

from avgen.plan import MotionPlan, plan_from_motion_truth, plan_motion
from avgen.prompts import parse_prompt
from avgen.vocab import TIME_FACTORS
from avgen.worlds.motion import render_motion_clip
from avgen.worlds.motion_spec import AREA_FACTOR
from avgen.worlds.video_objects import _check_objects
from avgen.worlds.video_tracking import ObjectTrack

ATTRS = ("count", "motion", "direction", "speed", "gravity", "contacts", "size", "colour", "shape")


def plan_tracks(plan: MotionPlan) -> list[ObjectTrack]:
    """The plan's objects as the checker's tracks (positions in frame widths, y down), with the
    angle as the phase of the shape harmonics so a planned spin is measurable."""
    aspect = plan.height / plan.width
    tracks = []
    for o in plan.objects:
        f = o.frames
        vis = np.array([fr.in_frame() for fr in f])
        centre = np.array([(fr.x, fr.y * aspect) for fr in f], np.float64)
        centre[~vis] = np.nan
        diam = np.where(vis, [fr.w for fr in f], np.nan)
        shape = o.meta.get("shape") or "circle"
        ang = np.radians([fr.angle for fr in f])
        area = AREA_FACTOR[shape] * (diam * plan.width) ** 2
        tracks.append(
            ObjectTrack(
                colour=o.meta.get("colour") or "",
                centre=centre,
                diameter=diam,
                area=area,
                m3=np.exp(-3j * ang),
                m4=np.exp(-4j * ang),
                clean=vis.copy(),
                apart=vis.copy(),
                whole=vis.copy(),
                shape=shape,
            )
        )
    return tracks


def measure(plan: MotionPlan, expected: dict) -> dict[str, dict]:
    """The checker's per-object entries for a plan, against ``expected``."""
    camera = expected.get("camera") or "static"
    tf = TIME_FACTORS.get(expected.get("time") or "normal", 1.0)
    return _check_objects(
        expected,
        plan_tracks(plan),
        float(plan.fps),
        plan.height / plan.width,
        plan.duration_s,
        camera,
        tf,
    )


class Tally:
    """Per-attribute matches over measurable entries, plus the gravity target (a bounce or fall
    group whose gravity is within 30 % and whose floor contacts are right)."""

    def __init__(self) -> None:
        self.hit: dict[str, int] = defaultdict(int)
        self.n: dict[str, int] = defaultdict(int)
        self.grav = [0, 0]

    def add(self, report: dict[str, dict]) -> None:
        groups: dict[str, dict] = defaultdict(dict)
        for key, e in report.items():
            a = key.rsplit(".", 1)[-1]
            if e.get("match") is not None and e.get("measurable", True):
                self.n[a] += 1
                self.hit[a] += bool(e["match"])
            if "." in key:
                groups[key.rsplit(".", 1)[0]][a] = e
        for g in groups.values():
            if "gravity" in g and "contacts" in g:
                self.grav[1] += 1
                self.grav[0] += bool(g["gravity"].get("match")) and bool(g["contacts"].get("match"))

    def cell(self, a: str) -> str:
        if a == "gravity target":
            ok, n = self.grav
        else:
            ok, n = self.hit[a], self.n[a]
        return f"{100.0 * ok / n:.1f} % ({ok}/{n})" if n else "-"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--count", type=int, default=200)
    p.add_argument("--seed", type=int, default=9_000_000, help="first held-out clip seed")
    p.add_argument("--duration", type=float, default=2.0, help="held-out clip length (s)")
    p.add_argument("--fps", type=int, default=8)
    p.add_argument("--out", type=Path, default=Path("benchmarks/results/motion_plans.md"))
    args = p.parse_args(argv)
    t_all = time.time()
    planned_t, truth_t = Tally(), Tally()
    n_planned, plan_walls, misses, wrong, time_ok = 0, [], [], [], 0
    for i in range(args.count):
        clip = render_motion_clip(
            args.seed + i, fps=args.fps, duration_s=args.duration, heldout="only"
        )
        prompt = clip.captions[i % len(clip.captions)]
        truth_t.add(measure(plan_from_motion_truth(clip.truth), clip.expected))
        t = time.time()
        plan = plan_motion(parse_prompt(prompt), args.duration, i, fps=args.fps)
        plan_walls.append(time.time() - t)
        if plan is None:
            misses.append(prompt)
            continue
        n_planned += 1
        report = measure(plan, clip.expected)
        planned_t.add(report)
        time_ok += plan.meta["time"] == clip.expected["time"]
        bad = sorted(k for k, e in report.items() if e.get("match") is False)
        if bad:
            wrong.append(
                f"{prompt} (truth: {clip.expected['time']}; plan: {plan.meta['time']}): "
                f"{', '.join(bad)}"
            )
    rows = [
        "count",
        "motion",
        "direction",
        "speed",
        "gravity",
        "contacts",
        "gravity target",
        "size",
        "colour",
        "shape",
    ]
    lines = [
        "# Motion plans on the held-out prompts",
        "",
        "Does the planner's plan of a caption move the way the caption says? Each plan's tracks "
        "go through the video checker's per-object measurements (motion class, direction, speed, "
        "gravity within 30 % and floor contacts, size, count) against the clip's analytic truth, "
        "as if the plan were a perfectly rendered clip. Colour and shape are only copied from "
        "the parsed prompt into the plan's meta (a plan never draws them): those rows measure the "
        "parser. The rendered clips' own tracks, measured the same way, are the ceiling.",
        "",
        f"- command: `python benchmarks/motion_plans.py --count {args.count}`",
        f"- prompts: {args.count} held-out clips (seeds {args.seed} to "
        f'{args.seed + args.count - 1}, heldout="only", {args.duration:g} s at {args.fps} fps, '
        "the captions and generation seeds of benchmarks/video_benchmark.py)",
        f"- planned: {n_planned} of {args.count} prompts ({100.0 * n_planned / args.count:.1f} %)",
        f"- planning time: median {1000 * float(np.median(plan_walls)):.1f} ms, max "
        f"{1000 * float(np.max(plan_walls)):.1f} ms per prompt (parse excluded)",
        f"- machine: {platform.machine()}, Python {sys.version.split()[0]}; whole run "
        f"{time.time() - t_all:.0f} s",
        "",
        "| attribute | planned (the plan's tracks) | rendered clips (ceiling) |",
        "|---|---|---|",
    ]
    for a in rows:
        lines.append(f"| {a} | {planned_t.cell(a)} | {truth_t.cell(a)} |")
    lines += [
        "",
        "Percentages are over the measurable entries (directions and translation speeds "
        "only with a static camera; the spin of a disc is not measurable).",
    ]
    lines += [
        "",
        f"The time word of the plan (parsed) equals the clip's in {time_ok} of {n_planned} "
        "planned prompts; the clips a caption leaves the time word out of are judged at "
        "their true rate.",
    ]
    if wrong:
        lines += ["", f"Plans with a mismatch ({len(wrong)}):", ""]
        lines += [f"- {w}" for w in wrong[:20]]
    if misses:
        lines += ["", f"Prompts without a plan ({len(misses)}):", ""]
        lines += [f"- {m}" for m in misses[:20]]
    text = "\n".join(lines) + "\n"
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text, encoding="utf-8")
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
