"""The text-to-audio trainer on a tiny generated data set with tiny models (1 and 2 processes)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from avgen.audio import CLAP, AudioDenoiser, MelVAE, Vocoder
from avgen.errors import AvgenError
from avgen.train.audio import main

SR = 16000


def make_data(folder: Path, n: int = 8, seconds: float = 1.0) -> Path:
    """Sine tones and noise bursts; half the rows carry a tempo, half (user data) do not."""
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    t = np.arange(int(seconds * SR)) / SR
    rows = []
    for i in range(n):
        if i % 2:
            wave = 0.3 * np.sin(2 * np.pi * (220 * 2 ** (i / 4)) * t)
            caption, tempo = f"a tone number {i}", 60.0 + 10 * i
        else:
            wave = 0.1 * rng.standard_normal(t.size)
            caption, tempo = f"noise burst {i}", None
        name = f"clip_{i:03d}.wav"
        sf.write(folder / name, wave.astype(np.float32), SR)
        row = {"file_name": name, "text": caption, "captions": [caption, caption + " again"]}
        if tempo is not None:
            row["tempo_bpm"] = tempo
        rows.append(json.dumps(row))
    (folder / "metadata.jsonl").write_text("\n".join(rows) + "\n")
    return folder


def _log(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "train_log.jsonl").read_text().splitlines()]


def test_train_all_components_then_resume(tmp_path: Path) -> None:
    data = make_data(tmp_path / "data")
    out = tmp_path / "model"
    common = ["--data", str(data), "--out", str(out), "--tiny", "--seconds", "1", "--quiet"]
    common += ["--batch-size", "4", "--log-every", "1", "--checkpoint-every", "2"]
    assert main([*common, "--steps", "2"]) == 0
    for name, cls in (("vae", MelVAE), ("vocoder", Vocoder), ("clap", CLAP)):
        cls.from_pretrained(out / name)
    denoiser = AudioDenoiser.from_pretrained(out / "denoiser")
    vae = MelVAE.from_pretrained(out / "vae")
    assert denoiser.c == vae.latent_channels
    assert vae.scaling_factor != 1.0  # set from the latent statistics
    log = _log(out)
    assert {r["component"] for r in log} == {"vae", "vocoder", "clap", "denoiser"}
    assert all(np.isfinite(r["total"]) for r in log if "total" in r)
    assert (out / "checkpoints" / "denoiser" / "step_00000002.pt").is_file()
    # resume: asking for more denoiser steps continues from step 2, other components are skipped
    assert main([*common, "--steps", "vae=2,vocoder=2,clap=2,denoiser=4"]) == 0
    new = _log(out)[len(log) :]
    assert {r["component"] for r in new} == {"denoiser"}
    assert [r["step"] for r in new if "total" in r] == [3, 4]
    assert (out / "checkpoints" / "denoiser" / "step_00000004.pt").is_file()
    # the run folder is a loadable model; --export ships it with float16 weights
    from avgen.pipelines.text_to_audio import TextToAudioPipeline

    TextToAudioPipeline.from_pretrained(out)
    assert main(["--out", str(out), "--export", str(tmp_path / "ship"),
                 "--pipeline-config", '{"num_inference_steps": 3}']) == 0  # fmt: skip
    shipped = TextToAudioPipeline.from_pretrained(tmp_path / "ship")
    assert shipped.config["num_inference_steps"] == 3
    assert shipped.denoiser.x_in.weight.dtype == torch.float32
    assert json.loads((out / "vocabulary.json").read_text()) == []  # no vocab words in captions


def test_bad_arguments(tmp_path: Path) -> None:
    data = make_data(tmp_path / "data", n=2)
    with pytest.raises(AvgenError, match="component"):
        main(["--data", str(data), "--out", str(tmp_path / "o"), "--components", "vae,gan"])
    with pytest.raises(AvgenError, match="metadata.jsonl"):
        main(["--data", str(tmp_path), "--out", str(tmp_path / "o")])
    with pytest.raises(AvgenError, match="--steps"):
        main(["--data", str(data), "--out", str(tmp_path / "o"), "--steps", "vae=0"])


def test_ddp_two_processes_on_cpu(tmp_path: Path) -> None:
    """accelerate launch --num_processes 2 on a CPU-only machine: DDP over gloo, script unchanged.

    (accelerate 1.15's ``--cpu --num_processes 2`` starts one process without an MPI hostfile,
    so the torchrun-based ``--multi_gpu`` launcher is used; the trainer asks Accelerate for the
    CPU when CUDA is absent.)
    """
    data = make_data(tmp_path / "data")
    out = tmp_path / "ddp"
    cmd = [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu"]
    cmd += ["--num_processes", "2", "--num_machines", "1", "--mixed_precision", "no"]
    cmd += ["--dynamo_backend", "no",
           "-m", "avgen.train.audio", "--data", str(data), "--out", str(out), "--tiny",
           "--seconds", "1", "--components", "vae,denoiser", "--steps", "2",
           "--batch-size", "2", "--log-every", "1", "--quiet"]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=170, env=env)
    assert proc.returncode == 0, proc.stderr[-2000:]
    AudioDenoiser.from_pretrained(out / "denoiser")
    log = _log(out)
    assert [r["step"] for r in log if r.get("component") == "denoiser" and "total" in r] == [1, 2]
    args = json.loads((out / "train_args.json").read_text())
    assert args["processes"] == 2
