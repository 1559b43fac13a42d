"""Benchmark of avgen's text-to-audio model on held-out SoundWorld prompts.

Renders ``--count`` SoundWorld clips with ``heldout="only"`` (the (instrument, pattern) pairs
kept out of training) from seeds far from the training set's, prompts the model with each
clip's layered caption (it uses synonyms: "fiddle", "going up", ...) and measures:

- the audio checkers' accuracy per attribute: ``check_audio(generated, sr, clip.expected)``
  (the clip's ground truth in the parsed-prompt schema), next to the same checkers on the
  rendered clips themselves (the measuring chain's ceiling);
- the CLAP score (cosine of our CLAP's audio and text embeddings) and FAD in CLAP space
  between generated and rendered clips;
- the vocoders' mel and multi-resolution STFT errors on held-out rendered clips (neural vs
  Griffin-Lim, both from the same mel);
- the real-time factor (wall time / audio seconds, model already loaded) at default settings
  for 4 s and 10 s, and the seam check for windowed continuation (spectral flux at the joins
  over the median flux inside windows);
- a quality-versus-steps table on the first ``--subset`` prompts.

    OMP_NUM_THREADS=2 python benchmarks/audio_benchmark.py --count 200 --subset 50
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch

from avgen.audio.clap import frechet_distance
from avgen.audio.mel import HOP, MelFrontEnd, griffin_lim
from avgen.audio.vocoder import waveform_errors
from avgen.files import write_text
from avgen.pipelines.text_to_audio import TextToAudioPipeline, default_audio_model_dir
from avgen.worlds.audio_checks import check_audio
from avgen.worlds.sound import render_sound_clip

TARGETS = {"tempo_bpm": 70.0, "pitch_direction": 85.0, "register": 80.0, "tonal": 95.0}
KEY_ATTRS = ("tempo_bpm", "tempo_class", "pitch_direction", "register", "tonal", "dynamics")
DEFAULT_OUT = Path(__file__).parent / "results" / "audio.md"


def tally(results: list[dict]) -> dict[str, dict]:
    stats: dict[str, dict] = collections.defaultdict(lambda: {"n": 0, "ok": 0, "unmeasurable": 0})
    for res in results:
        for attr, r in res.items():
            if r["measurable"]:
                stats[attr]["n"] += 1
                stats[attr]["ok"] += int(bool(r["match"]))
            else:
                stats[attr]["unmeasurable"] += 1
    return dict(stats)


def pct(s: dict | None) -> str:
    if not s or not s["n"]:
        return "-"
    return f"{100.0 * s['ok'] / s['n']:.1f} % ({s['ok']}/{s['n']})"


@torch.no_grad()
def clap_embed(pipe: TextToAudioPipeline, waves: list[np.ndarray]) -> torch.Tensor:
    out = []
    for w in waves:
        out.append(pipe.clap.encode_audio(pipe.front_end(torch.from_numpy(w).float()[None])))
    return torch.cat(out)


@torch.no_grad()
def clap_text(pipe: TextToAudioPipeline, prompts: list[str]) -> torch.Tensor:
    pooled = torch.cat([pipe.text_encoder.encode([p])["pooled"] for p in prompts])
    return pipe.clap.encode_text(pooled)


def generate(pipe, prompt, seed, steps=None, duration=4.0):
    t0 = time.perf_counter()
    out = pipe(
        prompt,
        num_inference_steps=steps,
        audio_length_in_s=duration,
        generator=torch.Generator().manual_seed(seed),
    )
    return out.audio, time.perf_counter() - t0


def spectral_flux_ratio(wave: np.ndarray, joins_s: list[float], fe: MelFrontEnd) -> float:
    """Mean spectral flux at the joins (+-2 frames) over the median flux of all frames."""
    mel = fe(torch.from_numpy(wave).float()[None])[0, 0]  # (64, F)
    flux = (mel[:, 1:] - mel[:, :-1]).clamp_min(0).mean(0).numpy()  # (F - 1,)
    at = []
    for t in joins_s:
        k = int(round(t * 16000 / HOP))
        at.append(flux[max(0, k - 2) : k + 3].max())
    return float(np.mean(at) / max(np.median(flux), 1e-6))


def run(args: argparse.Namespace) -> dict:
    torch.manual_seed(0)
    t_load = time.perf_counter()
    pipe = TextToAudioPipeline.from_pretrained(args.model, lora=getattr(args, "lora", None))
    pipe.text_encoder.encode(["warm-up"])
    load_s = time.perf_counter() - t_load
    seeds = list(range(args.seed_start, args.seed_start + args.count))
    clips = [render_sound_clip(s, duration_s=args.duration, heldout="only") for s in seeds]
    prompts = [c.captions[-1] for c in clips]

    # 1. default settings on every prompt
    gen, gen_res, ref_res, times = [], [], [], []
    for i, (clip, prompt) in enumerate(zip(clips, prompts)):
        audio, dt = generate(pipe, prompt, seed=i, duration=args.duration)
        gen.append(audio)
        times.append(dt)
        gen_res.append(check_audio(audio, 16000, clip.expected))
        ref_res.append(check_audio(clip.audio, clip.sr, clip.expected))
        if not args.quiet and (i + 1) % 20 == 0:
            print(f"{i + 1}/{len(clips)} generated ({np.mean(times):.2f} s each)", file=sys.stderr)
    text_emb = clap_text(pipe, prompts)
    gen_emb = clap_embed(pipe, gen)
    ref_emb = clap_embed(pipe, [c.audio for c in clips])
    gen_clap = (gen_emb * text_emb).sum(-1)
    ref_clap = (ref_emb * text_emb).sum(-1)
    fad = frechet_distance(gen_emb, ref_emb)
    half = len(clips) // 2
    fad_ref = frechet_distance(ref_emb[:half], ref_emb[half:]) if half >= 2 else float("nan")

    # 2. vocoders on held-out rendered clips (same mel into both)
    voc: dict[str, list[dict]] = {"neural": [], "griffin-lim": []}
    fe = pipe.front_end
    chain_res = []  # rendered -> VAE round trip -> default vocoder: the latent chain's ceiling
    default_vocoder = str(pipe.config["vocoder"])
    for clip in clips[: args.vocoder_clips]:
        wave = torch.from_numpy(clip.audio).float()[None]
        mel = fe(wave)
        with torch.no_grad():
            neural = pipe.vocoder(mel)
            decoded = pipe.vae.from_diffusion(pipe.vae.to_diffusion(mel), mel.shape[-1])
            seed = torch.Generator().manual_seed(0)
            chain = pipe.vocode(decoded, default_vocoder, seed)[0].clamp(-1, 1)
        chain_res.append(check_audio(chain.numpy(), 16000, clip.expected))
        gl = griffin_lim(mel, 32, front_end=fe, generator=torch.Generator().manual_seed(0))
        voc["neural"].append(waveform_errors(neural, wave, fe))
        voc["griffin-lim"].append(waveform_errors(gl, wave, fe))
    vocoder = {
        k: {m: float(np.mean([e[m] for e in v])) for m in ("mel_error", "mrstft_error")}
        for k, v in voc.items()
    }

    # 3. real-time factor at 10 s and the seams of windowed continuation
    rtf10, flux = [], []
    for i, prompt in enumerate(prompts[: args.rtf_prompts]):
        audio, dt = generate(pipe, prompt, seed=1000 + i, duration=10.0)
        rtf10.append(dt / 10.0)
        plan = pipe.window_plan(10.0)
        # fresh content of window k starts where window k - 1 ended
        joins = [(s + n) * pipe.seconds_per_latent for s, n in plan[:-1]]
        flux.append(spectral_flux_ratio(audio, joins, fe))
    inside = []
    for audio in gen[: args.rtf_prompts]:  # same statistic at an arbitrary point inside a window
        inside.append(spectral_flux_ratio(audio, [2.0], fe))

    # 4. quality versus steps on the subset
    by_steps = {}
    for steps in args.steps_list:
        res, clap_s, dts = [], [], []
        sub = clips[: args.subset]
        waves = []
        for i, clip in enumerate(sub):
            audio, dt = generate(pipe, prompts[i], seed=i, steps=steps, duration=args.duration)
            waves.append(audio)
            dts.append(dt)
            res.append(check_audio(audio, 16000, clip.expected))
        emb = clap_embed(pipe, waves)
        clap_s = float((emb * text_emb[: len(sub)]).sum(-1).mean())
        by_steps[steps] = {
            "stats": tally(res),
            "clap": clap_s,
            "rtf": float(np.mean(dts)) / args.duration,
        }
    return {
        "load_s": load_s,
        "prompts": len(clips),
        "gen": tally(gen_res),
        "chain": tally(chain_res),
        "ref": tally(ref_res),
        "clap_gen": float(gen_clap.mean()),
        "clap_ref": float(ref_clap.mean()),
        "clap_top1_ref": float(
            (ref_emb @ text_emb.T).argmax(1).eq(torch.arange(len(clips))).float().mean()
        ),
        "fad": fad,
        "fad_ref_halves": fad_ref,
        "vocoder": vocoder,
        "default_vocoder": default_vocoder,
        "rtf4": float(np.mean(times)) / args.duration,
        "rtf10": float(np.mean(rtf10)) if rtf10 else float("nan"),
        "flux_joins": float(np.mean(flux)) if flux else float("nan"),
        "flux_inside": float(np.mean(inside)) if inside else float("nan"),
        "by_steps": by_steps,
        "default_steps": pipe.config["num_inference_steps"],
        "default_guidance": pipe.config["guidance_scale"],
    }


def write_markdown(r: dict, args: argparse.Namespace, path: Path) -> None:
    cmd = "OMP_NUM_THREADS={} python benchmarks/audio_benchmark.py {}".format(
        os.environ.get("OMP_NUM_THREADS", "(unset)"), " ".join(sys.argv[1:])
    )
    lines = [
        "# Text-to-audio benchmark (held-out SoundWorld prompts)",
        "",
        f"Command: `{cmd}`",
        "",
        f"Machine: {platform.machine()}, {os.cpu_count()} CPU cores (shared with other jobs), "
        f"torch {torch.__version__}. Model: {args.model or _relative(default_audio_model_dir())}"
        f"{'' if args.lora is None else f' with LoRA adapter {args.lora}'}; "
        f"default {r['default_steps']} Euler steps, guidance {r['default_guidance']}.",
        "",
        f'{r["prompts"]} prompts: SoundWorld clips rendered with `heldout="only"` (seeds '
        f"{args.seed_start}..{args.seed_start + args.count - 1}, {args.duration:g} s), prompted "
        "with each clip's layered caption (synonyms included). Accuracy is "
        "`check_audio(audio, 16000, clip.expected)`, i.e. against the clip's ground truth; "
        "the 'rendered' column runs the same checkers on the rendered clip (the ceiling); the "
        f"last column on the first {args.vocoder_clips} rendered clips after a VAE round trip "
        f"and the default vocoder, {r['default_vocoder']} (the ceiling of the generation "
        "chain).",
        "",
        "| attribute | target | generated | rendered (ceiling) | rendered -> VAE -> vocoder |",
        "|---|---|---|---|---|",
    ]
    attrs = [a for a in KEY_ATTRS if a in r["gen"]] + sorted(
        a for a in r["gen"] if a not in KEY_ATTRS
    )
    for a in attrs:
        target = f">= {TARGETS[a]:g} %" if a in TARGETS else ""
        lines.append(
            f"| {a} | {target} | {pct(r['gen'].get(a))} | {pct(r['ref'].get(a))} | "
            f"{pct(r['chain'].get(a))} |"
        )
    lines += [
        "",
        "| metric | value |",
        "|---|---|",
        f"| CLAP score, generated (mean cosine to its prompt) | {r['clap_gen']:.3f} |",
        f"| CLAP score, rendered clips | {r['clap_ref']:.3f} |",
        f"| CLAP text->audio top-1 on rendered clips | {100 * r['clap_top1_ref']:.1f} % |",
        f"| FAD (CLAP space), generated vs rendered | {r['fad']:.4f} |",
        f"| FAD (CLAP space), rendered half vs half (floor) | {r['fad_ref_halves']:.4f} |",
        f"| real-time factor, 4 s at defaults (target <= 1.0) | {r['rtf4']:.3f} |",
        f"| real-time factor, 10 s at defaults (3 windows) | {r['rtf10']:.3f} |",
        f"| spectral flux at joins / median (10 s) | {r['flux_joins']:.2f} |",
        f"| spectral flux at 2.0 s inside a window / median | {r['flux_inside']:.2f} |",
        f"| pipeline load time (s) | {r['load_s']:.1f} |",
        "",
        f"Vocoders on {args.vocoder_clips} held-out rendered clips (lower is better):",
        "",
        "| vocoder | mel error (mean abs ln-mel) | multi-res STFT error |",
        "|---|---|---|",
    ]
    for k, v in r["vocoder"].items():
        lines.append(f"| {k} | {v['mel_error']:.3f} | {v['mrstft_error']:.3f} |")
    lines += [
        "",
        f"Quality versus steps (first {args.subset} prompts, guidance {r['default_guidance']}):",
        "",
        "| steps | tempo_bpm | pitch_direction | register | tonal | CLAP | RTF |",
        "|---|---|---|---|---|---|---|",
    ]
    for steps, s in r["by_steps"].items():
        st = s["stats"]
        lines.append(
            f"| {steps} | {pct(st.get('tempo_bpm'))} | {pct(st.get('pitch_direction'))} | "
            f"{pct(st.get('register'))} | {pct(st.get('tonal'))} | {s['clap']:.3f} | "
            f"{s['rtf']:.3f} |"
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    write_text(path, "\n".join(lines) + "\n")  # unique temporary names, then a rename
    write_text(path.with_suffix(".json"), json.dumps(r, indent=2, default=str) + "\n")


def _relative(path: Path) -> str:
    """``path`` relative to the working directory where it lies below it (for the report)."""
    try:
        return str(Path(path).resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default=None, help="model folder (default: the shipped one)")
    p.add_argument("--lora", default=None, help="LoRA adapter folder to merge into the model")
    p.add_argument("--count", type=int, default=200)
    p.add_argument("--subset", type=int, default=50)
    p.add_argument("--steps-list", default="5,10,25,50")
    p.add_argument("--duration", type=float, default=4.0)
    p.add_argument("--seed-start", type=int, default=7_000_000)
    p.add_argument("--vocoder-clips", type=int, default=50)
    p.add_argument("--rtf-prompts", type=int, default=3)
    p.add_argument("--out", type=Path, default=DEFAULT_OUT)
    p.add_argument("--quiet", action="store_true")
    args = p.parse_args(argv)
    args.steps_list = [int(s) for s in args.steps_list.split(",") if s.strip()]
    r = run(args)
    write_markdown(r, args, args.out)
    print(args.out)


if __name__ == "__main__":
    main()
