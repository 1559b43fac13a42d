"""Exact resume: a trainer killed with SIGKILL and resumed from its last checkpoint ends with
weights bitwise equal to an uninterrupted run's (audio, video and LoRA trainers), and
``--checkpoint-every`` does not change the trained weights.

Each trainer runs a few steps per component on a tiny world data set: once uninterrupted (in this
process), once in a subprocess that kills itself at a seeded random moment (before a step, in
the middle of a checkpoint write, or between a checkpoint and the exported weights;
``killrun.py``), then resumed (in this process). Every tensor of every weights file is compared
with ``torch.equal``; the loss logs must match too (times aside).
"""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import killrun  # noqa: E402

STEPS = 6
EVERY = 3
SEED = 46  # the kill points' seed: clap:3:export, dit:5:step, lora:3:save
COMPONENTS = {"audio": ("vae", "vocoder", "clap", "denoiser"), "video": ("vae", "dit")}


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("resume")
    return {
        "root": root,
        "audio": killrun.make_audio_data(root / "audio_data"),
        "video": killrun.make_video_data(root / "video_data"),
        "base": killrun.make_lora_base(root / "base"),
    }


def trainer_args(trainer: str, inputs: dict[str, Path], out: Path, every: int = EVERY) -> list:
    common = ["--out", str(out), "--quiet", "--batch-size", "2", "--log-every", "1",
              "--checkpoint-every", str(every), "--steps", str(STEPS)]  # fmt: skip
    if trainer == "audio":
        return [*common, "--data", str(inputs["audio"]), "--tiny", "--seconds", "1"]
    if trainer == "video":
        return [*common, "--data", str(inputs["video"]), "--tiny", "--num-frames", "9"]
    return [*common, "--data", str(inputs["audio"]), "--base", str(inputs["base"]),
            "--seconds", "1", "--rank", "2", "--lr", "1e-2"]  # fmt: skip


def train(trainer: str, args: list[str]) -> None:
    """One run in this process (one torch thread, as killrun.py's)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        if trainer == "audio":
            from avgen.train.audio import main
        elif trainer == "video":
            from avgen.train.video import main
        else:
            from avgen.lora.train import main
        assert main(args) == 0
    finally:
        torch.set_num_threads(threads)


def log_rows(out: Path) -> list[dict]:
    rows = [json.loads(line) for line in (out / "train_log.jsonl").read_text().splitlines()]
    return [{k: v for k, v in r.items() if k not in ("time", "elapsed_s")} for r in rows]


def kill_point(trainer: str) -> str:
    """A seeded random moment: component, step and where (before a step, in a checkpoint
    write, after a checkpoint before the exported weights)."""
    rng = random.Random(f"{trainer}-{SEED}")
    component = rng.choice(COMPONENTS.get(trainer, ("lora",)))
    where = rng.choice(killrun.WHERE)
    if where == "step":
        step = rng.randint(1, STEPS - 1)
    else:
        step = rng.choice(range(EVERY, STEPS + 1, EVERY))
    return f"{component}:{step}:{where}"


@pytest.fixture(scope="module")
def uninterrupted(inputs: dict[str, Path]) -> dict[str, Path]:
    """Each trainer's uninterrupted run, made once."""
    made: dict[str, Path] = {}
    for trainer in ("audio", "video", "lora"):
        out = inputs["root"] / f"{trainer}_whole"
        train(trainer, trainer_args(trainer, inputs, out))
        made[trainer] = out
    return made


@pytest.mark.parametrize("trainer", ["audio", "video", "lora"])
def test_killed_and_resumed_run_is_bitwise_equal(
    trainer: str, inputs: dict[str, Path], uninterrupted: dict[str, Path]
) -> None:
    out = inputs["root"] / f"{trainer}_killed"
    args = trainer_args(trainer, inputs, out)
    kill = kill_point(trainer)
    assert killrun.run(trainer, args, kill=kill) == -9, kill  # it was killed
    train(trainer, args)
    whole = killrun.final_weights(uninterrupted[trainer])
    assert len(whole) > 0
    assert killrun.differences(whole, killrun.final_weights(out)) == [], kill
    assert log_rows(out) == log_rows(uninterrupted[trainer]), kill  # no duplicate rows


def test_checkpoint_every_does_not_change_the_weights(
    inputs: dict[str, Path], uninterrupted: dict[str, Path]
) -> None:
    out = inputs["root"] / "video_every_1"
    train("video", trainer_args("video", inputs, out, every=1))
    assert len(list((out / "checkpoints" / "dit").glob("step_*.pt"))) == 2  # kept: the last 2
    whole = killrun.final_weights(uninterrupted["video"])
    assert killrun.differences(whole, killrun.final_weights(out)) == []


def test_loss_log_rewinds_one_component_and_drops_a_torn_line(tmp_path: Path) -> None:
    from avgen.train.common import LossLog

    log = LossLog(tmp_path / "train_log.jsonl")
    for component, step in (("vae", 1), ("vae", 2), ("dit", 1), ("dit", 2), ("dit", 3)):
        log.write({"component": component, "step": step, "total": 1.0})
    with open(log.path, "a") as f:
        f.write('{"component": "dit", "st')  # a line cut short by SIGKILL
    log.rewind("dit", 1)
    rows = [json.loads(line) for line in log.path.read_text().splitlines()]
    assert [(r["component"], r["step"]) for r in rows] == [("vae", 1), ("vae", 2), ("dit", 1)]
    log.write({"component": "dit", "step": 2, "total": 1.0})
    assert json.loads(log.path.read_text().splitlines()[-1])["step"] == 2


def test_a_checkpoint_write_cleans_up_a_killed_writes_temporary_file(tmp_path: Path) -> None:
    from avgen.train.common import Checkpointer

    ckpt = Checkpointer(tmp_path / "dit")
    (tmp_path / "dit").mkdir()
    torn = tmp_path / "dit" / ".step_00000009.pt.tmp"
    torn.write_bytes(b"PK\x03\x04 half a checkpoint")
    for step in (1, 2, 3):
        ckpt.save(step, {"model": {"w": torch.full((2,), float(step))}})
    assert not torn.exists()
    assert [p.name for p in ckpt.paths()] == ["step_00000002.pt", "step_00000003.pt"]
    assert torch.equal(ckpt.load()["model"]["w"], torch.full((2,), 3.0))


def test_grad_scaler_state_resumes(
    inputs: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """fp16 training's loss scale (a CPU GradScaler stands in for CUDA's) continues on resume."""
    from avgen.train import common

    made = common.make_accelerator

    def with_scaler(*args: object, **kwargs: object) -> object:
        acc = made(*args, **kwargs)
        acc.scaler = torch.amp.GradScaler("cpu", init_scale=2.0**10, growth_interval=2)
        return acc

    monkeypatch.setattr(common, "make_accelerator", with_scaler)
    root = inputs["root"] / "scaler"
    args = ["--data", str(inputs["video"]), "--tiny", "--num-frames", "9", "--quiet",
            "--batch-size", "2", "--log-every", "1", "--checkpoint-every", "1",
            "--components", "vae"]  # fmt: skip
    train("video", [*args, "--out", str(root / "whole"), "--steps", "6"])
    train("video", [*args, "--out", str(root / "split"), "--steps", "3"])
    train("video", [*args, "--out", str(root / "split"), "--steps", "6"])  # resumes from 3
    states = [
        torch.load(root / run / "checkpoints/vae/step_00000006.pt", weights_only=True)["scaler"]
        for run in ("whole", "split")
    ]
    assert states[0]["scale"] == 2.0**13  # it grew three times in six steps
    assert states[0] == states[1]
    whole, split = (killrun.final_weights(root / run) for run in ("whole", "split"))
    assert killrun.differences(whole, split) == []
