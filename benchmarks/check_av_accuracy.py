"""Accuracy of the AV sync checker on fresh AVWorld clips, whose event times are known.

Renders ``--count`` AVWorld clips (seeds from ``--seed``, disjoint from the tests' seeds) and
runs ``check_av_sync`` on each, twice: on the rendered arrays and after an H.264/AAC MP4 round
trip (what ``avgen eval check`` reads). Reports, against the ground-truth event times:

- visual events: |found - true| in ms (median, 95th percentile, max), the share of true events
  found within 20 ms, missed events (none found within one frame) and false ones;
- audio onsets: |nearest onset - true| in ms;
- sync: |audio onset - visual event| per found event, and how many clips come out in sync
  (every clip is rendered in sync, so each "not in sync" is a checker error).

    python benchmarks/check_av_accuracy.py --count 500
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import platform
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

from avgen import media
from avgen.worlds.av import render_av_clip
from avgen.worlds.av_checks import audio_onsets, check_av_sync


def measure(job: tuple[int, int, int]) -> dict:
    """Both checker passes on one clip: per-event errors, onsets, offsets and timings."""
    seed, size, fps = job
    t0 = time.perf_counter()
    clip = render_av_clip(seed, size=size, fps=fps)
    t_render = time.perf_counter() - t0
    truth = clip.truth["events"]
    out: dict = {"seed": seed, "n_events": len(truth), "t_render": t_render}
    with tempfile.TemporaryDirectory() as tmp:
        path = media.write_mp4(Path(tmp) / "c.mp4", clip.frames, clip.fps, clip.audio, clip.sr)
        decoded = media.read_mp4(path)
    for name, (frames, rate, audio, sr) in (
        ("raw", (clip.frames, clip.fps, clip.audio, clip.sr)),
        ("mp4", decoded),
    ):
        t1 = time.perf_counter()
        res = check_av_sync(frames, rate, audio, sr, {**clip.expected, "events": truth})
        t_check = time.perf_counter() - t1
        ev = res["events"]["measured"]
        onsets = np.array([o["t"] for o in audio_onsets(audio, sr)])
        audio_err = [
            float(np.min(np.abs(onsets - e["t"])) * 1000) if len(onsets) else None for e in truth
        ]
        sync = res["sync"]
        offsets = [
            abs(e["offset_ms"]) for e in sync["measured"]["events"] if e["offset_ms"] is not None
        ]
        out[name] = {
            "errors_ms": ev["errors_ms"],
            "kinds": [f"{e['kind']}/{e['surface']}" for e in truth],
            "missed": ev["missed"],
            "false": ev["false"],
            "audio_err_ms": audio_err,
            "offsets_ms": offsets,
            "measurable": sync["measurable"],
            "in_sync": sync["match"],
            "t_check": t_check,
        }
    return out


def _pct(values: list[float], q: float) -> str:
    return f"{np.percentile(values, q):.2f}" if values else "-"


def summarise(results: list[dict], name: str) -> dict:
    errs, audio, offsets = [], [], []
    n_true = missed = false = within = measurable = in_sync = 0
    kinds: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])  # events, within 20 ms, missed
    for r in results:
        m = r[name]
        n_true += r["n_events"]
        missed += m["missed"]
        false += m["false"]
        for kind, e in zip(m["kinds"], m["errors_ms"]):
            kinds[kind][0] += 1
            if e is None:
                kinds[kind][2] += 1
                continue
            errs.append(abs(e))
            if abs(e) <= 20:
                within += 1
                kinds[kind][1] += 1
        audio += [a for a in m["audio_err_ms"] if a is not None]
        offsets += m["offsets_ms"]
        if m["measurable"]:
            measurable += 1
            in_sync += bool(m["in_sync"])
    return {
        "n_true": n_true,
        "errs": errs,
        "within": within,
        "missed": missed,
        "false": false,
        "audio": audio,
        "offsets": offsets,
        "measurable": measurable,
        "in_sync": in_sync,
        "kinds": dict(kinds),
        "t_check": float(np.mean([r[name]["t_check"] for r in results])),
    }


def report(args: argparse.Namespace, results: list[dict], wall: float, load: tuple) -> str:
    clips_with = sum(r["n_events"] > 0 for r in results)
    lines = [
        "# AV sync checker accuracy (AVWorld ground truth)",
        "",
        f"Command: `python benchmarks/check_av_accuracy.py {' '.join(sys.argv[1:])}`  ",
        f"Clips: {len(results)} fresh AVWorld clips (seeds {args.seed} to "
        f"{args.seed + args.count - 1}), {args.size}x{args.size} px at {args.fps} fps "
        f"(one frame = {1000 / args.fps:.0f} ms); {clips_with} of them show events.  ",
        f"Wall time: {wall:.0f} s on {args.workers} worker processes "
        f"({platform.machine()}, {os.cpu_count()} cores; load average before/after: "
        f"{load[0]:.1f} / {load[1]:.1f}, shared with other jobs).  ",
        f"Mean time per clip: render {np.mean([r['t_render'] for r in results]):.3f} s.",
        "",
    ]
    for name, title in (("mp4", "After an H.264 + AAC MP4 round trip"), ("raw", "On the arrays")):
        s = summarise(results, name)
        n = max(s["n_true"], 1)
        lines += [
            f"## {title}",
            "",
            f"Checker time per clip: {s['t_check']:.3f} s.",
            "",
            "| measure | median | 95th pct | max | other |",
            "|---|---|---|---|---|",
            f"| visual event time error (ms) | {_pct(s['errs'], 50)} | {_pct(s['errs'], 95)} | "
            f"{max(s['errs'], default=0):.1f} | {100 * s['within'] / n:.1f}% of {s['n_true']} "
            f"true events found within 20 ms; {s['missed']} missed, {s['false']} false |",
            f"| audio onset error (ms) | {_pct(s['audio'], 50)} | {_pct(s['audio'], 95)} | "
            f"{max(s['audio'], default=0):.1f} | "
            f"{100 * np.mean(np.array(s['audio']) <= 5):.1f}% within 5 ms |",
            f"| AV offset reported (ms) | {_pct(s['offsets'], 50)} | {_pct(s['offsets'], 95)} | "
            f"{max(s['offsets'], default=0):.1f} | {s['in_sync']} of {s['measurable']} "
            f"measurable clips judged in sync (40 ms tolerance) |",
            "",
            "| event kind | true events | found within 20 ms | missed |",
            "|---|---|---|---|",
        ]
        for kind, (count, ok, miss) in sorted(s["kinds"].items()):
            lines.append(f"| {kind} | {count} | {100 * ok / max(count, 1):.1f}% | {miss} |")
        lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--count", type=int, default=500)
    ap.add_argument("--seed", type=int, default=3_000_000, help="first seed (tests use < 10000)")
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--fps", type=int, default=8)
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--out", default="benchmarks/results/checkers_av.md")
    ap.add_argument("--failures", default=None, help="write failing clips as JSON lines here")
    args = ap.parse_args(argv)
    jobs = [(args.seed + i, args.size, args.fps) for i in range(args.count)]
    load0 = os.getloadavg()[0]
    t0 = time.perf_counter()
    if args.workers > 1:
        with mp.get_context("spawn").Pool(args.workers) as pool:
            results = list(pool.imap(measure, jobs, chunksize=4))
    else:
        results = [measure(j) for j in jobs]
    wall = time.perf_counter() - t0
    text = report(args, results, wall, (load0, os.getloadavg()[0]))
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(text)
    if args.failures:
        with open(args.failures, "w") as f:
            for r in results:
                m = r["mp4"]
                late = any(e is None or abs(e) > 20 for e in m["errors_ms"])
                if late or m["false"] or (m["measurable"] and not m["in_sync"]):
                    f.write(json.dumps(r) + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
