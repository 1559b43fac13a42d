"""SoundWorld: captioned 16 kHz audio clips with exact ground truth.

Instruments are General MIDI programs of the TimGM6mb soundfont that ships inside pretty_midi,
played by TinySoundFont (the ``tinysoundfont`` bindings); effects come from pedalboard; sound
effects from ``avgen.worlds.sfx``. A clip is a pure function of (WORLD_VERSION, seed, options):
the seed feeds three independent random streams (the plan, the audio, the captions), so the same
seed gives the same samples on every run.

Choices docs/WORLDS.md leaves free, made here so that the analytic checkers can judge every clip:
- notes sit on the beat (one per beat, chords re-struck every beat); slow-attack instruments
  (organ, strings, choir, flute) release each note at 3/4 of the beat so the next one is heard;
- a clip's pitches are centred on its register (median within 3 semitones of A2, D4 or A5);
- "sustained" is one held note; the synth pad only holds notes (its 0.7 s attack cannot carry a
  beat); the electric guitar plays mid only (TimGM6mb's low overdrive samples sound an octave up);
- fades only on clips of 4 s or more whose level is otherwise steady; no distortion on chords,
  drums or sound effects;
- a second layer is a drum kit at half the music's peak, a sound-effect bed at 0.3, or a drone
  under a raga.

The parts live beside this module: ``sound_plan`` (the seeded sampler), ``sound_compose`` (notes),
``sound_synth`` (the soundfont synthesizer), ``sound_render`` (mixing, effects, fades) and
``sound_captions``; this module holds the clip, its truth and the entry point.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from avgen.errors import AvgenError
from avgen.vocab import (
    DEFAULT_EXCLUDED_INSTRUMENTS,
    INSTRUMENTS,
    PATTERN_DIRECTION,
    PEAKS,
    RAGA_INSTRUMENTS,
    WORLD_VERSION,
)
from avgen.worlds import heldout as heldout_mod
from avgen.worlds.sfx import NOISY_SFX, TONAL_SFX, impact_sound, render_sfx
from avgen.worlds.sound_captions import _captions
from avgen.worlds.sound_plan import DURATION_RANGE, _has_beat, _Plan, _sample_plan, _tempo_class
from avgen.worlds.sound_render import _render
from avgen.worlds.sound_synth import SR, Note, soundfont_path, synthesize_notes

__all__ = [
    "Note",
    "SoundClip",
    "render_sound_clip",
    "render_sfx",
    "impact_sound",
    "synthesize_notes",
    "soundfont_path",
]


@dataclass
class SoundClip:
    """One SoundWorld clip: mono float32 audio at ``sr`` with captions and ground truth."""

    audio: np.ndarray  # (T,) float32
    sr: int
    captions: list[str]
    truth: dict
    expected: dict


# ----------------------------------------------------------------------------- truth


def _tonal(plan: _Plan) -> bool | None:
    if plan.kind == "raga":
        return True
    if plan.kind == "music":
        return True if plan.drums is None and not plan.sfx else None
    if plan.kind == "sfx":
        if all(s in NOISY_SFX for s in plan.sfx):
            return False
        if len(plan.sfx) == 1 and plan.sfx[0] in TONAL_SFX:
            return True
    return None


def _expected(plan: _Plan, caption: str) -> dict:
    """The truth in the parsed-prompt schema (docs/CONTRACTS.md section 1) plus ``tonal``."""
    beat = _has_beat(plan)
    patterns = [plan.pattern] if plan.pattern else []
    raga_words: list[str] = []
    if plan.kind == "raga":
        patterns = ["melody", "sustained"]
        raga_words = ["raga", plan.raga, "drone", plan.instrument] + (["alap"] if plan.alap else [])
    bpm = plan.tempo_bpm if beat else None
    return {
        "text": caption,
        "kind": "audio",
        "duration_s": plan.duration_s,
        "tempo_bpm": bpm,
        "tempo_class": _tempo_class(bpm) if bpm else None,
        "time": "normal",
        "camera": "static",
        "scene": None,
        "particles": [],
        "objects": [],
        "styles": [],
        "instruments": [plan.instrument] if plan.instrument else [],
        "drums": plan.drums,
        "patterns": patterns,
        "pitch_direction": PATTERN_DIRECTION.get(plan.pattern) if plan.kind == "music" else None,
        "mode": plan.mode if plan.kind == "music" else None,
        "register": plan.register if plan.kind == "music" else None,
        "dynamics": plan.dynamics if plan.dynamics != "normal" else None,
        "fades": list(plan.fades),
        "effects": list(plan.effects),
        "sound_effects": list(plan.sfx),
        "genres": [plan.genre] if plan.genre else [],
        "raga": plan.raga,
        "raga_words": raga_words,
        "unknown_words": [],
        "tonal": _tonal(plan),
    }


def _truth(plan: _Plan, seed: int, layers: list[dict], extra: dict, audio: np.ndarray) -> dict:
    events: list[dict] = []
    for layer in layers:
        if layer["kind"] == "sfx":
            events += layer["events"]
        else:
            kind = "drum" if layer["kind"] == "drums" else "note"
            events += [{"t": t, "kind": kind} for t in sorted({nt[0] for nt in layer["notes"]})]
    events.sort(key=lambda e: (e["t"], e["kind"]))
    pair_heldout = plan.kind == "music" and heldout_mod.is_heldout_audio(
        plan.instrument, plan.pattern
    )
    info = INSTRUMENTS.get(plan.instrument) or RAGA_INSTRUMENTS.get(plan.instrument)
    return {
        "world": "sound",
        "world_version": WORLD_VERSION,
        "seed": int(seed),
        "sr": SR,
        "duration_s": plan.duration_s,
        "kind": plan.kind,
        "genre": plan.genre,
        "instrument": plan.instrument,
        "program": info.program if info else None,
        "pattern": plan.pattern,
        "mode": plan.mode,
        "key": extra.get("key"),
        "tonic_midi": extra.get("tonic_midi"),
        "register": plan.register,
        "tempo_bpm": plan.tempo_bpm,
        "drums": plan.drums,
        "sound_effects": list(plan.sfx),
        "raga": plan.raga,
        "alap": plan.alap,
        "dynamics": plan.dynamics,
        "peak": PEAKS[plan.dynamics],
        "effects": list(plan.effects),
        "fades": list(plan.fades),
        "heldout": bool(pair_heldout),
        "layers": layers,
        "events": events,
        "n_samples": int(audio.size),
    }


# ----------------------------------------------------------------------------- entry point


def _validate(seed, duration_s, instruments, exclude, heldout) -> list[str]:
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise AvgenError(f"seed {seed!r} is not a non-negative integer.")
    if duration_s is not None and not (
        isinstance(duration_s, int | float) and DURATION_RANGE[0] <= duration_s <= DURATION_RANGE[1]
    ):
        raise AvgenError(
            f"SoundWorld duration {duration_s!r} s is not from {DURATION_RANGE[0]:g} to "
            f"{DURATION_RANGE[1]:g} s."
        )
    if heldout not in ("exclude", "only", "any"):
        raise AvgenError(f"heldout={heldout!r} is not one of 'exclude', 'only', 'any'.")
    known = list(INSTRUMENTS) + list(RAGA_INSTRUMENTS)
    for name in list(instruments or []) + list(exclude or []):
        if name not in known:
            raise AvgenError(f"instrument {name!r} is not one of: {', '.join(known)}.")
    if instruments is not None and len(instruments) == 0:
        raise AvgenError("instruments=[] names no instrument; pass None for the default set.")
    pool = list(instruments) if instruments is not None else known
    if exclude is None:
        exclude = DEFAULT_EXCLUDED_INSTRUMENTS if instruments is None else ()
    pool = [i for i in dict.fromkeys(pool) if i not in exclude]
    if not pool:
        raise AvgenError(f"every instrument of {instruments or known} is excluded by {exclude}.")
    return pool


def render_sound_clip(
    seed: int,
    *,
    duration_s: float | None = None,
    instruments: list[str] | None = None,
    exclude: list[str] | None = None,
    heldout: str = "exclude",
) -> SoundClip:
    """Render SoundWorld clip number ``seed`` (docs/WORLDS.md): audio, captions, truth, expected.

    ``instruments`` restricts (and then forces) the instruments played; sitar and shanai ragas
    only play when asked for, since ``exclude`` defaults to ``DEFAULT_EXCLUDED_INSTRUMENTS``.
    ``heldout`` picks the held-out (instrument, pattern) pairs: "exclude", "only" or "any".
    """
    pool = _validate(seed, duration_s, instruments, exclude, heldout)
    plan_ss, audio_ss, caption_ss = np.random.SeedSequence([WORLD_VERSION, int(seed)]).spawn(3)
    free = instruments is None
    plan = _sample_plan(np.random.default_rng(plan_ss), pool, heldout, duration_s, free)
    audio, layers, extra = _render(plan, np.random.default_rng(audio_ss))
    captions = _captions(plan, np.random.default_rng(caption_ss))
    truth = _truth(plan, int(seed), layers, extra, audio)
    return SoundClip(audio, SR, captions, truth, _expected(plan, captions[-1]))
