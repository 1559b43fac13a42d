"""Train avgen's AudioLDM-style text-to-audio model (arXiv 2301.12503) from a captioned folder.

``avgen train audio --data DIR --out DIR`` (or ``python -m avgen.train.audio``, or
``accelerate launch --multi_gpu --num_processes N -m avgen.train.audio ...`` for DDP; on a machine
without CUDA that runs N CPU processes over gloo, while accelerate 1.15's ``--cpu --num_processes
N`` starts a single process unless given an MPI hostfile) trains, in
order: the mel VAE and the Vocos-style vocoder on random 1 s crops, the CLAP-style contrastive
model on whole windows (duplicate captions in a batch are dropped so no pair is a false
negative), then precomputes the VAE latents and the MiniLM text encodings and trains the
latent denoiser with rectified flow (logit-normal t, SD3), 10 % condition dropout to the null
condition (``AudioDenoiser.null_condition``'s meaning: masked tokens, zero pooled vector),
tempo / seconds conditions from the metadata's truth (NaN = unknown when a user's data lacks
them, and 30 % tempo dropout so prompts without a tempo work), and a parameter EMA.

The data folder is the world layout (``metadata.jsonl`` + audio files; see
``avgen.worlds.loader``). Output: ``OUT/<component>/`` (``save_pretrained``; the denoiser's
EMA weights; the VAE's latent scaling factor in its config), ``OUT/train_log.jsonl``,
``OUT/checkpoints/<component>/step_*.pt`` (resumed by default) and ``OUT/cache/``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import signal
import sys
from pathlib import Path
from typing import Any

import torch

from avgen.audio.clap import CLAP
from avgen.audio.denoiser import AudioDenoiser
from avgen.audio.mel import HOP, SAMPLE_RATE, MelFrontEnd
from avgen.audio.vae import MelVAE
from avgen.audio.vocoder import Vocoder, vocoder_losses
from avgen.diffusion.flow import flow_matching_loss
from avgen.errors import AvgenError
from avgen.files import temp_path
from avgen.plan.notes import FEATURES, plan_from_world_truth
from avgen.train.captions import (
    CaptionIndex,
    caption_vocabulary,
    gather_text,
    text_cache,
)
from avgen.train.common import (
    ComponentLoop,
    cached_tensors,
    load_matching,
    request_stop,
)
from avgen.train.options import add_loop_options
from avgen.train.streams import seed_init

COMPONENTS = ("vae", "vocoder", "clap", "denoiser")
DEFAULT_STEPS = {"vae": 2000, "vocoder": 3000, "clap": 1500, "denoiser": 6000}
DEFAULT_BATCH = {"vae": 16, "vocoder": 16, "clap": 32, "denoiser": 16}
DEFAULT_LR = {"vae": 5e-4, "vocoder": 5e-4, "clap": 3e-4, "denoiser": 4e-4}
TINY_CONFIG: dict[str, dict[str, Any]] = {
    "vae": {"latent_channels": 4, "block_out_channels": [4, 8, 8]},
    "vocoder": {"hidden_size": 16, "num_layers": 1, "mlp_ratio": 2},
    "clap": {"block_out_channels": [4, 8], "embed_dim": 16},
    "denoiser": {"hidden_size": 32, "num_layers": 1, "num_heads": 2, "mlp_ratio": 2.0},
}
CROP_SECONDS = 1.0
COND_DROPOUT = 0.1
TEMPO_DROPOUT = 0.3
PLAN_DROPOUT = 0.3  # note plans dropped to "no plan", so text-only generation keeps working


# ----------------------------------------------------------------------------- options


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="avgen train audio",
        description="Train the text-to-audio components (VAE, vocoder, CLAP, denoiser).",
    )
    p.add_argument("--data", type=Path, default=None, help="folder: metadata.jsonl + audio")
    p.add_argument("--out", required=True, type=Path, help="output folder")
    p.add_argument("--components", default=",".join(COMPONENTS), help="comma-separated, in order")
    p.add_argument("--steps", default=None, help="N or vae=N,denoiser=M,...")
    p.add_argument("--batch-size", default=None, help="N or component=N,... (per process)")
    p.add_argument("--lr", default=None, help="X or component=X,...")
    p.add_argument("--max-minutes", default=None, help="stop a component early: M or c=M,...")
    p.add_argument("--seconds", type=float, default=4.0, help="training window (s), default 4")
    p.add_argument("--checkpoint-every", type=int, default=500, help="steps between checkpoints")
    p.add_argument("--log-every", type=int, default=25, help="steps between loss-log lines")
    # SIGTERM stops at the next log step, saving the checkpoint and the component's weights
    p.add_argument("--resume", action=argparse.BooleanOptionalAction, default=True)
    p.add_argument("--tiny", action="store_true", help="tiny model sizes (tests, smoke runs)")
    p.add_argument("--config", default=None, help="JSON (file or text): {component: kwargs}")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--init-from", type=Path, default=None, help="start the denoiser from "
                   "this model folder's denoiser (new inputs keep their zero init)")  # fmt: skip
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    add_loop_options(p)
    p.add_argument("--export", type=Path, default=None, help="no training: copy OUT's model to "
                   "this folder with float16 weights (to ship it), then exit")  # fmt: skip
    p.add_argument("--pipeline-config", default=None, help="JSON: pipeline.json defaults to set")
    return p


def export_model(src: Path, dst: Path, overrides: dict[str, Any] | None = None) -> Path:
    """Copy a trained model folder to ``dst`` with float16 weights (loaded back as float32)
    and a pipeline.json of the defaults plus ``overrides``: how ``avgen/models/audio`` ships."""
    from avgen.pipelines.text_to_audio import DEFAULTS, PIPELINE_CLASS, PIPELINE_CONFIG

    classes = {"vae": MelVAE, "vocoder": Vocoder, "clap": CLAP, "denoiser": AudioDenoiser}
    for name, cls in classes.items():
        if (src / name / "config.json").is_file():
            cls.from_pretrained(src / name).half().save_pretrained(dst / name)
        elif name in ("vae", "denoiser"):
            raise AvgenError(f"{src / name} is missing; train the {name} first.")
    unknown = set(overrides or {}) - set(DEFAULTS)
    if unknown:
        raise AvgenError(
            f"--pipeline-config keys {sorted(unknown)} are unknown; use {sorted(DEFAULTS)}."
        )
    cfg = {"_class": PIPELINE_CLASS, **DEFAULTS, **(overrides or {})}
    tmp = temp_path(dst / PIPELINE_CONFIG)
    tmp.write_text(json.dumps(cfg, indent=2) + "\n")
    os.replace(tmp, dst / PIPELINE_CONFIG)
    return dst


# ----------------------------------------------------------------------------- data


class AudioData(CaptionIndex):
    """The data folder as tensors: waveforms (N, T), real lengths, captions, tempo, seconds."""

    def __init__(self, folder: Path, seconds: float, accelerator: Any, quiet: bool) -> None:
        from avgen.worlds.loader import WorldDataset

        with accelerator.main_process_first():
            ds = WorldDataset(folder, "audio", seconds=seconds, quiet=quiet)
        self.audio = ds.tensors["audio"]  # (N, T) float16
        self.length = ds.tensors["audio_length"]  # (N,)
        self.captions: list[list[str]] = [r["captions"] for r in ds.rows]
        self.n = len(ds.rows)
        truth = _truth_rows(folder)
        tempo, secs = [], []
        for i in range(self.n):
            row = truth[i] if i < len(truth) else {}
            bpm = row.get("tempo_bpm")
            tempo.append(float(bpm) if isinstance(bpm, int | float) else math.nan)
            secs.append(float(self.length[i]) / SAMPLE_RATE)
        # the note plan each clip was rendered from (None: no notes, or a user's own data)
        self.plans = [plan_from_world_truth(truth[i], seconds) if i < len(truth) else None
                      for i in range(self.n)]  # fmt: skip
        self.tempo = torch.tensor(tempo)  # (N,) NaN = unknown
        self.seconds = torch.tensor(secs)  # (N,) real seconds in the window
        self.index_captions(self.captions)

    def waves(self, idx: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.audio[idx].float(), self.length[idx]

    def note_features(self, frames: int, frame_seconds: float) -> torch.Tensor:
        """Every clip's note-plan condition (N, frames, FEATURES) in float16; zeros = no plan."""
        out = torch.zeros(self.n, frames, FEATURES, dtype=torch.float16)
        for i, plan in enumerate(self.plans):
            if plan is not None:
                out[i] = torch.from_numpy(plan.features(frames, frame_seconds))
        return out


def _truth_rows(folder: Path) -> list[dict]:
    """The metadata.jsonl rows in order (blank lines skipped, as the loader does)."""
    rows = []
    for line in (folder / "metadata.jsonl").read_text().splitlines():
        if line.strip():
            rows.append(json.loads(line))
    return rows


def random_crops(
    wave: torch.Tensor, length: torch.Tensor, n: int, gen: torch.Generator
) -> torch.Tensor:
    """Random crops (B, n) from the real part of each waveform (zero-padded if shorter).

    Up to four starts are tried per row to find one that is not near silence.
    """
    out = torch.zeros(wave.shape[0], n)
    for b in range(wave.shape[0]):
        real = int(length[b])
        for _ in range(4):  # avoid near-silent crops (lead-ins, fades): they carry no signal
            start = int(torch.randint(max(1, real - n + 1), (1,), generator=gen))
            piece = wave[b, start : start + n]
            if float(piece.pow(2).mean()) > 1e-6:
                break
        out[b, : piece.shape[0]] = piece
    return out


def denoiser_loss(
    data: Any,
    lat: torch.Tensor,
    lat_frames: torch.Tensor,
    cache: dict,
    device: Any,
    notes: torch.Tensor | None = None,
) -> Any:
    """The denoiser's rectified-flow loss on cached latents (N, C, 16, T') and text: text
    dropped to the null condition with COND_DROPOUT, tempo with TEMPO_DROPOUT, padded latent
    frames masked out; with ``notes`` (N, T', FEATURES) each clip's note plan as well, dropped
    to zeros (no plan) with PLAN_DROPOUT. Returns ``loss(model, idx, generator) -> scalar``."""

    def loss(m: torch.nn.Module, idx: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        b = len(idx)
        x0 = lat[idx].to(device)  # (B, C, 16, T')
        cond = gather_text(cache, data.random_captions(idx, gen))
        drop = torch.rand(b, generator=gen) < COND_DROPOUT  # -> the null condition
        cond["tokens"][drop] = 0.0
        cond["mask"][drop] = False
        cond["pooled"][drop] = 0.0
        tempo = data.tempo[idx].clone()
        tempo[torch.rand(b, generator=gen) < TEMPO_DROPOUT] = math.nan
        cond["tempo"] = tempo
        cond["seconds"] = data.seconds[idx].clone()
        if notes is not None:
            plan = notes[idx].float()  # (B, T', FEATURES)
            plan[torch.rand(b, generator=gen) < PLAN_DROPOUT] = 0.0
            cond["notes"] = plan
        frames = lat_frames[idx]
        mask = None
        if bool((frames < x0.shape[-1]).any()):
            fm = torch.arange(x0.shape[-1])[None] < frames[:, None]  # (B, T')
            cond["frame_mask"] = fm
            mask = fm[:, None, None, :].to(device)  # (B, 1, 1, T')
        cond = {k: v.to(device) for k, v in cond.items()}
        return flow_matching_loss(m, x0, cond, generator=None, mask=mask)

    return loss


# ----------------------------------------------------------------------------- loop


class Trainer(ComponentLoop):
    """Runs one component's loop under Accelerate with checkpoints, EMA and the loss log."""

    def __init__(self, args: argparse.Namespace) -> None:
        defaults = {"steps": DEFAULT_STEPS, "batch": DEFAULT_BATCH, "lr": DEFAULT_LR}
        self.setup(args, COMPONENTS, defaults, TINY_CONFIG)
        self.fe = MelFrontEnd()
        self._data: AudioData | None = None

    @property
    def data(self) -> AudioData:
        if self._data is None:
            self._data = AudioData(self.args.data, self.args.seconds, self.acc, self.quiet)
        return self._data

    # ------------------------------------------------------------------ components

    def train_vae(self) -> None:
        seed_init(self.args.seed, "vae")
        model = MelVAE(**self.configs["vae"])
        n = int(CROP_SECONDS * SAMPLE_RATE)
        fe = self.fe

        def loss_fn(m: torch.nn.Module, idx: torch.Tensor, gen: torch.Generator) -> dict:
            wave, length = self.data.waves(idx)
            crop = random_crops(wave, length, n, gen).to(self.acc.device)
            mel = fe.to(self.acc.device)(crop)  # (B, 1, 64, 100)
            return _vae_loss(m, mel)

        model, _, step = self.run_loop("vae", model, loss_fn)
        scale = self.latent_scale(model)
        model.set_scaling_factor(scale)
        self.finish("vae", model, step, {"scaling_factor": scale})

    @torch.no_grad()
    def latent_scale(self, vae: MelVAE) -> float:
        """1 / std of the posterior means over up to 256 windows (Stable Diffusion's recipe)."""
        vae.eval()
        idx = torch.arange(min(256, self.data.n))
        means = []
        for s in range(0, len(idx), 32):
            wave, _ = self.data.waves(idx[s : s + 32])
            means.append(vae.encode(self.fe(wave))[0])
        std = float(torch.cat(means).std())
        return 1.0 / max(std, 1e-6)

    def train_vocoder(self) -> None:
        seed_init(self.args.seed, "vocoder")
        model = Vocoder(**self.configs["vocoder"])
        n = int(CROP_SECONDS * SAMPLE_RATE)
        fe = self.fe

        def loss_fn(m: torch.nn.Module, idx: torch.Tensor, gen: torch.Generator) -> dict:
            wave, length = self.data.waves(idx)
            crop = random_crops(wave, length, n, gen).to(self.acc.device)
            # near-silent targets (below -60 dBFS RMS) make spectral convergence explode
            loud = crop.pow(2).mean(1).sqrt() > 1e-3
            if bool(loud.any()):
                crop = crop[loud]
            mel = fe.to(self.acc.device)(crop)
            return vocoder_losses(m(mel), crop, fe)

        model, _, step = self.run_loop("vocoder", model, loss_fn)
        self.finish("vocoder", model, step)

    def train_clap(self) -> None:
        seed_init(self.args.seed, "clap")
        model = CLAP(**self.configs["clap"])
        cache = text_cache(self.data, self.out, self.acc, self.quiet)
        fe = self.fe

        def loss_fn(m: torch.nn.Module, idx: torch.Tensor, gen: torch.Generator) -> dict:
            ids = self.data.random_captions(idx, gen)
            keep, seen = [], set()
            for j, c in enumerate(ids.tolist()):  # no duplicate captions: no false negatives
                if c not in seen:
                    seen.add(c)
                    keep.append(j)
            idx, ids = idx[keep], ids[keep]
            wave, length = self.data.waves(idx)
            mel = fe(wave).to(self.acc.device)  # (B, 1, 64, F)
            frames = mel.shape[-1]
            frame_mask = torch.arange(frames)[None] < (length[:, None] // HOP).clamp_min(1)
            a, t = m(mel, cache["pooled"][ids].to(self.acc.device), frame_mask.to(mel.device))
            inner = self.acc.unwrap_model(m)
            loss = inner.contrastive_loss(a, t)
            with torch.no_grad():
                acc = inner.score(a, t).argmax(1) == torch.arange(len(ids), device=a.device)
            return {"total": loss, "top1": acc.float().mean()}

        model, _, step = self.run_loop("clap", model, loss_fn)
        self.finish("clap", model, step)

    @torch.no_grad()
    def latents(self, vae: MelVAE) -> tuple[torch.Tensor, torch.Tensor]:
        """Scaled posterior means of every window (N, C, 16, T') and real latent frames (N,)."""
        key = hashlib.sha256(
            (self.out / "vae" / "model.safetensors").read_bytes()
            + json.dumps(vae.config.to_dict(), sort_keys=True).encode()
            + str((self.data.n, self.args.seconds, str(self.args.data.resolve()))).encode()
        ).hexdigest()[:16]
        path = self.out / "cache" / f"latents_{key}.safetensors"

        def make() -> dict[str, torch.Tensor]:
            from tqdm import tqdm

            vae.eval()
            chunks = []
            for s in tqdm(range(0, self.data.n, 32), desc="latents", disable=self.quiet):
                wave, _ = self.data.waves(torch.arange(s, min(s + 32, self.data.n)))
                chunks.append(vae.to_diffusion(self.fe(wave)))
            frames = vae.latent_frames(self.data.length // HOP)
            return {"latents": torch.cat(chunks), "frames": frames}

        stored = cached_tensors(self.acc, path, make)
        return stored["latents"], stored["frames"]

    def train_denoiser(self) -> None:
        vae_dir = self.out / "vae"
        if not (vae_dir / "config.json").is_file():
            raise AvgenError(f"{vae_dir} has no trained VAE; train the 'vae' component first.")
        vae = MelVAE.from_pretrained(vae_dir)
        lat, lat_frames = self.latents(vae)
        cache = text_cache(self.data, self.out, self.acc, self.quiet)
        cfg = {
            "latent_channels": vae.latent_channels,
            "latent_freq": vae.latent_freq,
            **self.configs["denoiser"],
        }
        seed_init(self.args.seed, "denoiser")
        model = AudioDenoiser(**cfg)
        if self.args.init_from is not None:
            init_denoiser(model, self.args.init_from)
        data = self.data
        notes = None
        if model.note_dim:
            if model.note_dim != FEATURES:
                raise AvgenError(f"the denoiser's note_dim must be {FEATURES} (or 0).")
            notes = data.note_features(lat.shape[-1], vae.temporal_factor * HOP / SAMPLE_RATE)

        loss = denoiser_loss(data, lat, lat_frames, cache, self.acc.device, notes)

        def loss_fn(m: torch.nn.Module, idx: torch.Tensor, gen: torch.Generator) -> dict:
            return {"total": loss(m, idx, gen)}

        model, averager, step = self.run_loop("denoiser", model, loss_fn, ema=True)
        if averager is not None:
            averager.copy_to(model)
        self.finish("denoiser", model, step, {"ema_decay": averager.decay() if averager else None})

    def run(self, components: list[str]) -> None:
        if self.run_components(components, {"seconds": self.args.seconds}):
            write_pipeline_config(self.out, self.args.seconds)
            vocab = caption_vocabulary(self.data.unique_captions)
            (self.out / "vocabulary.json").write_text(json.dumps(vocab, indent=1) + "\n")
        self.acc.wait_for_everyone()


def init_denoiser(model: AudioDenoiser, folder: Path) -> None:
    """Load ``folder``'s denoiser weights (a model folder or its ``denoiser/``) into ``model``
    wherever name and shape match; weights the source lacks (new inputs such as ``notes_in``)
    keep their initialisation. A source weight of another size is refused."""
    src = folder / "denoiser" if (folder / "denoiser" / "config.json").is_file() else folder
    if not (src / "config.json").is_file():
        raise AvgenError(f"--init-from {folder} holds no denoiser (no config.json).")
    load_matching(model, AudioDenoiser.from_pretrained(src).state_dict(), folder, "denoiser")


def write_pipeline_config(out: Path, seconds: float) -> None:
    """Make OUT a loadable model folder (``TextToAudioPipeline.from_pretrained(OUT)``) once the
    VAE and the denoiser exist; an existing pipeline.json (tuned defaults) is kept."""
    from avgen.pipelines.text_to_audio import DEFAULTS, PIPELINE_CLASS, PIPELINE_CONFIG

    path = out / PIPELINE_CONFIG
    if path.is_file() or not all((out / c / "config.json").is_file() for c in ("vae", "denoiser")):
        return
    cfg = {"_class": PIPELINE_CLASS, **DEFAULTS, "window_s": seconds}
    cfg["overlap_s"] = min(DEFAULTS["overlap_s"], seconds / 4)
    tmp = temp_path(path)
    tmp.write_text(json.dumps(cfg, indent=2) + "\n")
    os.replace(tmp, path)


def _vae_loss(m: torch.nn.Module, mel: torch.Tensor) -> dict[str, torch.Tensor]:
    """VAE loss through the (possibly DDP-wrapped) model's forward."""
    rec, mean, logvar = m(mel)
    l1 = (rec - mel).abs().mean()
    kl = 0.5 * (mean.pow(2) + logvar.exp() - 1.0 - logvar).mean()
    inner = m.module if hasattr(m, "module") else m
    return {"total": l1 + inner.kl_weight * kl, "rec": l1, "kl": kl}


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``avgen train audio`` and ``python -m avgen.train.audio``."""
    args = build_parser().parse_args(argv)
    if args.export is not None:
        overrides = json.loads(args.pipeline_config) if args.pipeline_config else {}
        export_model(args.out, args.export, overrides)
        return 0
    components = [c.strip() for c in args.components.split(",") if c.strip()]
    for c in components:
        if c not in COMPONENTS:
            raise AvgenError(f"component {c!r} is unknown; choose from {', '.join(COMPONENTS)}.")
    if args.data is None:
        raise AvgenError("--data is required: a folder with metadata.jsonl and audio files.")
    if not (args.data / "metadata.jsonl").is_file():
        raise AvgenError(f"{args.data} has no metadata.jsonl; give a folder in the world layout.")
    if not 1.0 <= args.seconds <= 60.0:
        raise AvgenError(f"--seconds {args.seconds:g} is outside 1 to 60.")
    if args.checkpoint_every < 1 or args.log_every < 1:
        raise AvgenError("--checkpoint-every and --log-every must be at least 1.")
    torch.manual_seed(args.seed)
    args.out.mkdir(parents=True, exist_ok=True)
    signal.signal(signal.SIGTERM, request_stop)
    Trainer(args).run(components)
    return 0


if __name__ == "__main__":
    try:
        raise SystemExit(main())
    except AvgenError as exc:
        sys.stderr.write(f"avgen: {exc}\n")
        raise SystemExit(2) from None
