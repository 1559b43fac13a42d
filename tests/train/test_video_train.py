"""The text-to-video trainer on a tiny MotionWorld folder with tiny models (1 and 2 processes)."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from avgen.errors import AvgenError
from avgen.pipelines.text_to_video import TextToVideoPipeline
from avgen.train.video import init_dit, init_source, main
from avgen.video import VideoDiT, VideoVAE
from avgen.worlds.dataset import write_world_dataset


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("video") / "data"
    return write_world_dataset("video", 4, out, seed=3, duration_s=1.0, workers=1, quiet=True)


def _log(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "train_log.jsonl").read_text().splitlines()]


def _common(data: Path, out: Path) -> list[str]:
    return ["--data", str(data), "--out", str(out), "--tiny", "--num-frames", "9", "--quiet",
            "--batch-size", "2", "--log-every", "1", "--checkpoint-every", "2"]  # fmt: skip


def test_train_both_components_then_resume(data: Path, tmp_path: Path) -> None:
    out = tmp_path / "model"
    assert main([*_common(data, out), "--steps", "2"]) == 0
    vae = VideoVAE.from_pretrained(out / "vae")
    dit = VideoDiT.from_pretrained(out / "dit")
    assert dit.latent_channels == vae.latent_channels
    assert vae.scaling_factor != 1.0  # fitted on the latents
    log = _log(out)
    assert {r["component"] for r in log} == {"vae", "dit"}
    assert all(np.isfinite(r["total"]) for r in log if "total" in r)
    vocab = json.loads((out / "vocabulary.json").read_text())
    assert vocab and all(isinstance(w, str) for w in vocab)
    pipe = TextToVideoPipeline.from_pretrained(out)  # the output folder is a model folder
    assert pipe.config["window_frames"] == 9
    # resume: more DiT steps continue from step 2; the finished VAE is skipped
    assert main([*_common(data, out), "--steps", "vae=2,dit=4"]) == 0
    new = _log(out)[len(log) :]
    assert {r["component"] for r in new} == {"dit"}
    assert [r["step"] for r in new if "total" in r] == [3, 4]
    assert (out / "checkpoints" / "dit" / "step_00000004.pt").is_file()


def test_bad_arguments(data: Path, tmp_path: Path) -> None:
    out = str(tmp_path / "o")
    with pytest.raises(AvgenError, match="component"):
        main(["--data", str(data), "--out", out, "--components", "vae,gan"])
    with pytest.raises(AvgenError, match="metadata.jsonl"):
        main(["--data", str(tmp_path), "--out", out])
    with pytest.raises(AvgenError, match="--steps"):
        main(["--data", str(data), "--out", out, "--steps", "dit=0"])
    with pytest.raises(AvgenError, match="--num-frames"):
        main(["--data", str(data), "--out", out, "--num-frames", "10"])
    with pytest.raises(AvgenError, match="no trained VAE"):
        main(["--data", str(data), "--out", out, "--components", "dit", "--tiny"])


def test_ddp_two_processes_on_cpu(data: Path, tmp_path: Path) -> None:
    """accelerate launch --num_processes 2 on a CPU-only machine: DDP over gloo, script unchanged.

    (accelerate 1.15's ``--cpu --num_processes 2`` starts one process without an MPI hostfile,
    so the torchrun-based ``--multi_gpu`` launcher is used; the trainer asks Accelerate for the
    CPU when CUDA is absent.)
    """
    out = tmp_path / "ddp"
    cmd = [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu"]
    cmd += ["--num_processes", "2", "--num_machines", "1", "--mixed_precision", "no"]
    cmd += ["--dynamo_backend", "no", "-m", "avgen.train.video", *_common(data, out)]
    cmd += ["--steps", "2", "--batch-size", "1"]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=170, env=env)
    assert proc.returncode == 0, proc.stderr[-2000:]
    VideoDiT.from_pretrained(out / "dit")
    log = _log(out)
    assert [r["step"] for r in log if r.get("component") == "dit" and "total" in r] == [1, 2]
    assert json.loads((out / "train_args.json").read_text())["processes"] == 2


def test_gpu_recipe_flags_on_cpu(data: Path, tmp_path: Path) -> None:
    """bf16 autocast through Accelerate, warm-up and cosine decay of the learning rate, EMA
    decay: the recipe of tools/gpu_train_video.py as trainer flags (a process of its own, as
    Accelerate's mixed precision is set once per process)."""
    out = tmp_path / "bf16"
    cmd = [sys.executable, "-m", "avgen.train.video", *_common(data, out), "--steps", "vae=2,dit=5"]
    cmd += ["--mixed-precision", "bf16", "--lr-schedule", "cosine", "--warmup", "2"]
    cmd += ["--min-lr-ratio", "0.1", "--ema-max-decay", "0.9", "--lr", "vae=1e-3,dit=1e-3"]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=170, env=env)
    assert proc.returncode == 0, proc.stderr[-2000:]
    rows = [r for r in _log(out) if r.get("component") == "dit" and "total" in r]
    lrs = [r["lr"] for r in rows]
    # step k: warm-up min(1, (k + 1) / 2) times a cosine from 1 to 0.1 over k / 5 of the steps
    cosine = [0.1 + 0.45 * (1 + math.cos(math.pi * k / 5)) for k in range(5)]
    assert lrs == pytest.approx([1e-3 * min(1, (k + 1) / 2) * c for k, c in enumerate(cosine)])
    assert all(np.isfinite(r["total"]) for r in rows)
    VideoDiT.from_pretrained(out / "dit")
    recorded = json.loads((out / "train_args.json").read_text())
    assert recorded["mixed_precision"] == "bf16" and recorded["recipe"]["schedule"] == "cosine"


def test_object_weight_marks_moving_pixels_only() -> None:
    import torch

    from avgen.train.video import object_weight

    video = torch.full((1, 3, 5, 8, 8), -0.5)  # (B, 3, F, H, W): a static background
    for f in range(5):
        video[0, :, f, 2, f] = 0.9  # a one-pixel object moving right
    w = object_weight(video, 4.0)
    assert w.shape == (1, 1, 5, 8, 8)
    assert w[0, 0, 2, 2, 2] == 5.0 and w[0, 0, 2, 5, 5] == 1.0
    assert int((w > 1).sum()) == 5
    assert torch.equal(object_weight(video, 0.0), torch.ones(1, 1, 5, 8, 8))


def test_plans_and_init_from(data: Path, tmp_path: Path) -> None:
    """--plans: a layout input fed the clips' truth plans; --init-from: the text-only DiT's
    weights (and its VAE), the new input at zero, so the start reproduces the old outputs."""
    import torch
    from safetensors.torch import load_file

    from avgen.video.layout import FEATURES

    base = tmp_path / "base"
    assert main([*_common(data, base), "--steps", "2"]) == 0
    out = tmp_path / "planned"
    flags = ["--components", "dit", "--plans", "--init-from", str(base), "--steps", "2"]
    assert main([*_common(data, out), *flags]) == 0
    old = VideoDiT.from_pretrained(base / "dit")
    new = VideoDiT.from_pretrained(out / "dit")
    assert new.layout_dim == FEATURES and old.layout_dim == 0
    assert (out / "vae" / "config.json").is_file()  # the DiT's own VAE came along
    start = VideoDiT(**{k: v for k, v in new.config.to_dict().items() if k[0] != "_"})
    init_dit(start, init_source(base), base)  # what training started from
    for name, weight in old.state_dict().items():
        assert torch.equal(weight, start.state_dict()[name]), name
    assert not start.layout_in[2].weight.any()  # the new input starts at zero
    layouts = load_file(str(next((out / "cache").glob("layouts_*.safetensors"))))["layouts"]
    assert layouts.shape[:2] == (4, FEATURES) and layouts[:, 0].float().mean() == 1.0
    assert layouts[:, 1].float().sum() > 0  # objects from every clip's truth
    pipe = TextToVideoPipeline.from_pretrained(out)
    assert pipe.follows_plans
    with pytest.raises(AvgenError, match="--init-from"):
        main([*_common(data, tmp_path / "x"), "--components", "dit", "--init-from", str(data)])


def test_dit_object_weight_scores_object_cells_more(data: Path, tmp_path: Path) -> None:
    """--dit-object-weight: the loss counts the layout's object cells 1 + w times; the same
    error off the objects scores less than on them. Refused without --plans."""
    import torch

    from avgen.train.video import dit_loss
    from avgen.video.layout import FEATURES

    class Const(torch.nn.Module):  # predicts a velocity off by `err` on one cell only
        def __init__(self, cell: tuple[int, int]) -> None:
            super().__init__()
            self.cell = cell

        def forward(self, x, t, cond):  # noqa: ANN001
            v = x / t.view(-1, 1, 1, 1, 1)  # x0 = 0: the exact velocity is the noise, x_t / t
            v[:, :, :, self.cell[0], self.cell[1]] += 1.0
            return v

    x0 = torch.zeros(2, 4, 3, 4, 4)
    text = {"tokens": torch.zeros(2, 5, 8), "mask": torch.ones(2, 5, dtype=torch.bool),
            "pooled": torch.zeros(2, 8)}  # fmt: skip
    layout = torch.zeros(2, FEATURES, 3, 4, 4)
    layout[:, 0] = 1.0
    layout[:, 1, :, 1, 1] = 1.0  # the object covers cell (1, 1)

    def loss(cell: tuple[int, int], w: float) -> float:
        gen = torch.Generator().manual_seed(0)
        return float(dit_loss(Const(cell), x0, text, 8.0, gen, layout, w))

    assert loss((1, 1), 0.0) == pytest.approx(loss((2, 2), 0.0))
    assert loss((1, 1), 8.0) > loss((1, 1), 0.0) and loss((2, 2), 8.0) < loss((2, 2), 0.0)
    with pytest.raises(AvgenError, match="needs --plans"):
        main([*_common(data, tmp_path / "w"), "--components", "dit", "--dit-object-weight", "8"])
