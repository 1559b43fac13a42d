"""Does a video DiT use its motion plans? Flow-matching loss with and without them.

For the first ``--clips`` clips of a MotionWorld data folder: the clip's latent (the model's
VAE), its plan from the metadata truth (``avgen.train.video.truth_plans``) as the layout
condition, and fixed noise at t = 0.25, 0.5, 0.75 (the same noise for every row). Rows: each
``--model`` folder with text only (no plan) and, when its DiT has a layout input, with text and
plan, and with the plan alone (null text). A model that follows plans has a lower loss with
them; the text-only rows show what plan training did to text-only generation.

    python benchmarks/video_plan_loss.py --data DATA --model avgen/models/video RUN_DIR \\
        --out benchmarks/results/video_plan_loss.md
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from avgen.diffusion.flow import flow_matching_loss  # noqa: E402
from avgen.pipelines.text_to_video import TextToVideoPipeline  # noqa: E402
from avgen.text import shared_text_encoder  # noqa: E402
from avgen.train.video import truth_plans  # noqa: E402
from avgen.video.layout import window_layout  # noqa: E402
from avgen.worlds.loader import WorldDataset  # noqa: E402

TIMES = (0.25, 0.5, 0.75)


@torch.no_grad()
def losses(pipe: TextToVideoPipeline, video, captions, plans, fps: int) -> dict[str, float]:
    """Mean loss over clips and TIMES for each condition the model takes."""
    dit, vae = pipe.dit, pipe.vae
    enc = shared_text_encoder("cpu")
    rows: dict[str, list[float]] = {"text": [], "text + plan": [], "plan, null text": []}
    for i in range(len(video)):
        clip = video[i : i + 1].permute(0, 4, 1, 2, 3).float() / 127.5 - 1.0
        x0 = vae.encode_frames(clip)  # (1, C, F', h, w)
        text = enc.encode([captions[i]])
        null = {k: torch.zeros_like(v) for k, v in text.items()}
        layout = None
        if dit.layout_dim and plans[i] is not None:
            _, _, f, h, w = x0.shape
            feats = window_layout(plans[i], 0, f, h, w, fps, vae.temporal_factor)
            layout = torch.from_numpy(feats)[None]
        conds = {"text": text}
        if layout is not None:
            conds["text + plan"] = {**text, "layout": layout}
            conds["plan, null text"] = {**null, "layout": layout}
        for name, cond in conds.items():
            for j, t in enumerate(TIMES):
                gen = torch.Generator().manual_seed(1000 * i + j)
                cond = {**cond, "fps": torch.full((1,), float(fps))}
                loss = flow_matching_loss(dit, x0, cond, gen, t=torch.tensor([t]))
                rows[name].append(float(loss))
    return {k: sum(v) / len(v) for k, v in rows.items() if v}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    p.add_argument("--data", type=Path, required=True)
    p.add_argument("--model", nargs="+", required=True, help="model folders")
    p.add_argument("--clips", type=int, default=96)
    p.add_argument("--num-frames", type=int, default=17)
    p.add_argument("--fps", type=int, default=8)
    p.add_argument("--out", type=Path, default=None, help="markdown table (default: print)")
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    ds = WorldDataset(args.data, "video", size=64, fps=args.fps, num_frames=args.num_frames)
    n = min(args.clips, len(ds.rows))
    video = ds.tensors["video"][:n]
    captions = [r["captions"][0] for r in ds.rows[:n]]
    plans = truth_plans(args.data, n)
    lines = [
        "# Video DiT: flow-matching loss with and without motion plans",
        "",
        f"`python benchmarks/video_plan_loss.py --data {args.data} --model "
        f"{' '.join(args.model)} --clips {args.clips} --num-frames {args.num_frames}`",
        "",
        f"{n} clips ({sum(p is not None for p in plans)} with a plan), t = "
        f"{', '.join(str(t) for t in TIMES)}, the same noise in every row; lower is better.",
        "",
        "| model | condition | loss |",
        "|---|---|---|",
    ]
    for folder in args.model:
        pipe = TextToVideoPipeline.from_pretrained(folder)
        t0 = time.time()
        for name, value in losses(pipe, video, captions, plans, args.fps).items():
            lines.append(f"| {folder} | {name} | {value:.4f} |")
        print(f"{folder}: {time.time() - t0:.0f} s", file=sys.stderr)
    text = "\n".join(lines) + "\n"
    if args.out is None:
        print(text)
    else:
        args.out.write_text(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
