"""Benchmark of note plans ("plan, then render") against text-only generation.

On the held-out SoundWorld prompts of ``audio_benchmark.py`` (same seeds, same captions), each
prompt is generated three ways with the same seed: from the text alone (``note_plan=None``), with
the composer's plan of the prompt (what ``avgen audio PROMPT`` does by default), and with the
clip's own notes (the plan the rendered clip was made from: the renderer's ceiling, free of the
composer's and the parser's misses). Measured:

- the audio checkers' accuracy per attribute against each clip's ground truth (tempo within 8 %,
  pitch direction, register, dynamics, ...), beside the rendered clips themselves;
- plan adherence: onset error (for each planned onset, the nearest detected spectral-flux onset;
  median in ms) and pitch (share of planned notes whose median predominant pitch lies within a
  semitone of the plan), for the planned runs and for the rendered clips against their own notes;
- time per clip, planned against text-only (model loaded).

Then ``--midi`` melodies written here (scales, arpeggios, a folk tune, a raga phrase) as plans,
each rendered with four instrument prompts: pitch within a semitone, onset error, direction.

    OMP_NUM_THREADS=2 python benchmarks/audio_plans.py --count 200 --model avgen/models/audio
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch
from scipy.signal import find_peaks

from avgen.pipelines.text_to_audio import TextToAudioPipeline, default_audio_model_dir
from avgen.plan import NotePlan, compose_notes
from avgen.plan.notes import PlannedNote, plan_from_world_truth
from avgen.prompts import parse_prompt
from avgen.worlds.audio_checks import check_audio, onset_envelope, predominant_pitch
from avgen.worlds.sound import render_sound_clip

sys.path.insert(0, str(Path(__file__).resolve().parent))
from audio_benchmark import pct, tally  # noqa: E402

SR = 16000
ATTRS = ("tempo_bpm", "tempo_class", "pitch_direction", "register", "tonal", "dynamics")
TARGETS = {"pitch_direction": 85.0, "tempo_bpm": 85.0, "onset_ms": 30.0, "pitch_ok": 85.0}
MODES = ("text", "composer", "truth")
DEFAULT_OUT = Path(__file__).parent / "results" / "audio_plans.md"
INSTRUMENT_PROMPTS = (
    "a solo cello with soft reverb",
    "a bright piano",
    "a flute, gentle and airy",
    "a warm synth lead",
)


# ----------------------------------------------------------------------------- adherence


def onset_errors_ms(audio: np.ndarray, plan: NotePlan) -> list[float]:
    """For each planned onset (notes and drum hits, merged within 30 ms), the distance to the
    nearest detected onset (spectral-flux peaks above 10 % of the strongest), in ms."""
    env, rate = onset_envelope(audio, SR)
    if env.max() <= 0:
        return []
    peaks, _ = find_peaks(env, height=0.1 * env.max(), distance=max(1, int(0.05 * rate)))
    found = peaks / rate
    planned = sorted(
        {round(n.onset_s, 3) for n in plan.notes} | {round(d.t_s, 3) for d in plan.drums}
    )
    merged: list[float] = []
    for t in planned:
        if not merged or t - merged[-1] > 0.03:
            merged.append(t)
    if found.size == 0:
        return [1000.0 * plan.duration_s for _ in merged]
    return [1000.0 * float(np.min(np.abs(found - t))) for t in merged]


def pitch_hits(audio: np.ndarray, plan: NotePlan) -> tuple[int, int, int]:
    """(notes whose median predominant pitch over their middle lies within a semitone of a
    planned note sounding then, the same in any octave, notes judged): notes of 0.12 s to 1.5 s
    (held drones are judged through the notes sounding over them)."""
    track, dt = predominant_pitch(audio, SR)
    ok = chroma = total = 0
    for n in plan.notes:
        if not 0.12 <= n.duration_s <= 1.5:
            continue
        a = int((n.onset_s + 0.04) / dt)
        b = int((n.onset_s + n.duration_s - 0.02) / dt)
        seg = track[a : max(b, a + 1)]
        seg = seg[np.isfinite(seg)]
        total += 1
        if not seg.size:
            continue
        mid = n.onset_s + n.duration_s / 2
        sounding = [m.pitch for m in plan.notes if m.onset_s <= mid < m.onset_s + m.duration_s]
        diff = np.array([float(np.median(seg)) - p for p in sounding])
        ok += int(np.abs(diff).min() <= 1.0)
        chroma += int(np.abs(diff - 12.0 * np.round(diff / 12.0)).min() <= 1.0)
    return ok, chroma, total


def adherence(rows: list[tuple[np.ndarray, NotePlan]]) -> dict:
    errs: list[float] = []
    ok = chroma = total = 0
    for audio, plan in rows:
        errs += onset_errors_ms(audio, plan)
        o, c, t = pitch_hits(audio, plan)
        ok, chroma, total = ok + o, chroma + c, total + t
    return {
        "pitch_class_ok": 100.0 * chroma / max(total, 1),
        "onset_ms": float(np.median(errs)) if errs else None,
        "onsets": len(errs),
        "pitch_ok": 100.0 * ok / max(total, 1),
        "pitch_n": total,
        "pitch_hits": ok,
    }


# ----------------------------------------------------------------------------- MIDI set


def _line(pitches: list[int], beat: float, length: float = 0.9) -> list[PlannedNote]:
    return [PlannedNote(0.1 + i * beat, beat * length, p, 90) for i, p in enumerate(pitches)]


def midi_melodies() -> list[tuple[str, NotePlan]]:
    """20 melodies (4 s each) written for this benchmark: scales, arpeggios, a folk tune, a raga
    phrase, at 90-150 BPM and in registers from C3 to C6."""
    major, minor = [0, 2, 4, 5, 7, 9, 11, 12], [0, 2, 3, 5, 7, 8, 10, 12]
    out: list[tuple[str, list[PlannedNote], float]] = []
    for name, root, steps, bpm in (
        ("C major scale up", 60, major, 120),
        ("C major scale down", 60, major[::-1], 120),
        ("A minor scale up", 57, minor, 100),
        ("A minor scale down", 69, minor[::-1], 100),
        ("G major scale up, low", 43, major, 110),
        ("E minor scale down, high", 76, minor[::-1], 130),
    ):
        beat = 60.0 / bpm
        out.append((name, _line([root + s for s in steps], beat), bpm))
    for name, root, shape, bpm in (
        ("C major arpeggio up", 60, [0, 4, 7, 12, 16, 19, 24], 120),
        ("C major arpeggio down", 84, [0, -5, -8, -12, -17, -20, -24], 120),
        ("A minor arpeggio up", 57, [0, 3, 7, 12, 15, 19], 100),
        ("D minor arpeggio down", 74, [0, -5, -9, -12, -17, -21], 100),
        ("F major arpeggio up, low", 41, [0, 4, 7, 12, 16, 19], 90),
        ("G7 arpeggio up", 55, [0, 4, 7, 10, 12, 16, 19, 22], 150),
    ):
        beat = 60.0 / bpm
        out.append((name, _line([root + s for s in shape], beat), bpm))
    folk = [67, 67, 69, 71, 67, 71, 69, 62]  # a folk-song opening, in G
    out.append(("folk tune in G", _line(folk, 0.45), 133))
    out.append(("folk tune in D, high", _line([p + 7 for p in folk], 0.45), 133))
    ode = [64, 64, 65, 67, 67, 65, 64, 62]  # a hymn-like stepwise line
    out.append(("stepwise hymn line", _line(ode, 0.45), 133))
    yaman = [59, 62, 64, 66, 67, 69, 71, 72]  # raga Yaman's ascent (Ni Re Ga Ma# Pa Dha Ni Sa)
    out.append(("raga Yaman ascent", _line(yaman, 0.45), 133))
    bhairav = [72, 71, 68, 67, 65, 64, 61, 60]  # raga Bhairav's descent (komal Re and Dha)
    out.append(("raga Bhairav descent", _line(bhairav, 0.45), 133))
    out.append(("repeated note pulse", _line([62] * 8, 0.45), 133))
    out.append(("wide leaps", _line([48, 72, 50, 74, 52, 76, 53, 77], 0.45), 133))
    out.append(("chromatic run up", _line(list(range(60, 68)), 0.45), 133))
    plans = []
    for name, notes, bpm in out:
        beats = [float(t) for t in np.arange(0.1, 4.0, 60.0 / bpm)]
        plans.append((name, NotePlan(4.0, notes, float(bpm), beats, source="user")))
    return plans


# ----------------------------------------------------------------------------- runs


@torch.no_grad()
def chain(pipe, audio: np.ndarray) -> np.ndarray:
    """A rendered clip through the mel, the VAE round trip and the default vocoder: the ceiling
    of anything the denoiser generates."""
    mel = pipe.front_end(torch.from_numpy(audio).float()[None])
    decoded = pipe.vae.from_diffusion(pipe.vae.to_diffusion(mel), mel.shape[-1])
    gen = torch.Generator().manual_seed(0)
    wave = pipe.vocode(decoded, str(pipe.config["vocoder"]), gen)[0].clamp(-1, 1)
    return wave.numpy()[: audio.size]


def generate(pipe, prompt: str, seed: int, plan: NotePlan | None, duration: float):
    t0 = time.perf_counter()
    out = pipe(
        prompt, audio_length_in_s=duration, note_plan=plan,
        generator=torch.Generator().manual_seed(seed),
    )  # fmt: skip
    return out.audio, time.perf_counter() - t0


def run(args: argparse.Namespace) -> dict:
    torch.manual_seed(0)
    pipe = TextToAudioPipeline.from_pretrained(args.model)
    pipe.text_encoder.encode(["warm-up"])
    seeds = list(range(args.seed_start, args.seed_start + args.count))
    clips = [render_sound_clip(s, duration_s=args.duration, heldout="only") for s in seeds]
    prompts = [c.captions[-1] for c in clips]
    res = {m: [] for m in MODES}
    res["rendered"] = []
    times = {m: [] for m in MODES}
    planned: dict[str, list] = {"composer": [], "truth": [], "rendered": [], "chain": []}
    composed = 0
    for i, (clip, prompt) in enumerate(zip(clips, prompts)):
        plans = {
            "text": None,
            "composer": compose_notes(parse_prompt(prompt), args.duration, seed=i),
            "truth": plan_from_world_truth(clip.truth, args.duration),
        }
        composed += plans["composer"] is not None
        for mode in MODES:
            audio, dt = generate(pipe, prompt, i, plans[mode], args.duration)
            times[mode].append(dt)
            res[mode].append(check_audio(audio, SR, clip.expected))
            if plans[mode] is not None and mode != "text" and plans[mode].notes:
                planned[mode].append((audio, plans[mode]))
        res["rendered"].append(check_audio(clip.audio, clip.sr, clip.expected))
        if plans["truth"] is not None and plans["truth"].notes:
            planned["rendered"].append((clip.audio, plans["truth"]))
            if len(planned["chain"]) < args.chain_clips:
                planned["chain"].append((chain(pipe, clip.audio), plans["truth"]))
        if not args.quiet and (i + 1) % 10 == 0:
            print(f"{i + 1}/{len(clips)} prompts", file=sys.stderr, flush=True)
    midi = []
    if args.midi:
        for k, (name, plan) in enumerate(midi_melodies()):
            for j, prompt in enumerate(INSTRUMENT_PROMPTS):
                audio, _ = generate(pipe, prompt, 100 * k + j, plan, plan.duration_s)
                found = check_audio(audio, SR, {"pitch_direction": plan.pitch_direction()})
                midi.append((name, prompt, audio, plan, found.get("pitch_direction")))
    midi_dir = [
        m[4] for m in midi if m[4] is not None and m[3].pitch_direction() in ("rising", "falling")
    ]
    return {
        "model": str(args.model),
        "count": len(clips),
        "composed": composed,
        "chain_clips": len(planned["chain"]),
        "tally": {m: tally(r) for m, r in res.items()},
        "adherence": {m: adherence(rows) for m, rows in planned.items()},
        "seconds": {m: float(np.mean(t)) for m, t in times.items()},
        "midi": {
            "clips": len(midi),
            **adherence([(m[2], m[3]) for m in midi]),
            "direction_ok": sum(bool(r["match"]) for r in midi_dir if r["measurable"]),
            "direction_n": sum(1 for r in midi_dir if r["measurable"]),
        },
        "machine": f"{platform.machine()}, {torch.get_num_threads()} torch threads",
    }


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def write_markdown(r: dict, args: argparse.Namespace, path: Path) -> None:
    t = r["tally"]
    a = r["adherence"]
    len_chain = r["chain_clips"]
    lines = [
        "# Note plans: planned against text-only generation",
        "",
        f"Model `{r['model']}`; {r['count']} held-out SoundWorld prompts (seeds "
        f"{args.seed_start}..{args.seed_start + args.count - 1}, {args.duration:g} s, the captions "
        "`audio_benchmark.py` uses), default settings, each prompt generated three ways with the "
        f"same seed. The composer planned {r['composed']} of the {r['count']} prompts (the others "
        "name nothing it can play, or words the parser does not read, and ran text-only).",
        "",
        f"Command: `{args.command}` ({r['machine']}).",
        "",
        "| attribute | text only | planned (composer) | planned (the clip's notes) "
        "| rendered clips |",
        "|---|---|---|---|---|",
    ]
    for attr in ATTRS:
        row = [pct(t[m].get(attr)) for m in (*MODES, "rendered")]
        lines.append(f"| {attr} | " + " | ".join(row) + " |")
    lines += [
        "",
        "Plan adherence (generated audio against the plan it followed; rendered clips against "
        "the notes they were rendered from):",
        "",
        "| | onset error, median ms (onsets) | pitch within a semitone (notes) "
        "| the same in any octave |",
        "|---|---|---|---|",
    ]
    names = {"composer": "planned (composer)", "truth": "planned (the clip's notes)",
             "rendered": "rendered clips",
             "chain": f"rendered -> VAE -> vocoder ({len_chain} clips)"}  # fmt: skip
    for m in ("composer", "truth", "rendered", "chain"):
        x = a[m]
        lines.append(
            f"| {names[m]} | {_ms(x['onset_ms'])} ({x['onsets']}) | "
            f"{x['pitch_ok']:.1f} % ({x['pitch_hits']}/{x['pitch_n']}) | "
            f"{x['pitch_class_ok']:.1f} % |"
        )
    s = r["seconds"]
    lines += [
        "",
        f"Time per {args.duration:g} s clip (model loaded): text only {s['text']:.2f} s, planned "
        f"{s['composer']:.2f} s ({s['composer'] / s['text']:.2f}x; planning itself included).",
    ]
    m = r["midi"]
    if m["clips"]:
        lines += [
            "",
            f"MIDI melodies: the 20 melodies of `midi_melodies()` x {len(INSTRUMENT_PROMPTS)} "
            f"instrument prompts ({', '.join(repr(p) for p in INSTRUMENT_PROMPTS)}) = "
            f"{m['clips']} clips: onset error median {_ms(m['onset_ms'])} ms "
            f"({m['onsets']} onsets), pitch within a semitone {m['pitch_ok']:.1f} % "
            f"({m['pitch_hits']}/{m['pitch_n']}; {m['pitch_class_ok']:.1f} % in any octave), "
            f"direction as planned "
            f"{m['direction_ok']}/{m['direction_n']} (rising or falling lines).",
        ]
    lines += [
        "",
        "Targets with plans: pitch direction >= 85 %, tempo within 8 % >= 85 %, onset median "
        "<= 30 ms, pitch within a semitone >= 85 %; text-only may not fall by more than 3 prompts "
        "on any attribute (against benchmarks/results/audio.md); planned costs at most 1.2x.",
        "",
    ]
    path.write_text("\n".join(lines))


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", type=Path, default=default_audio_model_dir())
    p.add_argument("--count", type=int, default=200)
    p.add_argument("--duration", type=float, default=4.0)
    p.add_argument("--seed-start", type=int, default=7_000_000)
    p.add_argument("--chain-clips", type=int, default=50)
    p.add_argument("--midi", action=argparse.BooleanOptionalAction, default=True)
    p.add_argument("--out", type=Path, default=DEFAULT_OUT)
    p.add_argument("--quiet", action="store_true")
    args = p.parse_args(argv)
    args.command = "python benchmarks/audio_plans.py " + " ".join(argv or sys.argv[1:])
    r = run(args)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".json").write_text(json.dumps(r, indent=1, allow_nan=False) + "\n")
    write_markdown(r, args, args.out)
    print(args.out)


if __name__ == "__main__":
    main()
