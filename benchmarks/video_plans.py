"""Benchmark of plan-following video generation: text only against planned, side by side.

On the held-out MotionWorld prompts of ``video_benchmark.py`` (same clip seeds, captions, clip
length and generation seeds), each ``run`` generates every prompt with one model folder in one
condition and writes one JSON file of per-prompt measurements:

- ``text``: the text alone (``motion_plan=None``), what ``avgen video --no-plan`` does;
- ``plan``: the planner's plan of the caption (``avgen.plan.plan_motion``, seed = the generation
  seed, what ``avgen video PROMPT --seed i`` follows by default with a plan-following model).

Measured per clip: the video checker's attributes (``check_video``), object permanence (the
object count, counted per frame as the object-coloured blobs the checker's segmentation finds,
stays at its commonest value in at least 90 % of the frames) and, for planned clips, plan
adherence: each planned object is matched to one tracked object (least mean distance, optimal
assignment) and the distance of their centres is taken in every frame where both are seen, in
pixels of the 64x64 output. ``report`` puts runs side by side in one Markdown table.

    python benchmarks/video_plans.py run --model avgen/models/video --condition text \
        --count 200 --out runs/bench/video_v3_text.json
    python benchmarks/video_plans.py report --runs "v3 text=runs/bench/video_v3_text.json" \
        "v4 text=..." "v4 planned=..." --out benchmarks/results/video_plans.md
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from scipy import ndimage
from scipy.optimize import linear_sum_assignment

sys.path.insert(0, str(Path(__file__).resolve().parent))

from video_benchmark import MAIN_ATTRS, Tally, held_out  # noqa: E402

from avgen.plan import plan_motion  # noqa: E402
from avgen.prompts import parse_prompt  # noqa: E402
from avgen.worlds.video_checks import _analyse, check_video  # noqa: E402
from avgen.worlds.video_tracking import OBJ_NAMES, _min_area  # noqa: E402

PERMANENCE_SHARE = 0.9
TARGETS = {"direction": 90.0, "count": 80.0, "permanence": 90.0, "centre_px": 2.0}


def blob_counts(frames: np.ndarray, expected: dict) -> tuple[list[int], list]:
    """Per frame, how many object-coloured blobs (at least the tracker's minimum area) the
    checker's segmentation finds, and the checker's tracks of the clip."""
    camera = expected.get("camera") or "static"
    _, an = _analyse(
        frames, expected.get("scene"), camera == "static", tuple(expected.get("particles") or ())
    )
    min_area = _min_area(frames.shape[2])
    counts = []
    for f in range(len(frames)):
        n = 0
        for k in range(len(OBJ_NAMES)):
            lab, m = ndimage.label(an.labels[f] == k + 1)
            if m:
                sizes = ndimage.sum_labels(np.ones_like(lab), lab, np.arange(1, m + 1))
                n += int((sizes >= min_area).sum())
        counts.append(n)
    return counts, an.tracks


def permanent(counts: list[int]) -> bool:
    """The count stays at its commonest value in at least 90 % of the frames."""
    vals, freq = np.unique(counts, return_counts=True)
    return bool(freq.max() >= PERMANENCE_SHARE * len(counts)) and bool(vals[freq.argmax()] > 0)


def centre_errors(plan: Any, tracks: list, width: int, height: int) -> dict[str, Any]:
    """Planned against tracked centres (pixels): every (object, frame) distance of the matched
    pairs, and how many planned objects found no track."""
    want = plan.centres()  # (F, K, 2) fractions, NaN where not visible
    want = want * np.array([width, height])
    got = np.stack([t.centre for t in tracks], axis=1) if tracks else np.zeros((len(want), 0, 2))
    got = got * np.array([width, width])  # tracks are in frame widths, y included
    n = min(len(want), len(got))
    want, got = want[:n], got[:n]
    k_plan, k_track = want.shape[1], got.shape[1]
    if k_plan == 0:
        return {"distances": [], "unmatched": 0, "planned": 0}
    cost = np.full((k_plan, max(k_track, 1)), 1e6)
    for i in range(k_plan):
        for j in range(k_track):
            d = np.linalg.norm(want[:, i] - got[:, j], axis=1)
            if np.isfinite(d).any():
                cost[i, j] = float(np.nanmean(d))
    rows, cols = linear_sum_assignment(cost)
    dist: list[float] = []
    matched = 0
    for i, j in zip(rows, cols, strict=True):
        if j >= k_track or cost[i, j] >= 1e6:
            continue
        matched += 1
        d = np.linalg.norm(want[:, i] - got[:, j], axis=1)
        dist += [float(v) for v in d[np.isfinite(d)]]
    return {"distances": dist, "unmatched": k_plan - matched, "planned": k_plan}


def run(args: argparse.Namespace) -> int:
    from avgen.pipelines.engines import engine_loader, folder_engine

    torch.set_num_threads(args.threads)
    pipe = engine_loader(folder_engine(args.model) if args.model else "dit")(args.model)
    pipe.encode_prompt("warm up", None)
    fps = int(pipe.config["fps"])
    size = int(pipe.config["native_size"])
    n_frames = int(round(args.duration * fps))
    if args.condition == "plan" and not pipe.follows_plans:
        raise SystemExit(f"{args.model} does not follow motion plans")
    sampling = {"num_inference_steps": args.steps, "guidance_scale": args.guidance}
    rows = []
    started = time.time()
    for i, (prompt, clip) in enumerate(held_out(args.count, args.seed, args.duration)):
        plan = None
        if args.condition == "plan":
            plan = plan_motion(parse_prompt(prompt), args.duration, i, fps=fps, width=size,
                               height=size)  # fmt: skip
        t = time.time()
        out = pipe(
            prompt,
            num_frames=n_frames,
            generator=torch.Generator().manual_seed(i),
            motion_plan=plan,
            **sampling,
        )
        wall = time.time() - t
        report = check_video(out.frames, fps, clip.expected)
        counts, tracks = blob_counts(out.frames, clip.expected)
        row = {
            "i": i,
            "prompt": prompt,
            "seconds": round(wall, 3),
            "report": report,
            "counts": counts,
            "permanent": permanent(counts),
            "planned": plan is not None,
        }
        if plan is not None:
            row["centre"] = centre_errors(plan, tracks, size, size)
        rows.append(row)
        if (i + 1) % 25 == 0:
            print(f"{i + 1}/{args.count} {time.time() - started:.0f} s", file=sys.stderr)
    meta = {
        "model": str(args.model),
        "condition": args.condition,
        "count": args.count,
        "seed": args.seed,
        "duration": args.duration,
        "threads": args.threads,
        "argv": " ".join(["python benchmarks/video_plans.py", *sys.argv[1:]]),
        "engine": folder_engine(args.model) if args.model else "dit",
        "steps": int(args.steps or pipe.config["num_inference_steps"]),
        "guidance": float(args.guidance or pipe.config["guidance_scale"]),
        "wall_s": round(time.time() - started, 1),
        "machine": f"{platform.machine()}, Python {platform.python_version()}",
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"meta": meta, "rows": rows}, default=_plain))
    print(json.dumps(summarise(rows)), flush=True)
    return 0


TITLE = "Video plans: text only against planned generation (held-out MotionWorld prompts)"


def _plain(v: Any) -> Any:
    if isinstance(v, np.generic):
        return v.item()
    if isinstance(v, np.ndarray):
        return v.tolist()
    raise TypeError(type(v))


def summarise(rows: list[dict]) -> dict[str, Any]:
    tally = Tally()
    for r in rows:
        tally.add(r["report"])
    out: dict[str, Any] = {a: tally.pct(a) for a in MAIN_ATTRS if tally.n[a]}
    out["n"] = {a: tally.n[a] for a in MAIN_ATTRS if tally.n[a]}
    out["gravity_target"] = tally.grav_pct()
    out["gravity_n"] = tally.grav_n
    out["permanence"] = 100.0 * np.mean([r["permanent"] for r in rows])
    out["seconds"] = float(np.mean([r["seconds"] for r in rows]))
    planned = [r for r in rows if r.get("centre")]
    if planned:
        dist = [d for r in planned for d in r["centre"]["distances"]]
        per_clip = [np.median(d) for r in planned if (d := r["centre"]["distances"])]
        out["centre_px"] = float(np.median(dist)) if dist else float("nan")
        out["centre_px_clip_median"] = float(np.median(per_clip)) if per_clip else float("nan")
        out["within_2px"] = 100.0 * float(np.mean(np.array(dist) <= 2.0)) if dist else 0.0
        out["unmatched"] = sum(r["centre"]["unmatched"] for r in planned)
        out["planned_objects"] = sum(r["centre"]["planned"] for r in planned)
        out["planned_clips"] = len(planned)
    return out


def report(args: argparse.Namespace) -> int:
    runs = []
    for spec in args.runs:
        label, _, path = spec.partition("=")
        data = json.loads(Path(path).read_text())
        runs.append((label, data["meta"], summarise(data["rows"]), data["rows"]))
    ref = runs[0][2]
    lines = [
        f"# {args.title}",
        "",
        "Commands:",
        "",
        "```bash",
    ]
    for label, meta, _, _ in runs:
        lines.append(
            meta["argv"]
            if "argv" in meta
            else f"python benchmarks/video_plans.py run --model {meta['model']} --condition "
            f"{meta['condition']} --count {meta['count']} --threads {meta['threads']} "
            f"--out runs/bench/{Path(_path_of(args.runs, label)).name}"
        )
    lines.append(
        "python benchmarks/video_plans.py report --runs "
        + " ".join(f'"{s}"' for s in args.runs)
        + f" --out {args.out}"
    )
    m0 = runs[0][1]
    lines += [
        "```",
        "",
        f"- prompts: {m0['count']} held-out clips (seeds {m0['seed']} to "
        f'{m0["seed"] + m0["count"] - 1}, heldout="only", {m0["duration"]:g} s at 8 fps, '
        "64x64), the captions and generation seeds of benchmarks/video_benchmark.py (video.md)",
        "- planned: the planner's plan of the caption, plan seed = generation seed",
        f"- machine: {m0['machine']}, {m0['threads']} torch thread(s), a 2-core CPU shared "
        "with other jobs (times are comparable within one row set only)",
        "",
        "| attribute | n | " + " | ".join(label for label, *_ in runs) + " | target (planned) |",
        "|---|---|" + "---|" * len(runs) + "---|",
    ]
    for a in MAIN_ATTRS:
        if a not in ref:
            continue
        cells = [f"{s.get(a, float('nan')):.1f}" for _, _, s, _ in runs]
        target = f">= {TARGETS[a]:g} %" if a in TARGETS else ""
        lines.append(f"| {a} | {ref['n'][a]} | " + " | ".join(cells) + f" | {target} |")
    grav = " | ".join(f"{s['gravity_target']:.1f}" for _, _, s, _ in runs)
    lines.append(
        f"| gravity target | {ref['gravity_n']} | {grav} | >= the VAE round trip (50.0 %) |"
    )
    perm = " | ".join(f"{s['permanence']:.1f}" for _, _, s, _ in runs)
    lines.append(f"| object permanence | {m0['count']} | {perm} | >= 90 % |")
    cen = " | ".join(
        f"{s['centre_px']:.2f}" if "centre_px" in s else "" for _, _, s, _ in runs
    )  # fmt: skip
    lines.append(f"| plan adherence: median centre error (px at 64x64) | | {cen} | <= 2 px |")
    w2 = " | ".join(f"{s['within_2px']:.1f}" if "within_2px" in s else "" for _, _, s, _ in runs)
    lines.append(f"| (object, frame) pairs within 2 px (%) | | {w2} | |")
    um = " | ".join(
        f"{s['unmatched']} of {s['planned_objects']}" if "unmatched" in s else ""
        for _, _, s, _ in runs
    )
    lines.append(f"| planned objects with no tracked object | | {um} | |")
    secs = " | ".join(f"{s['seconds']:.2f}" for _, _, s, _ in runs)
    lines.append(f"| seconds per 2 s clip (mean) | | {secs} | planned <= 1.2x text |")
    sps = " | ".join(f"{s['seconds'] / m['duration']:.2f}" for _, m, s, _ in runs)
    lines.append(f"| seconds of compute per second of video | | {sps} | |")
    if args.stories:
        lines += story_rows(args.stories)
    lines += ["", "Changes in prompts against the first column (+ gained, - lost):", ""]
    for label, _, _, rows in runs[1:]:
        lines.append(f"- {label}: " + _prompt_changes(runs[0][3], rows))
    lines.append("")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines))
    print("\n".join(lines))
    return 0


def story_rows(specs: list[str]) -> list[str]:
    """The headline rows of story.py runs (its ``.json`` summaries), one row per run."""
    lines = [
        "",
        "Stories (benchmarks/story.py: 50 held-out three-shot stories, 2 + 1.5 + 1.5 s):",
        "",
        "```bash",
    ]
    runs = []
    for spec in specs:
        label, _, path = spec.partition("=")
        runs.append((label, json.loads(Path(path).read_text())))
        lines.append(runs[-1][1]["command"])
    lines += [
        "```",
        "",
        "| stories | identity kept across joins (>= 90 %) | no-join floor | cold cut | "
        "join change / inside change (<= 1.3x) | seconds per second of video |",
        "|---|---|---|---|---|---|",
    ]

    def pct(v: float | None) -> str:
        return "-" if v is None else f"{100.0 * v:.1f} %"

    for label, s in runs:
        kept, ratio = s["identity_kept"], s["join_ratio_median"]
        lines.append(
            f"| {label} | {pct(kept['story'])} | {pct(kept['inside'])} | {pct(kept['cold'])} | "
            f"{ratio['story']:.2f}x (cold cut {ratio['cold']:.2f}x) | "
            f"{s['seconds_per_video_second']:.2f} ({s['threads']} thread) |"
        )
    return lines


def _path_of(specs: list[str], label: str) -> str:
    for s in specs:
        if s.partition("=")[0] == label:
            return s.partition("=")[2]
    return ""


def _prompt_changes(base: list[dict], rows: list[dict]) -> str:
    """Per attribute, prompts that went from wrong to right (+) and right to wrong (-)."""
    out = []
    for a in MAIN_ATTRS:
        gain = lost = 0
        for r0, r1 in zip(base, rows, strict=False):
            m0 = _prompt_match(r0["report"], a)
            m1 = _prompt_match(r1["report"], a)
            if m0 is None or m1 is None:
                continue
            gain += m1 and not m0
            lost += m0 and not m1
        if gain or lost:
            out.append(f"{a} +{gain}/-{lost}")
    return ", ".join(out) or "none"


def _prompt_match(report: dict, a: str) -> bool | None:
    """All measurable entries of attribute ``a`` in one prompt's report match (None: none)."""
    vals = [
        bool(e["match"])
        for k, e in report.items()
        if k.split(".")[-1] == a and e.get("measurable") and e.get("match") is not None
    ]
    return all(vals) if vals else None


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run", help="generate and measure one model in one condition")
    r.add_argument("--model", default=None)
    r.add_argument("--condition", choices=("text", "plan"), required=True)
    r.add_argument("--count", type=int, default=200)
    r.add_argument("--seed", type=int, default=9_000_000)
    r.add_argument("--duration", type=float, default=2.0)
    r.add_argument("--threads", type=int, default=1)
    r.add_argument("--steps", type=int, default=None, help="sampling steps (default: the model's)")
    r.add_argument("--guidance", type=float, default=None, help="default: the model's")
    r.add_argument("--out", type=Path, required=True)
    q = sub.add_parser("report", help="runs side by side, as Markdown")
    q.add_argument("--runs", nargs="+", required=True, help="LABEL=run.json, first is the base")
    q.add_argument("--out", type=Path, default=Path("benchmarks/results/video_plans.md"))
    q.add_argument("--title", default=TITLE)
    q.add_argument("--stories", nargs="*", default=[], help="LABEL=story.json (story.py's)")
    args = p.parse_args(argv)
    return run(args) if args.cmd == "run" else report(args)


if __name__ == "__main__":
    raise SystemExit(main())
