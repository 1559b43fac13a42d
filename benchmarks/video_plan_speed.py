"""Time of planned against text-only video generation with the same DiT.

The shipped VAE and DiT weights in a DiT with the layout input (``layout_dim``; the new input
at its zero init, which costs the same as a trained one), 4 s at 64x64 and 8 fps: text only
(no plan) and with the planner's plan of the same prompt, interleaved ``--repeats`` times; the
median of each and their ratio (the issue's budget: at most 1.2x).

    python benchmarks/video_plan_speed.py --threads 2
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from avgen import api  # noqa: E402
from avgen.pipelines.text_to_video import TextToVideoPipeline  # noqa: E402
from avgen.train.video import init_dit  # noqa: E402
from avgen.video import VideoDiT  # noqa: E402
from avgen.video.layout import FEATURES  # noqa: E402

PROMPT = "a red ball falling onto a blue box"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--repeats", type=int, default=3)
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    shipped = TextToVideoPipeline.from_pretrained()
    cfg = {k: v for k, v in shipped.dit.config.to_dict().items() if not k.startswith("_")}
    dit = VideoDiT(**{**cfg, "layout_dim": FEATURES})
    init_dit(dit, shipped.dit, Path("avgen/models/video"))
    pipe = TextToVideoPipeline(shipped.vae, dit.eval(), None, shipped.config, "planned")
    plan = api.plan_video(PROMPT, duration_s=4.0, seed=0)
    times: dict[str, list[float]] = {"text only": [], "planned": []}
    pipe(PROMPT, num_frames=8, generator=torch.Generator().manual_seed(0))  # warm-up
    for r in range(args.repeats):
        for name, kw in (("text only", {"duration_s": 4.0}), ("planned", {"motion_plan": plan})):
            t0 = time.perf_counter()
            out = pipe(PROMPT, generator=torch.Generator().manual_seed(r), **kw)
            times[name].append(time.perf_counter() - t0)
            assert out.frames.shape[0] == 32
    med = {k: statistics.median(v) for k, v in times.items()}
    print(f"`python benchmarks/video_plan_speed.py --threads {args.threads} "
          f"--repeats {args.repeats}`\n")  # fmt: skip
    print("| generation (4 s, 64x64) | median s | runs (s) |\n|---|---|---|")
    for k, v in times.items():
        print(f"| {k} | {med[k]:.2f} | {', '.join(f'{x:.2f}' for x in v)} |")
    print(f"\nplanned / text only: {med['planned'] / med['text only']:.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
