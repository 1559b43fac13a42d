"""Compare text-to-video model folders on the first held-out MotionWorld prompts.

A cheaper companion of ``video_benchmark.py`` for choosing between checkpoints: the same
held-out prompts (seeds from 9,000,000, captions rotated over the phrasings), the same seeds per
prompt and the same checkers, at one step count, for each ``--models`` folder in turn; prints
one JSON line per model and, with ``--out``, writes a Markdown table.

    python benchmarks/video_compare.py --models avgen/models/video,runs/cand/m2 --count 40
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from video_benchmark import Tally, generate, held_out  # noqa: E402

from avgen.pipelines.text_to_video import TextToVideoPipeline  # noqa: E402
from avgen.worlds.video_checks import check_video  # noqa: E402

ATTRIBUTES = ("colour", "direction", "shape", "count", "motion", "size", "scene", "contacts")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--models", required=True, help="comma-separated model folders")
    p.add_argument("--count", type=int, default=40)
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--out", type=Path, default=None)
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    pairs = held_out(args.count, 9_000_000, 2.0)
    rows = []
    for folder in args.models.split(","):
        pipe = TextToVideoPipeline.from_pretrained(folder)
        fps = int(pipe.config["fps"])
        tally, started = Tally(), time.time()
        for i, (prompt, clip) in enumerate(pairs):
            out = generate(pipe, prompt, int(2.0 * fps), i, num_inference_steps=args.steps)
            tally.add(check_video(out.frames, fps, clip.expected))
        result = {a: round(tally.pct(a), 1) for a in ATTRIBUTES}
        result["gravity_target"] = round(tally.grav_pct(), 1)
        result["seconds_per_clip"] = round((time.time() - started) / len(pairs), 2)
        params = sum(q.numel() for q in pipe.dit.parameters())
        rows.append({"model": folder, "dit_parameters": params, **result})
        print(json.dumps(rows[-1]), flush=True)
    if args.out:
        head = ["model", "DiT parameters", *ATTRIBUTES, "gravity target", "s / 2 s clip"]
        lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        for r in rows:
            cells = [r["model"], f"{r['dit_parameters']:,}"]
            cells += [f"{r[a]:.1f}" for a in ATTRIBUTES]
            cells += [f"{r['gravity_target']:.1f}", f"{r['seconds_per_clip']:.2f}"]
            lines.append("| " + " | ".join(cells) + " |")
        args.out.write_text("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
