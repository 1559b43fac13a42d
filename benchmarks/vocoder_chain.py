"""Which vocoder keeps the checkers' attributes: held-out SoundWorld clips through the mel, the
VAE round trip and each vocoder (the generation chain without the denoiser).

Waveform errors (mel, multi-resolution STFT) say how close a vocoder gets to the waveform; this
says how much of what the benchmark measures (tempo, pitch direction, register, ...) survives
it, which is what the default vocoder is chosen by.

    python benchmarks/vocoder_chain.py --count 20 --out benchmarks/results/vocoder_chain.md
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch

from avgen.audio.vocoder import waveform_errors
from avgen.pipelines.text_to_audio import TextToAudioPipeline
from avgen.worlds.audio_checks import check_audio
from avgen.worlds.sound import render_sound_clip

VOCODERS = ("neural", "griffin-lim")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default=None, help="model folder (default: the shipped one)")
    p.add_argument("--count", type=int, default=20)
    p.add_argument("--seed-start", type=int, default=7_000_000)
    p.add_argument("--out", type=Path, default=None)
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    started = time.time()
    pipe = TextToAudioPipeline.from_pretrained(args.model)
    fe = pipe.front_end
    errors: dict[str, list[dict]] = {v: [] for v in VOCODERS}
    checks: dict[str, dict[str, list[int]]] = {v: {} for v in VOCODERS}
    for seed in range(args.seed_start, args.seed_start + args.count):
        clip = render_sound_clip(seed, duration_s=4.0, heldout="only")
        wave = torch.from_numpy(clip.audio).float()[None]
        mel = fe(wave)
        with torch.no_grad():
            decoded = pipe.vae.from_diffusion(pipe.vae.to_diffusion(mel), mel.shape[-1])
            for v in VOCODERS:
                y = pipe.vocode(mel, v, torch.Generator().manual_seed(0))
                errors[v].append(waveform_errors(y, wave, fe))
                chain = pipe.vocode(decoded, v, torch.Generator().manual_seed(0))[0].clamp(-1, 1)
                for key, e in check_audio(chain.numpy(), 16000, clip.expected).items():
                    if e.get("measurable") and e.get("match") is not None:
                        tally = checks[v].setdefault(key, [0, 0])
                        tally[0] += bool(e["match"])
                        tally[1] += 1
    keys = sorted({k for v in VOCODERS for k in checks[v]})
    lines = [
        "# Vocoders through the generation chain (held-out SoundWorld clips)",
        "",
        f"Command: `python benchmarks/vocoder_chain.py --count {args.count}"
        + (f" --out {args.out}`" if args.out else "`"),
        "",
        f"{args.count} clips rendered with heldout='only' (seeds {args.seed_start}+, 4 s); model "
        f"{args.model or 'avgen/models/audio'}; one torch thread; wall time "
        f"{time.time() - started:.0f} s. Errors: the rendered clip's mel straight into the "
        "vocoder, against the clip (lower is better). Checkers: the mel through the VAE round "
        "trip, then the vocoder, checked against the clip's ground truth.",
        "",
        "| vocoder | mel error | multi-res STFT error | " + " | ".join(keys) + " |",
        "|---|---|---|" + "---|" * len(keys),
    ]
    for v in VOCODERS:
        mel_e = np.mean([e["mel_error"] for e in errors[v]])
        stft_e = np.mean([e["mrstft_error"] for e in errors[v]])
        cells = [f"{checks[v][k][0]}/{checks[v][k][1]}" if k in checks[v] else "-" for k in keys]
        lines.append(f"| {v} | {mel_e:.3f} | {stft_e:.3f} | " + " | ".join(cells) + " |")
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        args.out.write_text(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
