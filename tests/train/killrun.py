"""Run one of avgen's trainers and kill it with SIGKILL at a chosen moment (resume tests).

    python tests/train/killrun.py TRAINER [--kill COMPONENT:STEP[:WHERE]] -- TRAINER ARGS...

TRAINER is ``audio`` (``avgen.train.audio``), ``video`` (``avgen.train.video``) or ``lora``
(``avgen.lora.train``). ``--kill`` sends SIGKILL to the process itself (no clean-up runs):

- ``step``: just before step STEP + 1 of COMPONENT (STEP steps done);
- ``save``: while checkpoint STEP of COMPONENT is written (half its temporary file on disk);
- ``export``: after checkpoint STEP is written, before the exported weights are (on_save).

Without ``--kill`` the trainer runs to the end. One torch thread (as the tests' in-process
runs), so every run of a command computes the same bits. The module also makes the tiny data
sets and base model the tests and ``benchmarks/kill_resume.py`` train on, and reads a run's
final weights.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import torch

ROOT = Path(__file__).resolve().parents[2]
WHERE = ("step", "save", "export")


def make_audio_data(folder: Path, n: int = 4) -> Path:
    """A tiny SoundWorld folder (raga clips of one second)."""
    from avgen.worlds.dataset import write_world_dataset

    return write_world_dataset(
        "audio", n, folder, seed=5, instruments=["sitar", "shanai"], duration_s=1.0,
        workers=1, quiet=True,
    )  # fmt: skip


def make_video_data(folder: Path, n: int = 4) -> Path:
    """A tiny MotionWorld folder (clips of one second)."""
    from avgen.worlds.dataset import write_world_dataset

    return write_world_dataset("video", n, folder, seed=3, duration_s=1.0, workers=1, quiet=True)


def make_lora_base(folder: Path) -> Path:
    """A tiny random avgen audio model folder to fine-tune."""
    from avgen.audio import AudioDenoiser, MelVAE
    from avgen.pipelines.text_to_audio import TextToAudioPipeline

    torch.manual_seed(0)
    vae = MelVAE(latent_channels=4, channels=(4, 8, 8))
    denoiser = AudioDenoiser(latent_channels=4, dim=32, depth=1, heads=2, mlp_ratio=2.0)
    with torch.no_grad():  # like a trained model: no zero-initialised gates or output layer
        for param in denoiser.parameters():
            param.add_(0.05 * torch.randn(param.shape))
    cfg = {"num_inference_steps": 2, "window_s": 1.0, "overlap_s": 0.25, "vocoder": "griffin-lim"}
    TextToAudioPipeline(vae, None, denoiser, None, None, cfg).save_pretrained(folder)
    return folder


def final_weights(out: Path) -> dict[str, torch.Tensor]:
    """Every tensor of every safetensors file a run left in ``out`` (the caches aside), keyed by
    ``file/tensor``."""
    from safetensors.torch import load_file

    tensors = {}
    for path in sorted(out.rglob("*.safetensors")):
        rel = path.relative_to(out)
        if rel.parts[0] == "cache":
            continue
        for name, value in load_file(str(path)).items():
            tensors[f"{rel}/{name}"] = value
    return tensors


def differences(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> list[str]:
    """The tensors that are not bitwise equal (or missing on one side), with the largest
    absolute difference."""
    bad = [f"{k}: missing" for k in sorted(set(a) ^ set(b))]
    for k in sorted(set(a) & set(b)):
        if a[k].shape != b[k].shape or a[k].dtype != b[k].dtype:
            bad.append(f"{k}: shape or dtype")
        elif not torch.equal(a[k], b[k]):
            diff = float((a[k].float() - b[k].float()).abs().max())
            bad.append(f"{k}: max diff {diff:.3g}")
    return bad


def run(trainer: str, args: list[str], kill: str | None = None, timeout: float = 300) -> int:
    """Run this script in a subprocess; its return code (-9 when it was killed)."""
    cmd = [sys.executable, str(Path(__file__).resolve()), trainer]
    if kill:
        cmd += ["--kill", kill]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    done = subprocess.run(cmd + ["--", *args], env=env, timeout=timeout, capture_output=True)
    if done.returncode not in (0, -signal.SIGKILL):
        sys.stderr.write(done.stderr.decode(errors="replace")[-3000:])
    return done.returncode


def _die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def arm(component: str, step: int, where: str) -> None:
    """Patch the loop so that this process kills itself at the given moment."""
    from avgen.train import common

    if where == "step":
        train_step = common.ComponentLoop._train_step

        def killing_step(self: Any, run: Any, loss_fn: Any, idx: torch.Tensor) -> None:
            if run.name == component and run.step == step:
                _die()
            train_step(self, run, loss_fn, idx)

        common.ComponentLoop._train_step = killing_step
    elif where == "save":
        save = common.Checkpointer.save

        def killing_save(self: Any, at: int, state: dict) -> Path:
            if self.folder.name == component and at == step:
                self.folder.mkdir(parents=True, exist_ok=True)
                tmp = self.folder / f".step_{at:08d}.pt.tmp"
                torch.save({"step": at, **state}, tmp)
                with open(tmp, "r+b") as f:
                    f.truncate(tmp.stat().st_size // 2)
                _die()
            return save(self, at, state)

        common.Checkpointer.save = killing_save
    else:
        save = common.Checkpointer.save

        def save_then_die(self: Any, at: int, state: dict) -> Path:
            path = save(self, at, state)
            if self.folder.name == component and at == step:
                _die()
            return path

        common.Checkpointer.save = save_then_die


def main() -> int:
    argv = sys.argv[1:]
    split = argv.index("--") if "--" in argv else len(argv)
    p = argparse.ArgumentParser(prog="killrun.py")
    p.add_argument("trainer", choices=("audio", "video", "lora"))
    p.add_argument("--kill", default=None, help="COMPONENT:STEP[:step|save|export]")
    opts = p.parse_args(argv[:split])
    torch.set_num_threads(1)
    if opts.kill:
        parts = opts.kill.split(":")
        arm(parts[0], int(parts[1]), parts[2] if len(parts) > 2 else "step")
    if opts.trainer == "audio":
        from avgen.train.audio import main as train
    elif opts.trainer == "video":
        from avgen.train.video import main as train
    else:
        from avgen.lora.train import main as train
    return train(argv[split + 1 :])


if __name__ == "__main__":
    raise SystemExit(main())
