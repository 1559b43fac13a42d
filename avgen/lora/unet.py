"""LoRA fine-tuning of a diffusers AudioLDM (arXiv 2301.12503) / AudioLDM 2 (arXiv 2308.05734) UNet.

The diffusers side of ``avgen.lora.train``: load the pipeline folder frozen, cache its VAE's
latents of time-major natural-log mels (avgen's ``MelFrontEnd`` with the vocoder's settings:
for the released checkpoints 64 bins, 16 kHz, hop 160) and its own text encodings, and train
with DDPM noising and the objective (epsilon, v or sample) of its scheduler config; 10 % of the
captions are dropped to the empty prompt that its classifier-free guidance uses.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file
from torch import nn

from avgen.audio.mel import MelFrontEnd, denormalize
from avgen.errors import AvgenError
from avgen.lora.adapter import base_signature
from avgen.lora.train import LoraTrainer, data_key, save_tensors
from avgen.train.audio import COND_DROPOUT, AudioData

DIFFUSERS_PIPELINES = ("AudioLDMPipeline", "AudioLDM2Pipeline")


def load_pipeline(base_dir: Path) -> tuple[Any, str]:
    """The AudioLDM / AudioLDM 2 pipeline in ``base_dir`` (local files only) and its class name."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import diffusers

    index_path = base_dir / "model_index.json"
    try:
        cls_name = json.loads(index_path.read_text()).get("_class_name")
    except (json.JSONDecodeError, UnicodeDecodeError, AttributeError) as exc:
        raise AvgenError(f"{index_path} is not valid JSON.") from exc
    if cls_name not in DIFFUSERS_PIPELINES:
        raise AvgenError(
            f"--base {base_dir} holds a {cls_name}; avgen fine-tunes "
            f"{' and '.join(DIFFUSERS_PIPELINES)} UNets."
        )
    try:
        pipe = getattr(diffusers, cls_name).from_pretrained(base_dir, local_files_only=True)
    except Exception as exc:  # missing or corrupt component files
        msg = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        raise AvgenError(
            f"cannot load the {cls_name} in {base_dir} ({exc.__class__.__name__}: {msg[:200]})."
        ) from exc
    return pipe, cls_name


def front_end_and_scheduler(pipe: Any, cls_name: str, base_dir: Path, dev: Any) -> tuple:
    """avgen's mel front end with the vocoder's settings, and a DDPM scheduler from the
    pipeline's scheduler config (its prediction type)."""
    import diffusers

    voc = pipe.vocoder.config
    sr, hop, n_mels = (
        int(voc.sampling_rate),
        int(math.prod(voc.upsample_rates)),
        voc.model_in_dim,
    )
    if sr != 16000:
        raise AvgenError(
            f"{cls_name} in {base_dir} runs at {sr} Hz; avgen fine-tunes 16 kHz models."
        )
    fe = MelFrontEnd(sample_rate=sr, hop=hop, n_mels=int(n_mels)).to(dev)
    sched = diffusers.DDPMScheduler.from_config(pipe.scheduler.config)
    if sched.config.prediction_type not in ("epsilon", "v_prediction", "sample"):
        raise AvgenError(
            f"scheduler prediction_type {sched.config.prediction_type!r} is not supported."
        )
    return fe, sched


def setup_diffusers(trainer: LoraTrainer) -> tuple[nn.Module, Callable, dict[str, Any], set[str]]:
    """AudioLDM / AudioLDM 2: LoRA on the UNet; epsilon / v / sample from the scheduler."""
    pipe, cls_name = load_pipeline(trainer.base_dir)
    dev = trainer.acc.device
    pipe.to(dev)
    for part in pipe.components.values():
        if isinstance(part, nn.Module):
            part.requires_grad_(False).eval()
    fe, sched = front_end_and_scheduler(pipe, cls_name, trainer.base_dir, dev)
    losses = {}
    for name, ds in trainer.datasets():
        lat, frames = diffusers_latents(trainer, pipe, fe, ds)
        text, null = diffusers_text(pipe, cls_name, ds, dev)
        losses[name] = diffusers_loss(ds, lat, frames, text, null, sched, cls_name, dev)
    base = {
        "kind": "diffusers",
        "pipeline_class": cls_name,
        "component": "unet",
        "path": trainer.base_label,
        "prediction_type": sched.config.prediction_type,
        **base_signature(pipe.unet),
    }
    return pipe.unet, trainer.combine(losses), base, set()


def _unet_kwargs(cls_name: str, cond: dict[str, torch.Tensor]) -> dict[str, Any]:
    """The UNet's text inputs: AudioLDM's CLAP embedding as the class label; AudioLDM 2's
    GPT-2 states and T5 states with their mask."""
    if cls_name == "AudioLDMPipeline":
        return {"encoder_hidden_states": None, "class_labels": cond["embeds"]}
    return {
        "encoder_hidden_states": cond["generated"],
        "encoder_hidden_states_1": cond["embeds"],
        "encoder_attention_mask_1": cond["mask"],
    }


def diffusers_loss(
    data: AudioData,
    lat: torch.Tensor,
    lat_frames: torch.Tensor,
    text: dict[str, torch.Tensor],
    null: dict[str, torch.Tensor],
    sched: Any,
    cls_name: str,
    dev: Any,
) -> Callable:
    """DDPM noising of cached latents; MSE to noise / velocity / sample on real frames."""
    prediction = sched.config.prediction_type
    n_train = int(sched.config.num_train_timesteps)

    def loss(m: nn.Module, idx: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        b = len(idx)
        x0 = lat[idx].to(dev)  # (B, C, T', F')
        noise = torch.randn(x0.shape, generator=gen).to(dev)
        t = torch.randint(0, n_train, (b,), generator=gen)
        noisy = sched.add_noise(x0, noise, t).to(dev)
        if prediction == "epsilon":
            target = noise
        elif prediction == "v_prediction":
            target = sched.get_velocity(x0, noise, t)
        else:
            target = x0
        ids = data.random_captions(idx, gen)
        drop = torch.rand(b, generator=gen) < COND_DROPOUT  # -> the empty prompt
        cond = {}
        for k, v in text.items():
            rows = v[ids].clone()
            rows[drop] = null[k]
            cond[k] = rows.to(dev)
        pred = m(noisy, t.to(dev), return_dict=False, **_unet_kwargs(cls_name, cond))[0]
        err = (pred.float() - target.float()).pow(2)  # (B, C, T', F')
        keep = (torch.arange(x0.shape[2])[None] < lat_frames[idx][:, None]).to(dev)
        keep = keep[:, None, :, None].to(err.dtype)  # (B, 1, T', 1)
        return (err * keep).sum() / (keep.sum() * err.shape[1] * err.shape[3]).clamp_min(1)

    return loss


@torch.no_grad()
def diffusers_latents(
    trainer: LoraTrainer, pipe: Any, fe: MelFrontEnd, data: AudioData
) -> tuple[torch.Tensor, torch.Tensor]:
    """VAE means (N, C, T', F') of time-major natural-log mels, and real latent frames, cached
    in OUT/cache."""
    vae = pipe.vae
    factor = 2 ** (len(vae.config.block_out_channels) - 1)
    scale = float(vae.config.scaling_factor)
    sig = base_signature(vae)
    key = data_key(
        data.folder, data.n, trainer.args.seconds, fe.hop, fe.n_mels, sig["architecture"],
        sig["probe"][:16],
    )  # fmt: skip
    path = trainer.out / "cache" / f"latents_diffusers_{key}.safetensors"
    with trainer.acc.main_process_first():
        if not path.is_file():
            chunks = []
            for s in range(0, data.n, 8):
                wave, _ = data.waves(torch.arange(s, min(s + 8, data.n)))
                mel = denormalize(fe(wave.to(fe.fb.device)))  # (B, 1, n_mels, T) ln |mel|
                frames = mel.shape[-1] // factor * factor
                mel = mel[..., :frames].transpose(2, 3)  # (B, 1, T, n_mels) as AudioLDM
                dist = vae.encode(mel.to(vae.dtype)).latent_dist
                chunks.append((dist.mean * scale).float().cpu())
            real = (data.length // fe.hop + factor - 1) // factor
            save_tensors(path, {"latents": torch.cat(chunks).contiguous(), "frames": real})
    stored = load_file(str(path))
    return stored["latents"], stored["frames"]


@torch.no_grad()
def diffusers_text(
    pipe: Any, cls_name: str, data: AudioData, dev: Any
) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    """Every distinct caption through the pipeline's own encoders, and the empty prompt."""
    captions = data.unique_captions + [""]
    if cls_name == "AudioLDMPipeline":
        rows = [
            pipe._encode_prompt(captions[s : s + 16], dev, 1, False).float().cpu()
            for s in range(0, len(captions), 16)
        ]
        embeds = torch.cat(rows)  # (N + 1, D) L2-normalised CLAP text embeddings
        return {"embeds": embeds[:-1]}, {"embeds": embeds[-1]}
    gen_rows, emb_rows, mask_rows = [], [], []
    for caption in captions:  # one at a time: T5 pads each batch to its longest caption
        emb, mask, generated = pipe.encode_prompt([caption], dev, 1, False)
        emb_rows.append(emb[0].float().cpu())  # (L, D2)
        mask_rows.append(mask[0].cpu())  # (L,)
        gen_rows.append(generated[0].float().cpu())  # (G, D1)
    length = max(e.shape[0] for e in emb_rows)
    embeds = torch.zeros(len(captions), length, emb_rows[0].shape[-1])
    mask = torch.zeros(len(captions), length, dtype=mask_rows[0].dtype)
    for i, (e, m) in enumerate(zip(emb_rows, mask_rows)):
        embeds[i, : e.shape[0]] = e
        mask[i, : m.shape[0]] = m
    generated = torch.stack(gen_rows)  # (N + 1, G, D1)
    text = {"embeds": embeds[:-1], "mask": mask[:-1], "generated": generated[:-1]}
    null = {"embeds": embeds[-1], "mask": mask[-1], "generated": generated[-1]}
    return text, null
