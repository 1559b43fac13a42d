"""The Phenaki trainer (avgen.train.phenaki) on a tiny MotionWorld folder with tiny models."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from avgen.errors import AvgenError
from avgen.pipelines.phenaki import PhenakiPipeline
from avgen.train.phenaki import main, moving_weight, tokenizer_loss
from avgen.video.cvivit import CViViT
from avgen.video.layout import FEATURES
from avgen.video.maskgit import MaskGIT
from avgen.worlds.dataset import write_world_dataset


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("phenaki") / "data"
    return write_world_dataset("video", 4, out, seed=3, duration_s=1.0, workers=1, quiet=True)


def _log(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "train_log.jsonl").read_text().splitlines()]


def _common(data: Path, out: Path) -> list[str]:
    return ["--data", str(data), "--out", str(out), "--tiny", "--num-frames", "9", "--quiet",
            "--batch-size", "2", "--log-every", "1", "--checkpoint-every", "2"]  # fmt: skip


def test_tokenizer_trains_saves_and_resumes(data: Path, tmp_path: Path) -> None:
    out = tmp_path / "model"
    assert main([*_common(data, out), "--components", "tokenizer", "--steps", "3"]) == 0
    tok = CViViT.from_pretrained(out / "tokenizer")
    assert tok.config.hidden_size == 16  # --tiny
    video = torch.zeros(1, 3, 9, 32, 32)
    assert tok.encode(video).shape == (1, 5, 4, 4)
    log = _log(out)
    steps = [r for r in log if "total" in r]
    assert [r["step"] for r in steps] == [1, 2, 3]
    assert all(np.isfinite(r[k]) for r in steps for k in ("total", "l1", "l2", "edge"))
    assert (out / "checkpoints" / "tokenizer" / "step_00000002.pt").is_file()
    args = json.loads((out / "train_args.json").read_text())
    assert args["num_frames"] == 9 and args["components"] == ["tokenizer"]
    # resume: more steps continue from step 3
    assert main([*_common(data, out), "--components", "tokenizer", "--steps", "5"]) == 0
    new = _log(out)[len(log) :]
    assert [r["step"] for r in new if "total" in r] == [4, 5]


def test_both_components_with_plans_make_a_phenaki_folder(data: Path, tmp_path: Path) -> None:
    out = tmp_path / "phenaki"
    assert main([*_common(data, out), "--steps", "3", "--plans"]) == 0
    log = _log(out)
    assert {r["component"] for r in log} == {"tokenizer", "maskgit"}
    rows = [r for r in log if r["component"] == "maskgit" and "total" in r]
    assert [r["step"] for r in rows] == [1, 2, 3]
    assert all(np.isfinite(r["total"]) and 0 <= r["acc"] <= 1 for r in rows)
    cfg = json.loads((out / "pipeline.json").read_text())
    assert cfg["_class"] == "PhenakiPipeline" and cfg["engine"] == "phenaki"
    assert cfg["window_frames"] == 9 and cfg["fps"] == 8
    tok = CViViT.from_pretrained(out / "tokenizer")
    mg = MaskGIT.from_pretrained(out / "maskgit")
    assert mg.codebook_size == tok.codebook_size and mg.layout_dim == FEATURES
    assert (mg.max_t, mg.h, mg.w) == tok.token_shape(9, 64, 64)
    # the cached tokens are the tokenizer's encoding of the clips
    cached = list((out / "cache").glob("tokens_*.safetensors"))
    assert len(cached) == 1 and list((out / "cache").glob("layouts_*.safetensors"))
    pipe = PhenakiPipeline.from_pretrained(out)  # the output folder is a model folder
    assert pipe.follows_plans
    video = pipe("a red ball", num_frames=3, num_inference_steps=2, guidance_scale=1.0)
    assert np.asarray(video.frames).shape[-4:] == (3, 64, 64, 3)
    # --init-from: a new run starts its MaskGIT from this folder (and brings its tokenizer)
    again = tmp_path / "again"
    args = [*_common(data, again), "--components", "maskgit", "--steps", "1", "--plans"]
    assert main([*args, "--init-from", str(out), "--lr", "1e-12", "--warmup", "0"]) == 0
    start = MaskGIT.from_pretrained(again / "maskgit").state_dict()
    for name, value in mg.state_dict().items():
        torch.testing.assert_close(start[name], value, atol=1e-4, rtol=0)
    with pytest.raises(AvgenError, match="no trained tokenizer"):
        main([*_common(data, tmp_path / "none"), "--components", "maskgit"])


def test_ddp_two_processes_on_cpu(data: Path, tmp_path: Path) -> None:
    """Both components under ``accelerate launch --num_processes 2`` (DDP over gloo): the
    MaskGIT loss reads its mask id through the DDP wrapper."""
    out = tmp_path / "ddp"
    cmd = [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu"]
    cmd += ["--num_processes", "2", "--num_machines", "1", "--mixed_precision", "no"]
    cmd += ["--dynamo_backend", "no", "-m", "avgen.train.phenaki", *_common(data, out)]
    cmd += ["--steps", "2", "--batch-size", "1"]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=170, env=env)
    assert proc.returncode == 0, proc.stderr[-2000:]
    MaskGIT.from_pretrained(out / "maskgit")
    rows = [r for r in _log(out) if r["component"] == "maskgit" and "total" in r]
    assert [r["step"] for r in rows] == [1, 2]
    assert json.loads((out / "train_args.json").read_text())["processes"] == 2


def test_tokenizer_loss_weights_moving_pixels_and_edges() -> None:
    video = torch.full((1, 3, 9, 16, 16), -0.5)
    for t in range(9):  # a white square moving right over a grey background
        video[0, :, t, 4:8, t : t + 4] = 1.0
    w = moving_weight(video, 4.0)
    assert w.shape == (1, 1, 9, 16, 16)
    assert w[0, 0, 0, 5, 1] == 5.0 and w[0, 0, 0, 12, 12] == 1.0
    assert torch.equal(moving_weight(video, 0.0), torch.ones_like(w))
    # an error on the object costs more than the same error on the background
    on_obj, on_bg = video.clone(), video.clone()
    on_obj[0, :, 0, 5, 1] += 0.5
    on_bg[0, :, 0, 12, 12] += 0.5
    a = tokenizer_loss(on_obj, video, 4.0, 0.0)["total"]
    b = tokenizer_loss(on_bg, video, 4.0, 0.0)["total"]
    assert a > 2 * b
    assert tokenizer_loss(on_bg, video, 0.0, 0.0)["total"] == pytest.approx(
        float(tokenizer_loss(on_obj, video, 0.0, 0.0)["total"])
    )
    # a blur is penalised by the edge loss, a constant shift is not
    shifted = tokenizer_loss(video + 0.1, video, 0.0, 1.0)
    blurred = tokenizer_loss(torch.nn.functional.avg_pool3d(video, (1, 3, 3), 1, (0, 1, 1)),
                             video, 0.0, 1.0)  # fmt: skip
    assert float(shifted["edge"]) == pytest.approx(0.0, abs=1e-6)
    assert float(blurred["edge"]) > 0.01


def test_bad_arguments(data: Path, tmp_path: Path) -> None:
    out = str(tmp_path / "o")
    with pytest.raises(AvgenError, match="component"):
        main(["--data", str(data), "--out", out, "--components", "tokenizer,gan"])
    with pytest.raises(AvgenError, match="metadata.jsonl"):
        main(["--data", str(tmp_path), "--out", out])
    with pytest.raises(AvgenError, match="--num-frames"):
        main(["--data", str(data), "--out", out, "--num-frames", "10"])
    with pytest.raises(AvgenError, match="--size"):
        main(["--data", str(data), "--out", out, "--size", "60"])
    with pytest.raises(AvgenError, match="--tokenizer-object-weight"):
        main(["--data", str(data), "--out", out, "--tokenizer-object-weight", "-1"])
    with pytest.raises(AvgenError, match="--steps"):
        main(["--data", str(data), "--out", out, "--steps", "tokenizer=0"])
    assert not (tmp_path / "o" / "tokenizer").exists()


def test_cli_routes_train_phenaki(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    from avgen.cli import main as cli_main

    with pytest.raises(SystemExit) as exc:
        cli_main(["train", "phenaki", "--data", str(tmp_path), "--out", str(tmp_path / "o")])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "metadata.jsonl" in err and err.count("\n") == 1
    with pytest.raises(SystemExit) as exc:
        cli_main(["train", "gan"])
    assert exc.value.code == 2 and "phenaki" in capsys.readouterr().err
