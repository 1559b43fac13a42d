"""Long output: peak memory (RSS) and compute per second of output for long video, audio, AV
clips and stories made through ``avgen.api`` with the shipped models, each case in a fresh process.

Video frames are streamed to the H.264 encoder window by window and long audio is decoded in
blocks, so memory should not grow with the length: each kind is measured at 60 s and 120 s
(``--seconds``; stories and AV clips at ``--story-seconds``), beside the process that only
loads the models.

Usage: ``python benchmarks/long_output.py [--seconds 60 120] [--threads 1] [--out FILE]``.
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

VIDEO_PROMPT = "a small red ball bouncing in a grass field"
AUDIO_PROMPT = "a calm piano melody with soft rain"
AV_PROMPT = "a red ball bouncing on a grass field, with a thud at every bounce, over soft rain"
STORY_SHOTS = (
    "a small red ball bouncing in a grass field, with a gentle piano melody",
    "then it is sliding to the right",
    "now it is spinning, with soft rain",
    "then it is rising",
    "now it is sliding to the left, with a calm flute melody",
    "then it is resting",
)


def run_case(kind: str, seconds: float, out: Path) -> dict[str, Any]:
    """Make one output (in this process) and return its numbers."""
    import torch

    from avgen import api

    t0 = time.time()
    r0 = resource.getrusage(resource.RUSAGE_SELF)
    if kind == "load":
        api.video_pipeline().encode_prompt("warm up", None)
        api.audio_pipeline()
    elif kind == "video":
        api.text_to_video(VIDEO_PROMPT, out / "v.mp4", duration_s=seconds, quiet=True)
    elif kind == "audio":
        api.text_to_audio(AUDIO_PROMPT, out / "a.wav", audio_length_in_s=seconds, quiet=True)
    elif kind == "av":
        api.generate_av(AV_PROMPT, out / "av.mp4", duration_s=seconds, quiet=True)
    elif kind == "story":
        shots = list(STORY_SHOTS)
        api.generate_story(shots, out / "s.mp4", duration_s=seconds, quiet=True)
    else:
        raise SystemExit(f"unknown case {kind}")
    r1 = resource.getrusage(resource.RUSAGE_SELF)
    return {
        "kind": kind,
        "seconds": seconds,
        "wall_s": time.time() - t0,
        "cpu_s": (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime),
        "peak_rss_mib": r1.ru_maxrss / 1024.0,  # kilobytes on Linux
        "threads": torch.get_num_threads(),
        "bytes": sum(p.stat().st_size for p in out.iterdir()),
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seconds", type=float, nargs="+", default=[60.0, 120.0])
    p.add_argument("--kinds", nargs="+", default=["video", "audio", "av", "story"])
    p.add_argument("--story-seconds", type=float, nargs="+", default=[60.0],
                   help="story and AV lengths (they cost video and audio together)")  # fmt: skip
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--out", type=Path, default=Path("benchmarks/results/long_output.md"))
    p.add_argument("--case", nargs=2, default=None, help=argparse.SUPPRESS)  # KIND SECONDS
    args = p.parse_args(argv)
    if args.case is not None:  # the child: one case, its numbers as JSON on stdout
        import torch

        torch.set_num_threads(args.threads)
        with tempfile.TemporaryDirectory() as tmp:
            print(json.dumps(run_case(args.case[0], float(args.case[1]), Path(tmp))))
        return 0
    rows = []
    cases = [("load", 0.0)] + [
        (k, s)
        for k in args.kinds
        for s in (args.story_seconds if k in ("story", "av") else args.seconds)
    ]
    for kind, seconds in cases:
        cmd = [sys.executable, __file__, "--threads", str(args.threads), "--case", kind,
               str(seconds)]  # fmt: skip
        done = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            print(done.stderr[-2000:], file=sys.stderr)
            raise SystemExit(f"case {kind} {seconds:g} s failed")
        row = json.loads(done.stdout.strip().splitlines()[-1])
        print(row, file=sys.stderr)
        rows.append(row)
    cmd = "python " + " ".join([sys.argv[0], *(argv if argv is not None else sys.argv[1:])])
    lines = [
        "# Long output: peak memory and compute per second of output",
        "",
        f"Command: `{cmd}`",
        "",
        f"- machine: {platform.machine()}, {args.threads} torch thread(s), Python "
        f"{platform.python_version()}; the 2-core CPU is shared with other jobs, so wall time "
        "runs above CPU time",
        "- shipped models at their defaults (video 64x64 at 8 fps, upscaled to 256 px in the "
        "MP4; audio 16 kHz); each case in a fresh process; peak RSS is the process's "
        "(``ru_maxrss``), so it includes Python, torch and the loaded models",
        f"- video: `{VIDEO_PROMPT}`; audio: `{AUDIO_PROMPT}`; av: `{AV_PROMPT}`; story: "
        f"{len(STORY_SHOTS)} shots sharing the duration, with its soundtrack",
        "",
        "| output | seconds | peak RSS (MiB) | target | CPU s per s of output | wall s per s of "
        "output | file size (MB) |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        if r["kind"] == "load":
            lines.append(f"| models loaded, nothing made | - | {r['peak_rss_mib']:.0f} | | | | |")
            continue
        target = "<= 2048" if r["seconds"] == 60 else ""
        lines.append(
            f"| {r['kind']} | {r['seconds']:g} | {r['peak_rss_mib']:.0f} | {target} | "
            f"{r['cpu_s'] / r['seconds']:.2f} | {r['wall_s'] / r['seconds']:.2f} | "
            f"{r['bytes'] / 1e6:.2f} |"
        )
    lines.append("")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines))
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
