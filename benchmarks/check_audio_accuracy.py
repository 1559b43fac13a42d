"""Accuracy of the audio checkers on fresh SoundWorld clips, and SoundWorld's render throughput.

Renders ``--count`` clips (seeds from ``--seed-start``, disjoint from the tests' seeds), runs
``check_audio`` with each clip's ``.expected`` and writes a markdown table (attribute, n measured,
n not measurable, accuracy) to ``benchmarks/results/checkers_audio.md``.

    python benchmarks/check_audio_accuracy.py --count 500
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

from avgen.files import write_text
from avgen.worlds.audio_checks import check_audio
from avgen.worlds.sound import render_sound_clip

BAR = 95.0
DEFAULT_OUT = Path(__file__).parent / "results" / "checkers_audio.md"


def _group(clip) -> str:
    t = clip.truth
    if t["kind"] == "music":
        return f"{t['instrument']} / {t['pattern']}"
    if t["kind"] == "sfx":
        return "sfx: " + " + ".join(t["sound_effects"])
    return t["kind"]


def run(count: int, seed_start: int, heldout: str, verbose: bool) -> dict:
    stats = collections.defaultdict(lambda: {"measured": 0, "unmeasurable": 0, "correct": 0})
    failures: dict[str, list] = collections.defaultdict(list)
    render_s = check_s = audio_s = 0.0
    for seed in range(seed_start, seed_start + count):
        t0 = time.perf_counter()
        clip = render_sound_clip(seed, heldout=heldout)
        t1 = time.perf_counter()
        res = check_audio(clip.audio, clip.sr, clip.expected)
        t2 = time.perf_counter()
        render_s += t1 - t0
        check_s += t2 - t1
        audio_s += clip.audio.size / clip.sr
        for attr, r in res.items():
            s = stats[attr]
            if not r["measurable"]:
                s["unmeasurable"] += 1
                continue
            s["measured"] += 1
            s["correct"] += bool(r["match"])
            if not r["match"]:
                failures[attr].append((seed, _group(clip), clip.truth.get("effects"), r))
    if verbose:
        for attr, items in failures.items():
            print(f"--- {attr}: {len(items)} misses", file=sys.stderr)
            for seed, group, fx, r in items[:25]:
                info = {k: r[k] for k in ("expected", "measured")}
                print(f"  seed {seed} [{group}] fx={fx} {json.dumps(info)}", file=sys.stderr)
    return {
        "stats": dict(stats),
        "misses": {
            a: [(seed, group) for seed, group, _, _ in items] for a, items in failures.items()
        },
        "render_s": render_s,
        "check_s": check_s,
        "audio_s": audio_s,
        "count": count,
    }


def write_markdown(out: Path, result: dict, command: str, wall_s: float, seed_start: int) -> str:
    lines = [
        "# Audio checker accuracy on SoundWorld clips",
        "",
        f"Command: `{command}`",
        "",
        f"Clips: {result['count']} fresh SoundWorld clips, seeds {seed_start} to "
        f"{seed_start + result['count'] - 1} (the tests use seeds below 1000); each clip checked "
        "against its own `.expected`. Bar: >= 95 % per attribute.",
        "",
        "| attribute | n measured | n not measurable | accuracy % |",
        "|---|---:|---:|---:|",
    ]
    order = [
        "duration_s", "tempo_bpm", "tempo_class", "register", "pitch_direction", "tonal",
        "fade_in", "fade_out", "dynamics", "silence", "clipping",
    ]  # fmt: skip
    stats = result["stats"]
    for attr in order + sorted(set(stats) - set(order)):
        if attr not in stats:
            continue
        s = stats[attr]
        acc = 100.0 * s["correct"] / s["measured"] if s["measured"] else float("nan")
        flag = "" if acc >= BAR or not s["measured"] else " (below bar)"
        lines.append(f"| {attr} | {s['measured']} | {s['unmeasurable']} | {acc:.1f}{flag} |")
    n = result["count"]
    if result["misses"]:
        lines += ["", "Misses (seed: instrument / pattern or kind):", ""]
        for attr, items in sorted(result["misses"].items()):
            shown = ", ".join(f"{seed}: {group}" for seed, group in items[:12])
            more = f" and {len(items) - 12} more" if len(items) > 12 else ""
            lines.append(f"- {attr}: {shown}{more}")
    lines += [
        "",
        "Not measurable: tempo when a clip has no steady beat (a held note, a free-time alap) or",
        "fewer than 4 beats; register and pitch direction of the church organ, whose stacked",
        "16', 8' and 4' ranks make its octave ambiguous. Silence and clipping are checked on every",
        "clip (expected: neither).",
        "",
        "Known limits: the misses are mostly slow-attack or long-ringing timbres (the choir's",
        "legato notes blur the beat; a music box's earlier notes ring over the next one in an",
        "arpeggio) and clips of only 4-5 beats. The onset envelope is log-compressed, so below",
        "95 BPM off-beats within about 20 dB of the beat count as beats (the eighth-note tempo is",
        "reported); SoundWorld keeps its hi-hats softer than that.",
    ]
    lines += [
        "",
        f"Wall time: {wall_s:.1f} s on {os.cpu_count()} CPU cores "
        f"({platform.processor() or platform.machine()}), one process.",
        "",
        "Throughput (one core): rendering "
        f"{n / result['render_s']:.1f} clips/s ({1000 * result['render_s'] / n:.1f} ms per clip, "
        f"{result['audio_s'] / result['render_s']:.0f}x real time; mean clip "
        f"{result['audio_s'] / n:.1f} s); checking {n / result['check_s']:.1f} clips/s "
        f"({1000 * result['check_s'] / n:.1f} ms per clip).",
        "",
    ]
    text = "\n".join(lines)
    out.parent.mkdir(parents=True, exist_ok=True)
    write_text(out, text)  # a unique temporary name, then a rename
    return text


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--count", type=int, default=500)
    ap.add_argument("--seed-start", type=int, default=1_000_000)
    ap.add_argument("--heldout", default="any", choices=("exclude", "only", "any"))
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    ap.add_argument("--verbose", action="store_true", help="list the misses on stderr")
    ap.add_argument("--no-write", action="store_true", help="print the table only")
    args = ap.parse_args(argv)
    if args.count < 1:
        ap.error("--count must be at least 1")
    np.seterr(all="ignore")
    t0 = time.perf_counter()
    result = run(args.count, args.seed_start, args.heldout, args.verbose)
    wall = time.perf_counter() - t0
    command = "python benchmarks/check_audio_accuracy.py " + " ".join(
        a for a in (argv if argv is not None else sys.argv[1:]) if a != "--verbose"
    )
    if args.no_write:
        print(json.dumps(result["stats"], indent=1))
        print(f"wall {wall:.1f}s")
        return
    print(write_markdown(args.out, result, command.strip(), wall, args.seed_start))


if __name__ == "__main__":
    main()
