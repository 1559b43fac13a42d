"""The C-ViViT tokenizer's round trip on held-out MotionWorld clips (issue 17, deliverable 1).

Each held-out clip (new seeds, ``heldout="only"`` attribute combinations, as
``video_benchmark.py``) is tokenized and decoded (``CViViT.encode`` / ``decode``), and measured:

- reconstruction error: mean squared error and PSNR on [0, 1] pixels, mean absolute error in
  /255 (the video VAE card's unit), and the same on the moving-object pixels alone (pixels that
  differ from the clip's background, ``avgen.train.phenaki.moving_weight``), where the small
  objects the checkers read live;
- codebook usage over all the clips' tokens: the share of the codebook's ids used and the
  perplexity (exp of the ids' entropy; the codebook size would be perfectly even use);
- the video checkers' pass rates (``check_video`` against each clip's truth, as the VAE card's
  "round trip of held-out clips") on the reconstructions, beside the same checkers on the
  rendered clips themselves (the ceiling) and, with ``--vae DIR``, on a video VAE's round trip.

Usage: ``python benchmarks/phenaki_tokenizer.py --model DIR --count N --out FILE`` (DIR: a
Phenaki model folder, or its ``tokenizer/``; FILE: the Markdown report, its numbers in JSON
beside it).
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from video_benchmark import MAIN_ATTRS, Tally, held_out  # noqa: E402

from avgen.errors import AvgenError  # noqa: E402
from avgen.pipelines.text_to_video import to_frames, to_tensor  # noqa: E402
from avgen.train.phenaki import moving_weight  # noqa: E402
from avgen.video.cvivit import CViViT  # noqa: E402
from avgen.worlds.video_checks import check_video  # noqa: E402

CHECKED = ("colour", "shape", "count", "direction")  # the attributes, listed first


def load_tokenizer(folder: Path) -> CViViT:
    """The CViViT of a Phenaki folder (``tokenizer/``) or of a tokenizer folder itself."""
    folder = Path(folder)
    src = folder / "tokenizer" if (folder / "tokenizer" / "config.json").is_file() else folder
    if not (src / "config.json").is_file():
        raise AvgenError(f"{folder} holds no C-ViViT tokenizer (no config.json).")
    return CViViT.from_pretrained(src).eval()


@torch.no_grad()
def round_trip(tok: CViViT, frames: np.ndarray) -> tuple[np.ndarray, torch.Tensor]:
    """uint8 frames (F, H, W, 3) -> (reconstructed uint8 frames, token ids (t, h, w))."""
    x = to_tensor(frames)
    ids = tok.encode(x)
    video = tok.decode(ids, num_frames=x.shape[2])
    return to_frames(video[0]), ids[0]


@torch.no_grad()
def vae_round_trip(vae: Any, frames: np.ndarray) -> np.ndarray:
    """The clip through a video VAE (posterior mean), as video_benchmark.vae_roundtrip."""
    x = to_tensor(frames)
    return to_frames(vae.decode_latents(vae.encode_frames(x), num_frames=x.shape[2])[0])


def errors(recon: np.ndarray, truth: np.ndarray) -> dict[str, float]:
    """MSE and mean abs error on [0, 1] pixels, over all pixels and the moving-object pixels."""
    r = recon.astype(np.float64) / 255.0
    t = truth.astype(np.float64) / 255.0
    video = torch.from_numpy(truth).permute(3, 0, 1, 2)[None].float() / 127.5 - 1.0
    moving = moving_weight(video, 1.0)[0, 0].numpy() > 1.5  # (F, H, W)
    sq, ab = (r - t) ** 2, np.abs(r - t)
    out = {"mse": float(sq.mean()), "mae": float(ab.mean()), "moving_share": float(moving.mean())}
    if moving.any():
        out["mse_moving"] = float(sq[moving].mean())
        out["mae_moving"] = float(ab[moving].mean())
    return out


def psnr(mse: float) -> float:
    return 10.0 * math.log10(1.0 / max(mse, 1e-12))


def codebook_stats(counts: torch.Tensor) -> dict[str, float]:
    """Share of ids used and perplexity of an id histogram (codebook_size,)."""
    total = counts.sum().clamp_min(1).double()
    p = counts.double() / total
    nz = p[p > 0]
    entropy = float(-(nz * nz.log()).sum())
    return {
        "used": int((counts > 0).sum()),
        "usage": float((counts > 0).double().mean()),
        "perplexity": math.exp(entropy),
    }


def run(
    model: Path,
    count: int,
    out: Path | None = None,
    *,
    seed: int = 9_000_000,
    duration: float = 2.0,
    vae: Path | None = None,
    argv: list[str] | None = None,
) -> dict[str, Any]:
    """Measure ``model``'s tokenizer on ``count`` held-out clips; write Markdown to ``out`` (and
    the numbers as JSON beside it); return the numbers."""
    if count < 1:
        raise AvgenError(f"--count {count} must be at least 1.")
    t_all = time.time()
    tok = load_tokenizer(model)
    ref = None
    if vae is not None:
        from avgen.video.vae import VideoVAE

        src = Path(vae) / "vae" if (Path(vae) / "vae" / "config.json").is_file() else Path(vae)
        ref = VideoVAE.from_pretrained(src).eval()
    pairs = held_out(count, seed, duration)
    counts = torch.zeros(tok.codebook_size, dtype=torch.long)
    tok_t, truth_t, vae_t = Tally(), Tally(), Tally()
    errs: list[dict[str, float]] = []
    vae_errs: list[dict[str, float]] = []
    spent = 0.0
    for i, (_, clip) in enumerate(pairs):
        t0 = time.time()
        recon, ids = round_trip(tok, clip.frames)
        spent += time.time() - t0
        counts += torch.bincount(ids.flatten(), minlength=tok.codebook_size)
        errs.append(errors(recon, clip.frames))
        tok_t.add(check_video(recon, clip.fps, clip.expected))
        truth_t.add(check_video(clip.frames, clip.fps, clip.expected))
        if ref is not None:
            vrec = vae_round_trip(ref, clip.frames)
            vae_errs.append(errors(vrec, clip.frames))
            vae_t.add(check_video(vrec, clip.fps, clip.expected))
        if (i + 1) % 25 == 0:
            print(f"{i + 1}/{len(pairs)} colour {tok_t.pct('colour'):.0f} %", file=sys.stderr)

    def summary(rows: list[dict[str, float]]) -> dict[str, float]:
        mse = float(np.mean([r["mse"] for r in rows]))
        moving = [r for r in rows if "mse_moving" in r]
        out = {
            "mse": mse,
            "psnr": psnr(mse),
            "psnr_mean_per_clip": float(np.mean([psnr(r["mse"]) for r in rows])),
            "mae_255": 255.0 * float(np.mean([r["mae"] for r in rows])),
        }
        if moving:
            mse_m = float(np.mean([r["mse_moving"] for r in moving]))
            out.update(
                mse_moving=mse_m,
                psnr_moving=psnr(mse_m),
                mae_moving_255=255.0 * float(np.mean([r["mae_moving"] for r in moving])),
            )
        return out

    frames = int(pairs[0][1].frames.shape[0])
    t, h, w = tok.token_shape(frames, *pairs[0][1].frames.shape[1:3])
    result: dict[str, Any] = {
        "model": str(model),
        "clips": len(pairs),
        "frames": frames,
        "token_grid": [t, h, w],
        "codebook_size": tok.codebook_size,
        "parameters": sum(p.numel() for p in tok.parameters()),
        "seconds_per_clip": spent / len(pairs),
        "tokenizer": summary(errs),
        "codebook": codebook_stats(counts),
        "pass": {a: tok_t.pct(a) for a in MAIN_ATTRS if tok_t.n[a]},
        "pass_truth": {a: truth_t.pct(a) for a in MAIN_ATTRS if truth_t.n[a]},
        "n": {a: tok_t.n[a] for a in MAIN_ATTRS if tok_t.n[a]},
    }
    if ref is not None:
        result["vae"] = summary(vae_errs)
        result["pass_vae"] = {a: vae_t.pct(a) for a in MAIN_ATTRS if vae_t.n[a]}
    if out is not None:
        write_report(result, Path(out), time.time() - t_all, seed, duration, vae, argv)
    return result


def write_report(
    r: dict[str, Any],
    out: Path,
    wall: float,
    seed: int,
    duration: float,
    vae: Path | None,
    argv: list[str] | None,
) -> None:
    cmd = "python " + " ".join([sys.argv[0], *(argv if argv is not None else sys.argv[1:])])
    e, cb = r["tokenizer"], r["codebook"]
    t, h, w = r["token_grid"]
    lines = [
        "# C-ViViT tokenizer round trip (held-out MotionWorld clips)",
        "",
        f"Command: `{cmd}`",
        "",
        f"- tokenizer: {r['model']}, {r['parameters']:,} parameters, codebook "
        f"{r['codebook_size']} (FSQ)",
        f"- clips: {r['clips']} held-out clips (seeds {seed} to {seed + r['clips'] - 1}, "
        f'heldout="only", {duration:g} s = {r["frames"]} frames, 64x64) -> {t} x {h} x {w} '
        "tokens each",
        f"- machine: {platform.machine()}, {torch.get_num_threads()} torch threads, 2-core CPU "
        f"shared with other jobs; {r['seconds_per_clip']:.3f} s per clip (encode + decode); "
        f"benchmark wall time {wall:.0f} s",
        "",
        "## Reconstruction error",
        "",
        "| | MSE | PSNR dB | mean abs error /255 | moving-object pixels: PSNR dB | "
        "mean abs error /255 |",
        "|---|---|---|---|---|---|",
    ]
    rows = [("tokenizer", e)] + ([("video VAE (reference)", r["vae"])] if "vae" in r else [])
    for name, s in rows:
        lines.append(
            f"| {name} | {s['mse']:.5f} | {s['psnr']:.2f} | {s['mae_255']:.2f} | "
            f"{s.get('psnr_moving', float('nan')):.2f} | "
            f"{s.get('mae_moving_255', float('nan')):.2f} |"
        )
    lines += [
        "",
        f"PSNR from the mean MSE over clips; per-clip mean PSNR {e['psnr_mean_per_clip']:.2f} dB.",
        "",
        "## Codebook usage",
        "",
        f"{cb['used']} of {r['codebook_size']} ids used ({100 * cb['usage']:.1f} %), perplexity "
        f"{cb['perplexity']:.1f} over {r['clips'] * t * h * w:,} tokens.",
        "",
        "## Checkers on the round trip (matches / measurable checks)",
        "",
    ]
    head = "| attribute | n | tokenizer round trip % | rendered clip % |"
    sep = "|---|---|---|---|"
    if "pass_vae" in r:
        head += " video VAE round trip % |"
        sep += "---|"
    lines += [head, sep]
    order = [a for a in CHECKED if a in r["pass"]] + [a for a in r["pass"] if a not in CHECKED]
    for a in order:
        truth = r["pass_truth"].get(a, float("nan"))
        row = f"| {a} | {r['n'][a]} | {r['pass'][a]:.1f} | {truth:.1f} |"
        if "pass_vae" in r:
            row += f" {r['pass_vae'].get(a, float('nan')):.1f} |"
        lines.append(row)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(lines) + "\n")
    out.with_suffix(".json").write_text(json.dumps(r, indent=2) + "\n")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", required=True, type=Path, help="Phenaki folder or tokenizer folder")
    p.add_argument("--count", type=int, default=200, help="held-out clips")
    p.add_argument("--out", required=True, type=Path, help="the Markdown report to write")
    p.add_argument("--seed", type=int, default=9_000_000)
    p.add_argument("--duration", type=float, default=2.0, help="clip length (s)")
    p.add_argument("--vae", type=Path, default=None, help="also a video VAE's round trip")
    p.add_argument("--threads", type=int, default=None)
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    r = run(
        args.model,
        args.count,
        args.out,
        seed=args.seed,
        duration=args.duration,
        vae=args.vae,
        argv=argv,
    )
    e = r["tokenizer"]
    print(
        f"PSNR {e['psnr']:.2f} dB, codebook {100 * r['codebook']['usage']:.1f} % used, "
        + ", ".join(f"{a} {r['pass'][a]:.0f} %" for a in CHECKED if a in r["pass"])
    )
    return 0


if __name__ == "__main__":
    try:
        raise SystemExit(main())
    except AvgenError as exc:
        sys.stderr.write(f"avgen: {exc}\n")
        raise SystemExit(2) from None
