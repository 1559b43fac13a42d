"""tools/gpu_train_video.py: the in-memory render + train path that trained the shipped DiT."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import torch
from safetensors.torch import load_file

from avgen.text import TextEncoder
from avgen.video.dit import VideoDiT
from avgen.worlds.dataset import clip_seed

ROOT = Path(__file__).resolve().parents[2]


def _tool():
    path = ROOT / "tools/gpu_train_video.py"
    spec = importlib.util.spec_from_file_location("gpu_train_video", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules["gpu_train_video"] = module  # the render pool pickles its functions by module
    spec.loader.exec_module(module)
    return module


def test_clip_seed_matches_the_dataset_writer():
    tool = _tool()
    assert [tool.clip_seed(0, i) for i in range(50)] == [clip_seed(0, i) for i in range(50)]
    assert tool.clip_seed(3, 7) == clip_seed(3, 7)


def test_parse_models():
    tool = _tool()
    models = tool.parse_models("s=128x4x2@avgen/models/video/dit:3e-4,m=192x6x3")
    assert models[0] == {
        "name": "s",
        "hidden": 128,
        "depth": 4,
        "heads": 2,
        "init": "avgen/models/video/dit",
        "lr": "3e-4",
    }
    assert models[1]["init"] is None and models[1]["lr"] is None and models[1]["depth"] == 6


def test_render_pads_with_the_last_frame():
    frames, captions, layouts = _tool()._render((0, 2, 32, 8, 17))
    assert layouts is None  # no latent grid asked for: no plans
    assert frames.shape == (2, 17, 32, 32, 3) and frames.dtype.name == "uint8"
    assert (frames[:, 16] == frames[:, 15]).all()  # 2 s at 8 fps = 16 frames, padded to 17
    assert all(len(c) == 4 and all(isinstance(s, str) and s for s in c) for c in captions)


def test_packed_minilm_encodes_like_the_bundled_one(tmp_path, one_thread):
    tool = _tool()
    ref = TextEncoder.from_default()
    prompts = ["a red ball bouncing on grass", "two blue cubes sliding left, slow motion"]
    keep = sorted({i for ids in ref.tokenizer(prompts)["input_ids"] for i in ids})
    tool.pack_minilm(tmp_path / "packed", keep)
    folder, kept = tool.unpack_minilm(tmp_path / "packed", tmp_path / "full")
    assert kept == set(keep)
    got, want = TextEncoder(folder).encode(prompts), ref.encode(prompts)
    assert torch.equal(got["mask"], want["mask"])
    assert (got["tokens"] - want["tokens"]).abs().max() < 0.02  # fp16 weights
    assert torch.nn.functional.cosine_similarity(got["pooled"], want["pooled"]).min() > 0.9999


def test_pack_stage_keeps_every_caption_token(tmp_path):
    tool = _tool()
    packed = tmp_path / "packed"
    argv = ["pack", "--minilm", str(packed), "--clips", "3", "--out", str(tmp_path)]
    assert tool.main(argv) == 0
    _, kept = tool.unpack_minilm(packed, tmp_path / "full")
    _, captions, _ = tool._render((0, 3, 32, 8, 17))
    tokenizer = TextEncoder.from_default().tokenizer
    used = {i for caps in captions for ids in tokenizer(caps)["input_ids"] for i in ids}
    assert used <= kept and len(kept) < 5000  # a small part of the 30,522-token vocabulary


def test_run_trains_and_unpacks_a_dit(tmp_path, one_thread):
    tool = _tool()
    out = tmp_path / "out"
    argv = ["run", "--out", str(out), "--work", str(tmp_path / "work"), "--clips", "6"]
    argv += ["--workers", "1", "--models", "t=32x1x1", "--minutes", "0.05", "--batch", "2"]
    argv += ["--device", "cpu", "--log-every", "1"]
    assert tool.main(argv) == 0
    records = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
    assert {r.get("stage") for r in records} >= {"rendered", "latents", "text", "start", "done"}
    cache = load_file(str(tmp_path / "work" / "cache.safetensors"))
    assert cache["latents"].shape[0] == 6 and cache["caption_ids"].shape == (6, 4)
    dest = tmp_path / "dit"
    assert tool.main(["unpack", "--out", str(out), "--name", "t", "--dest", str(dest)]) == 0
    model = VideoDiT.from_pretrained(dest)
    assert model.config["hidden_size"] == 32 and model.config["num_layers"] == 1


def test_run_with_plans_from_a_saved_dit(tmp_path, one_thread):
    tool = _tool()
    base = tmp_path / "base"
    VideoDiT(latent_channels=8, hidden_size=32, num_layers=1, num_heads=1).save_pretrained(base)
    out = tmp_path / "out"
    argv = ["run", "--out", str(out), "--work", str(tmp_path / "work"), "--clips", "4"]
    argv += ["--workers", "1", "--models", f"t=32x1x1@{base}", "--minutes", "0.05"]
    argv += ["--batch", "2", "--device", "cpu", "--log-every", "1", "--plans"]
    assert tool.main(argv) == 0
    cache = load_file(str(tmp_path / "work" / "cache.safetensors"))
    layouts = cache["layouts"].float()  # (N, FEATURES, F', h, w) at the latent grid
    assert layouts.shape[0] == 4 and layouts.shape[2:] == cache["latents"].shape[2:]
    assert (layouts[:, 0] == 1).all() and layouts[:, 1].sum() > 0
    dest = tmp_path / "dit"
    assert tool.main(["unpack", "--out", str(out), "--name", "t", "--dest", str(dest)]) == 0
    assert VideoDiT.from_pretrained(dest).layout_dim == layouts.shape[1]
