"""Audio-to-audio with the shipped model, measured against the untouched input.

For held-out SoundWorld clips: style transfer at several strengths (log-mel L1 distance to the
input: smaller strength should stay closer), inpainting of the middle second (distance
outside the range, which should stay near the input, vs inside) and super-resolution (the clip
low-passed at each cut-off, its band above the cut-off restored; distance to the ORIGINAL
full-band clip, separately above and below the cut-off). Writes markdown tables.

    python benchmarks/audio_to_audio.py --count 12 --out benchmarks/results/audio_to_audio.md
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import scipy.signal
import torch

from avgen.media import mel_spectrogram_np
from avgen.pipelines.text_to_audio import TextToAudioPipeline
from avgen.worlds.sound import render_sound_clip

SR = 16000
HOP = 160


def mel_l1(a: np.ndarray, b: np.ndarray, lo: int = 0, hi: int | None = None) -> float:
    ma, mb = mel_spectrogram_np(a, SR), mel_spectrogram_np(b, SR)
    n = min(ma.shape[1], mb.shape[1])
    hi = n if hi is None else min(hi, n)
    return float(np.abs(ma[:, lo:hi] - mb[:, lo:hi]).mean())


def lowpass(x: np.ndarray, cutoff_hz: float) -> np.ndarray:
    """8th-order Butterworth low-pass applied forwards and backwards (zero phase)."""
    sos = scipy.signal.butter(8, cutoff_hz, fs=SR, output="sos")
    return scipy.signal.sosfiltfilt(sos, x).astype(np.float32)


def band_stats(ref: np.ndarray, out: np.ndarray, known: int) -> tuple[float, float, float]:
    """Log-mel L1 to ``ref`` above / below mel bin ``known``, and the high band's level
    10 log10(E_out / E_ref) in dB (mel power summed over bins >= known and all frames)."""
    mr, mo = mel_spectrogram_np(ref, SR), mel_spectrogram_np(out, SR)  # (64, F) ln power
    n = min(mr.shape[1], mo.shape[1])
    mr, mo = mr[:, :n], mo[:, :n]
    level = 10 * np.log10(np.exp(mo[known:]).sum() / np.exp(mr[known:]).sum())
    return (
        float(np.abs(mo[known:] - mr[known:]).mean()),
        float(np.abs(mo[:known] - mr[:known]).mean()),
        float(level),
    )


def super_resolution_section(
    pipe: TextToAudioPipeline, count: int, cutoffs: list[float], duration_s: float = 4.0
) -> list[str]:
    """Low-pass each clip, restore the band above the cut-off, compare with the original."""
    rows = ("low-passed input (baseline)",
            "super-resolved (default: latent inpainting + mel paste + STFT splice)",
            "super-resolved without the STFT splice (mel paste)",
            "super-resolved, latent inpainting only (no mel paste, no splice)",
            "text only, no input (same caption and seed)",
            "chain alone: original -> mel -> vocoder")  # fmt: skip
    stats: dict[tuple[float, str], list[tuple[float, float, float]]] = {}
    sr_time: list[float] = []
    start = time.time()
    paste, splice = pipe.paste_known_band, pipe.splice_known_band
    for i in range(count):
        clip = render_sound_clip(8_000_000 + i, duration_s=duration_s, heldout="only")
        prompt, x = clip.captions[0], clip.audio
        gen = torch.Generator().manual_seed(i)
        text_only = pipe(prompt, generator=gen, audio_length_in_s=duration_s).audio
        mel = pipe.front_end(torch.as_tensor(x)[None])  # (1, 1, 64, F)
        chain = pipe.vocode(mel, str(pipe.config["vocoder"]), torch.Generator().manual_seed(i))
        chain = pipe.peak_limit(chain)[0].numpy()
        for fc in cutoffs:
            known = pipe.known_mel_bins(fc)
            low = lowpass(x, fc)
            t0 = time.time()
            gen = torch.Generator().manual_seed(i)
            out = pipe(prompt, generator=gen, init_audio=low, super_resolution=fc).audio
            sr_time.append(time.time() - t0)
            variants = []
            pipe.splice_known_band = lambda wave, audio, cutoff: wave  # without 7a, then 6b
            try:
                for _ in ("no splice", "latent only"):
                    gen = torch.Generator().manual_seed(i)
                    y = pipe(prompt, generator=gen, init_audio=low, super_resolution=fc).audio
                    variants.append(y)
                    pipe.paste_known_band = lambda mel, audio, cutoff: mel
            finally:
                pipe.paste_known_band, pipe.splice_known_band = paste, splice
            outs = (low, out, *variants, text_only, chain)
            for name, y in zip(rows, outs):
                stats.setdefault((fc, name), []).append(band_stats(x, y, known))
    wall = time.time() - start
    windows = len(pipe.window_plan(duration_s))
    lines = [
        "",
        f"## Super-resolution (inpainting along the mel's frequency axis), {duration_s:g} s clips",
        "",
        f"Same command; {count} held-out clips of {duration_s:g} s ({windows} window(s); seeds "
        "8000000+), each low-passed at "
        f"{', '.join(f'{c:g}' for c in cutoffs)} Hz (8th-order Butterworth, zero phase: "
        "scipy sosfiltfilt), then `text_to_audio(caption, init_audio=low, "
        "super_resolution=cut-off)` with default steps and guidance. Section wall time "
        f"{wall:.0f} s on the 2-core CPU (one torch thread); one super-resolution call "
        f"{np.mean(sr_time):.2f} s on average.",
        "",
        "Distance = mean absolute log-mel difference (ln power, floor 1e-10, 64 Slaney bins) to "
        "the ORIGINAL full-band clip, over the mel bins whose centre lies above / below the "
        "cut-off. High-band level = energy above the cut-off of the output over the original's, "
        "in dB (mean over clips; negative = too quiet). The "
        "low-passed input's high band is near the floor, so its high-band distance mostly "
        "measures the floor; the text-only row says how much the kept low band helps.",
        "",
    ]
    for fc in cutoffs:
        known = pipe.known_mel_bins(fc)
        lines += [
            f"Cut-off {fc:g} Hz: {known} of 64 mel bins known, {known // pipe.vae.freq_factor} "
            f"of {pipe.vae.latent_freq} latent rows kept.",
            "",
            "| output | high band (above) | low band (below) | high-band level (dB) |",
            "|---|---|---|---|",
        ]
        for name in rows:
            hi, lo, lev = np.mean(stats[(fc, name)], axis=0)
            lines.append(f"| {name} | {hi:.3f} | {lo:.3f} | {lev:+.1f} |")
        lines.append("")
    return lines


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--count", type=int, default=12)
    ap.add_argument("--strengths", default="0.2,0.5,0.8,1.0")
    ap.add_argument("--cutoffs", default="2000,4000", help="super-resolution cut-offs in Hz")
    ap.add_argument("--long-count", type=int, default=4, help="10 s clips for super-resolution")
    ap.add_argument("--out", type=Path, default=Path("benchmarks/results/audio_to_audio.md"))
    args = ap.parse_args()
    torch.set_num_threads(1)
    strengths = [float(s) for s in args.strengths.split(",")]
    pipe = TextToAudioPipeline.from_pretrained()
    start = time.time()
    by_strength: dict[float, list[float]] = {s: [] for s in strengths}
    outside, inside, recon = [], [], []
    for i in range(args.count):
        clip = render_sound_clip(8_000_000 + i, duration_s=4.0, heldout="only")
        prompt = clip.captions[0]
        x = clip.audio
        for s in strengths:
            gen = torch.Generator().manual_seed(i)
            out = pipe(prompt, generator=gen, init_audio=x, strength=s).audio
            by_strength[s].append(mel_l1(x, out))
        gen = torch.Generator().manual_seed(i)
        out = pipe(prompt, generator=gen, init_audio=x, inpaint=(1.5, 2.5)).audio
        a, b = int(1.5 * SR / HOP), int(2.5 * SR / HOP)
        outside.append((mel_l1(x, out, 0, a - 10) + mel_l1(x, out, b + 10, None)) / 2)
        inside.append(mel_l1(x, out, a, b))
        gen = torch.Generator().manual_seed(i)
        recon.append(mel_l1(x, pipe(prompt, generator=gen, init_audio=x, strength=0.01).audio))
    wall = time.time() - start
    lines = [
        "# Audio-to-audio with the shipped model, against the untouched input",
        "",
        f"Command: `python {' '.join(sys.argv)}`  ",
        f"{args.count} held-out SoundWorld clips of 4 s (seeds 8000000+, heldout='only'), "
        f"each with its own first caption as the prompt; default steps and guidance; "
        f"wall time {wall:.0f} s on the 2-core CPU.",
        "",
        "Distance = mean absolute log-mel difference (natural log units) to the input.",
        "",
        "| setting | distance to input (mean) |",
        "|---|---|",
        f"| strength 0.01 (the chain alone: VAE + vocoder) | {np.mean(recon):.3f} |",
    ]
    lines += [f"| strength {s:g} | {np.mean(v):.3f} |" for s, v in by_strength.items()]
    lines += [
        f"| inpaint 1.5-2.5 s: outside the range | {np.mean(outside):.3f} |",
        f"| inpaint 1.5-2.5 s: inside the range | {np.mean(inside):.3f} |",
    ]
    cutoffs = [float(c) for c in args.cutoffs.split(",")]
    lines += super_resolution_section(pipe, args.count, cutoffs)
    if args.long_count > 0:
        lines += super_resolution_section(pipe, args.long_count, cutoffs, duration_s=10.0)
    args.out.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
