"""Tiny random-weight model folders and a real uvicorn server on localhost, for the serve tests,
the load benchmark and the browser script."""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path

import requests
import torch
import uvicorn

from avgen.serve import ServeConfig, create_app
from avgen.serve.models import parse_model_flags


def tiny_audio_model(folder: Path, note_dim: int = 0) -> Path:
    """A tiny avgen audio model (2 steps, real MiniLM text states) saved to ``folder``; with
    ``note_dim`` (``avgen.plan.notes.FEATURES``) its denoiser follows note plans."""
    from avgen.audio import CLAP, AudioDenoiser, MelVAE, Vocoder
    from avgen.pipelines.text_to_audio import TextToAudioPipeline

    torch.manual_seed(0)
    vae = MelVAE(latent_channels=4, channels=(4, 8, 8))
    vocoder = Vocoder(dim=16, depth=1, mlp_mult=2)
    denoiser = AudioDenoiser(
        latent_channels=4, dim=32, depth=1, heads=2, mlp_ratio=2.0, note_dim=note_dim
    )
    clap = CLAP(channels=(4, 8), embed_dim=16)
    config = {"num_inference_steps": 2, "guidance_scale": 2.0, "window_s": 2.0,
              "overlap_s": 0.5, "vocoder": "griffin-lim", "griffin_lim_iters": 2}  # fmt: skip
    TextToAudioPipeline(vae, vocoder, denoiser, clap, _NoEncoder(), config).save_pretrained(folder)
    return folder


def tiny_video_model(folder: Path) -> Path:
    """A tiny avgen video model (2 steps, 64 px, 8 fps) saved to ``folder``."""
    from avgen.pipelines.text_to_video import TextToVideoPipeline
    from avgen.video import VideoDiT, VideoVAE

    torch.manual_seed(0)
    vae = VideoVAE(latent_channels=4, hidden_channels=8, stem_channels=4)
    dit = VideoDiT(latent_channels=4, hidden_size=32, depth=1, num_heads=1, text_dim=384)
    for p in dit.parameters():  # DiT's zero init makes every output the same: perturb
        p.data.add_(0.02 * torch.randn_like(p))
    config = {"num_inference_steps": 2, "window_frames": 9}
    return TextToVideoPipeline(vae, dit, text_encoder=_NoEncoder(), config=config).save_pretrained(
        folder
    )


class _NoEncoder:
    """Saving needs no text encoder; loading uses the bundled MiniLM (384-d)."""

    dim = 384


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class LiveServer:
    """``create_app`` under a real uvicorn server on 127.0.0.1 in a thread."""

    def __init__(self, results_dir: Path, models: list[str], **options: object) -> None:
        config = ServeConfig(
            results_dir=results_dir,
            models=parse_model_flags(models),
            **options,  # type: ignore[arg-type]
        )
        self.app = create_app(config)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.server = uvicorn.Server(
            uvicorn.Config(self.app, host="127.0.0.1", port=self.port, log_level="warning")
        )
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> LiveServer:
        self.thread.start()
        deadline = time.time() + 30
        while not self.server.started:
            if time.time() > deadline or not self.thread.is_alive():
                raise RuntimeError("the test server did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(30)

    def wait(self, job_id: str, timeout: float = 120.0, headers: dict | None = None) -> dict:
        """Poll a job until it ends; its last status."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            status = requests.get(f"{self.url}/api/jobs/{job_id}", headers=headers).json()
            if status["status"] in ("done", "failed", "cancelled"):
                return status
            time.sleep(0.05)
        raise TimeoutError(f"job {job_id} did not end in {timeout} s")
