"""Rendering throughput of the worlds, and the time to write a 1000-clip AVWorld data set.

Part 1 renders ``--per-kind`` clips of each world in this one process (one core) and splits an
AV clip's cost into its parts (picture, soundtrack, MP4 encoding). Part 2 times
``write_world_dataset("av", --count, ..., size=64, fps=8, duration_s=4)`` over every core, the
way ``avgen data world`` runs it. The load average is recorded: the machine may be shared.

    python benchmarks/render_speed.py --count 1000
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path

from avgen import media
from avgen.worlds import av as av_world
from avgen.worlds.av import render_av_clip
from avgen.worlds.dataset import write_world_dataset
from avgen.worlds.motion import render_motion_clip
from avgen.worlds.sound import render_sound_clip

DURATION_S = 4.0


def per_core(n: int, size: int, fps: int, tmp: Path) -> dict[str, dict[str, float]]:
    """Seconds per clip for rendering and for rendering + writing, per world, on one core."""
    rows: dict[str, dict[str, float]] = {}
    seeds = range(5_000_000, 5_000_000 + n)
    kinds = {
        "audio": lambda s: render_sound_clip(s, duration_s=DURATION_S),
        "video": lambda s: render_motion_clip(s, size=size, fps=fps, duration_s=DURATION_S),
        "av": lambda s: render_av_clip(s, size=size, fps=fps, duration_s=DURATION_S),
    }
    picture = [0.0]
    real_spec = av_world.render_motion_spec

    def timed_spec(*a, **k):  # the picture's share of an AV clip
        t = time.perf_counter()
        out = real_spec(*a, **k)
        picture[0] += time.perf_counter() - t
        return out

    for kind, render in kinds.items():
        if kind == "av":
            av_world.render_motion_spec = timed_spec
        t_render = t_write = 0.0
        for s in seeds:
            t0 = time.perf_counter()
            clip = render(s)
            t1 = time.perf_counter()
            if kind == "audio":
                media.write_audio(tmp / "a.wav", clip.audio, clip.sr)
            elif kind == "video":
                media.write_mp4(tmp / "v.mp4", clip.frames, clip.fps)
            else:
                media.write_mp4(tmp / "v.mp4", clip.frames, clip.fps, clip.audio, clip.sr)
            t2 = time.perf_counter()
            t_render += t1 - t0
            t_write += t2 - t1
        rows[kind] = {"render": t_render / n, "write": t_write / n}
    av_world.render_motion_spec = real_spec
    rows["av"]["picture"] = picture[0] / n
    rows["av"]["soundtrack"] = rows["av"]["render"] - picture[0] / n
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--count", type=int, default=1000, help="clips in the timed data set")
    ap.add_argument("--per-kind", type=int, default=30, help="clips per world for part 1")
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--fps", type=int, default=8)
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--skip-dataset", action="store_true")
    ap.add_argument("--out", default="benchmarks/results/render_speed.md")
    args = ap.parse_args(argv)
    tmp = Path(tempfile.mkdtemp(prefix="avgen-speed-"))
    try:
        load_a = os.getloadavg()
        rows = per_core(args.per_kind, args.size, args.fps, tmp)
        lines = [
            "# World rendering speed",
            "",
            f"Command: `python benchmarks/render_speed.py {' '.join(sys.argv[1:])}`  ",
            f"Machine: {platform.machine()}, {os.cpu_count()} cores, Python "
            f"{platform.python_version()}; load average at the start {load_a[0]:.1f} "
            "(the machine is shared with other jobs).",
            "",
            f"## One core, {DURATION_S:g} s clips, {args.size}x{args.size} px at {args.fps} fps "
            f"({args.per_kind} clips per world)",
            "",
            "| world | render (s/clip) | write file (s/clip) | clips/s per core |",
            "|---|---|---|---|",
        ]
        for kind, r in rows.items():
            total = r["render"] + r["write"]
            lines.append(
                f"| {kind} | {r['render']:.3f} | {r['write']:.3f} | {1 / max(total, 1e-9):.1f} |"
            )
        av = rows["av"]
        lines += [
            "",
            f"An AV clip: picture {av['picture']:.3f} s (MotionWorld), soundtrack and captions "
            f"{av['soundtrack']:.3f} s, H.264 + AAC MP4 {av['write']:.3f} s.",
            "",
        ]
        if not args.skip_dataset:
            out = tmp / "av_dataset"
            load_b = os.getloadavg()
            t0 = time.perf_counter()
            write_world_dataset(
                "av",
                args.count,
                out,
                seed=7,
                size=args.size,
                fps=args.fps,
                duration_s=DURATION_S,
                workers=args.workers,
                quiet=True,
            )
            wall = time.perf_counter() - t0
            load_c = os.getloadavg()
            n_files = len(list(out.glob("clip_*.mp4")))
            size_mb = sum(p.stat().st_size for p in out.iterdir()) / 1e6
            lines += [
                f'## `write_world_dataset("av", {args.count}, ..., size={args.size}, '
                f"fps={args.fps}, duration_s={DURATION_S:g})`",
                "",
                f"Wall time **{wall:.1f} s** ({wall / 60:.2f} min; limit 10 min) on "
                f"{args.workers} worker processes: {args.count / wall:.2f} clips/s, "
                f"{args.count / wall / args.workers:.2f} clips/s per worker. {n_files} MP4 files "
                f"and metadata.jsonl, {size_mb:.1f} MB. Load average before {load_b[0]:.1f}, "
                f"after {load_c[0]:.1f} (1-minute).",
                "",
                f"Expected from part 1 at {args.workers} cores: "
                f"{args.count * (av['render'] + av['write']) / args.workers:.0f} s.",
                "",
            ]
        text = "\n".join(lines)
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(text)
        print(text)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
