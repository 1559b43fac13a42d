"""Accuracy of the video checkers on fresh MotionWorld clips, whose answers are known.

Renders ``--count`` clips (seeds from ``--seed``, disjoint from the tests' seeds), runs
``check_video`` with each clip's ``.expected`` and counts, per attribute, how often a measurable
attribute matches (every clip is truthful, so every mismatch is a checker or world error).
A checker that always said "match" would pass that, so for every ``--negative-every``-th clip
the benchmark also runs the checker with one attribute of ``.expected`` changed to a wrong value
and counts how often that attribute is rejected. Writes a Markdown report with the exact
command, wall time and rendering throughput.

    python benchmarks/check_video_accuracy.py --count 500
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import platform
import re
import sys
import time
from collections import defaultdict
from pathlib import Path

from avgen.vocab import COLOURS, SCENES
from avgen.worlds.motion import render_motion_clip
from avgen.worlds.video_checks import check_video

BAR = 95.0

WRONG_SHAPE = {"circle": "square", "square": "triangle", "triangle": "circle"}
WRONG_SIZE = {"small": "large", "medium": "large", "large": "small"}
WRONG_MOTION = {
    "move": "still",
    "bounce": "spin",
    "fall": "rise",
    "rise": "fall",
    "spin": "fall",
    "grow": "shrink",
    "shrink": "grow",
    "circle": "still",
    "still": "bounce",
}
OPPOSITE = {"left": "right", "right": "left", "up": "down", "down": "up"}
WRONG_SPEED = {"slow": "fast", "normal": "fast", "fast": "slow"}
WRONG_CAMERA = {
    "static": "pan_left",
    "pan_left": "pan_right",
    "pan_right": "static",
    "zoom_in": "zoom_out",
    "zoom_out": "static",
}


def attribute_name(key: str) -> str:
    """'objects[1].colour' -> 'colour' (per-object attributes are pooled over objects)."""
    return re.sub(r"^objects\[\d+\]\.", "", key)


def perturbations(expected: dict) -> list[tuple[str, str, dict]]:
    """(attribute, result key, expected dict with that one attribute made wrong)."""
    out = []
    g0 = expected["objects"][0]
    used = {g["colour"] for g in expected["objects"]}

    def with_obj(**change) -> dict:
        e = copy.deepcopy(expected)
        e["objects"][0].update(change)
        return e

    colour = next(c for c in COLOURS if c not in used)
    out.append(("colour", "objects[0].colour", with_obj(colour=colour)))
    out.append(("shape", "objects[0].shape", with_obj(shape=WRONG_SHAPE[g0["shape"]])))
    out.append(("size", "objects[0].size", with_obj(size=WRONG_SIZE[g0["size"]])))
    out.append(("count", "objects[0].count", with_obj(count=g0["count"] + 1)))
    wrong_motion = WRONG_MOTION[g0["motion"]]
    out.append(("motion", "objects[0].motion", with_obj(motion=wrong_motion, direction=None)))
    if g0["direction"]:
        out.append(
            ("direction", "objects[0].direction", with_obj(direction=OPPOSITE[g0["direction"]]))
        )
    if g0["motion"] in ("move", "rise", "spin", "circle"):
        out.append(("speed", "objects[0].speed", with_obj(speed=WRONG_SPEED[g0["speed"]])))
    if g0["motion"] in ("bounce", "fall"):
        e = copy.deepcopy(expected)
        e["time"] = "time_lapse" if expected["time"] != "time_lapse" else "normal"
        out.append(("gravity", "objects[0].gravity", e))
    e = copy.deepcopy(expected)
    e["camera"] = WRONG_CAMERA[expected["camera"]]
    out.append(("camera", "camera", e))
    e = copy.deepcopy(expected)
    e["scene"] = next(s for s in sorted(SCENES) if s != expected["scene"])
    out.append(("scene", "scene", e))
    if expected["particles"]:
        e = copy.deepcopy(expected)
        e["particles"] = ["rain" if expected["particles"] == ["snow"] else "snow"]
        out.append(("particles", "particles", e))
    return out


def table(stats: dict[str, list[int]], header: str, bar: bool) -> tuple[list[str], bool]:
    rows = [header, "|---|---|---|---|---|"]
    all_ok = True
    for name in sorted(stats):
        m, n, nm = stats[name]
        acc = 100.0 * m / n if n else float("nan")
        ok = n == 0 or acc >= BAR
        all_ok &= ok
        rows.append(
            f"| {name} | {n} | {nm} | {acc:.1f} | {('yes' if ok else 'NO') if bar else '-'} |"
        )
    return rows, all_ok


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--count", type=int, default=500)
    ap.add_argument("--seed", type=int, default=1_000_000, help="first seed (tests use < 10000)")
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--fps", type=int, default=8)
    ap.add_argument("--negative-every", type=int, default=5, help="0: no wrong-answer controls")
    ap.add_argument("--out", default="benchmarks/results/checkers_video.md")
    ap.add_argument("--failures", default=None, help="write failing cases as JSON lines here")
    ap.add_argument("--quiet", action="store_true")
    args = ap.parse_args(argv)

    stats: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])  # matched, measured, not meas.
    neg: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])  # rejected, measured, not meas.
    failures = []
    t_render = t_check = t_neg = 0.0
    frames_total = 0
    t0 = time.perf_counter()
    for i in range(args.count):
        seed = args.seed + i
        ta = time.perf_counter()
        clip = render_motion_clip(seed, size=args.size, fps=args.fps)
        tb = time.perf_counter()
        res = check_video(clip.frames, clip.fps, clip.expected)
        tc = time.perf_counter()
        t_render += tb - ta
        t_check += tc - tb
        frames_total += len(clip.frames)
        for key, r in res.items():
            st = stats[attribute_name(key)]
            if r["measurable"]:
                st[1] += 1
                st[0] += bool(r["match"])
                if not r["match"]:
                    failures.append({"seed": seed, "key": key, **r})
            else:
                st[2] += 1
        if args.negative_every and i % args.negative_every == 0:
            for name, key, wrong in perturbations(clip.expected):
                r = check_video(clip.frames, clip.fps, wrong).get(key)
                st = neg[name]
                if r is None or not r["measurable"]:
                    st[2] += 1
                    continue
                st[1] += 1
                st[0] += r["match"] is False
                if r["match"]:
                    failures.append({"seed": seed, "key": key, "negative": True, **r})
            t_neg += time.perf_counter() - tc
        if not args.quiet and (i + 1) % 50 == 0:
            print(f"{i + 1}/{args.count} clips", file=sys.stderr)
    wall = time.perf_counter() - t0

    rows, all_ok = table(
        stats, "| attribute | n measured | n not measurable | accuracy % | >= bar |", True
    )
    neg_rows, _ = table(
        neg, "| attribute made wrong | n measured | n not measurable | rejected % | |", False
    )
    cmd = "python benchmarks/check_video_accuracy.py " + " ".join(
        sys.argv[1:] if argv is None else argv
    )
    n_neg = len(range(0, args.count, args.negative_every)) if args.negative_every else 0
    text = "\n".join(
        [
            "# Video checker accuracy on MotionWorld clips",
            "",
            f"Command: `{cmd.strip()}`",
            "",
            f"- clips: {args.count} (seeds {args.seed} to {args.seed + args.count - 1}), "
            f"{args.size}x{args.size}, {args.fps} fps, {frames_total} frames",
            f"- wall time: {wall:.1f} s (render {t_render:.1f} s, check {t_check:.1f} s, "
            f"wrong-answer controls {t_neg:.1f} s), one process on "
            f"{platform.processor() or platform.machine()}, {os.cpu_count()} logical CPUs "
            "on the machine (shared with other jobs)",
            f"- rendering throughput: {args.count / t_render:.2f} clips/s per core "
            f"({t_render / args.count * 1000:.0f} ms a clip, mean length "
            f"{frames_total / args.count / args.fps:.2f} s)",
            f"- checking: {t_check / args.count * 1000:.0f} ms a clip",
            f"- bar: >= {BAR:.0f} % per attribute; all met: {'yes' if all_ok else 'NO'}",
            "",
            "## Truthful clips: the checker with each clip's own `.expected`",
            "",
            *rows,
            "",
            "## Wrong-answer controls: one attribute of `.expected` made wrong",
            "",
            f"{n_neg} clips (every {args.negative_every}th); for object attributes the first "
            "object group is changed (colour to one absent from the clip, shape, size class, "
            "count + 1, motion, opposite direction, speed word, time factor for gravity); "
            "camera, scene and particle layer to another value. Rejected = the checker reports "
            "`match: false` for that attribute.",
            "",
            *neg_rows,
            "",
            "## Scope",
            "",
            "The clips are MotionWorld's own: exact colours, flat shapes, no compression. The "
            "checker was tuned on other seed ranges (2,000,000 to 5,000,299) and is reported "
            "here on fresh seeds. Accuracy on imperfect generated video (colour drift, blur, "
            "codec noise) is not measured here; expect it to be lower, mostly for shape, "
            "gravity, particles and the camera. Not measurable: directions and translation "
            "speeds under a moving camera (docs/WORLDS.md), the spin of a disc, a camera move over "
            "a featureless backdrop (dark without stars, gray, sky).",
            "",
        ]
    )
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(text)
    if args.failures:
        with open(args.failures, "w") as fh:
            for f in failures:
                fh.write(json.dumps(f, default=str) + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
