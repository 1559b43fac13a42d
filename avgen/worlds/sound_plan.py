"""SoundWorld's sampler: what a clip plays, drawn from a seed (a ``_Plan``).

A plan is music (an instrument playing a pattern, perhaps in a genre, with drums or a sound-effect
bed under it), a raga over its drone, drums alone or sound effects; then effects, dynamics,
fades and the duration. The choices docs/WORLDS.md leaves free are made so that the analytic
checkers can judge every clip: the synth pad only holds notes, the electric guitar plays mid
only, clips meant for tempo checks hold at least ``MIN_TEMPO_BEATS`` beats, fades come only on
clips of 4 s or more whose level is otherwise steady, and there is no distortion on chords,
drums or sound effects.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from avgen.errors import AvgenError
from avgen.vocab import (
    DRUM_PATTERNS,
    EFFECTS,
    GENRE_DEFAULTS,
    GENRES,
    INSTRUMENTS,
    PATTERNS,
    RAGA_INSTRUMENTS,
    RAGAS,
    SOUND_EFFECTS,
    TEMPO_CLASS_RANGES,
    TEMPO_RANGE,
)
from avgen.worlds import heldout as heldout_mod
from avgen.worlds.sfx import STEADY_SFX, TEMPO_SFX

DURATION_RANGE = (1.0, 10.0)
MIN_TEMPO_BEATS = 4  # clips meant for tempo / pitch-direction checks last at least this long
LEAD_IN_S = 0.05
MIN_FADE_S = 4.0  # shorter clips hold too few notes or hits for a fade to be heard

SCALES = {"major": (0, 2, 4, 5, 7, 9, 11), "minor": (0, 2, 3, 5, 7, 8, 10)}
INSTRUMENT_REGISTERS = {
    "piano": ("low", "mid", "high"),
    "electric piano": ("low", "mid", "high"),
    "organ": ("low", "mid", "high"),
    "acoustic guitar": ("low", "mid"),
    "electric guitar": ("mid",),  # TimGM6mb's overdrive samples below E3 sound an octave up
    "bass": ("low",),
    "violin": ("mid", "high"),
    "cello": ("low", "mid"),
    "strings": ("low", "mid", "high"),
    "choir": ("mid", "high"),
    "trumpet": ("mid", "high"),
    "saxophone": ("low", "mid"),
    "flute": ("mid", "high"),
    "synth lead": ("low", "mid", "high"),
    "synth pad": ("low", "mid", "high"),
    "marimba": ("mid", "high"),
    "music box": ("high",),
    "harp": ("low", "mid", "high"),
}
# The pad's slow attack (0.7 s) cannot articulate a beat: it only holds notes.
INSTRUMENT_PATTERNS = {"synth pad": ("sustained",)}
# Instruments whose notes keep their level while held (a held piano note decays: no fades on it).
SUSTAINING = (
    "organ",
    "electric guitar",
    "violin",
    "cello",
    "strings",
    "choir",
    "trumpet",
    "saxophone",
    "flute",
    "synth lead",
    "synth pad",
    "shanai",
)
SFX_BEDS = ("rain", "wind", "ocean waves", "fire")  # may lie under music or another effect
SFX_MIN_DURATION = {"thunder": 3.0, "thunderstorm": 3.0, "ocean waves": 4.0, "bell": 2.0}


@dataclass
class _Plan:
    """What a SoundWorld clip plays: the sampler's output, read by ``_render`` and ``_captions``."""

    kind: str  # "music" | "raga" | "drums" | "sfx"
    duration_s: float = 0.0
    instrument: str | None = None
    pattern: str | None = None
    mode: str | None = None
    register: str | None = None
    tempo_bpm: float | None = None
    tempo_word: str | None = None  # "bpm", a tempo class, or None when the caption omits it
    drums: str | None = None
    sfx: list[str] = field(default_factory=list)
    effects: list[str] = field(default_factory=list)
    fades: list[str] = field(default_factory=list)
    dynamics: str = "normal"
    genre: str | None = None
    raga: str | None = None
    alap: bool = False


# ----------------------------------------------------------------------------- sampling


def _choice(rng: np.random.Generator, items):
    items = list(items)
    return items[int(rng.integers(len(items)))]


def _tempo_class(bpm: float) -> str | None:
    for name, (lo, hi) in TEMPO_CLASS_RANGES.items():
        if lo <= bpm <= hi:
            return name
    return None


def _sample_tempo(rng: np.random.Generator, plan: _Plan, classes=None, bpm_range=None) -> None:
    if bpm_range is not None:
        plan.tempo_bpm = float(rng.integers(bpm_range[0], bpm_range[1] + 1))
        plan.tempo_word = "bpm" if rng.random() < 0.5 else _tempo_class(plan.tempo_bpm)
    elif classes is None and rng.random() < 0.35:
        plan.tempo_bpm = float(rng.integers(TEMPO_RANGE[0], TEMPO_RANGE[1] + 1))
        plan.tempo_word = "bpm"
    else:
        cls = _choice(rng, classes or TEMPO_CLASS_RANGES)
        lo, hi = TEMPO_CLASS_RANGES[cls]
        plan.tempo_bpm = float(rng.integers(lo, hi + 1))
        plan.tempo_word = cls if rng.random() < 0.75 else "bpm"


def _has_beat(plan: _Plan) -> bool:
    """Whether the clip has a steady beat a tempo checker can hear."""
    if plan.kind == "raga":
        return not plan.alap
    return (
        plan.drums is not None
        or (plan.pattern is not None and plan.pattern != "sustained")
        or any(s in TEMPO_SFX for s in plan.sfx)
    )


def _pairs(pool: list[str], heldout: str, patterns=None) -> list[tuple[str, str]]:
    out = []
    for ins in pool:
        if ins not in INSTRUMENTS:
            continue
        for pat in patterns or PATTERNS:
            if pat not in INSTRUMENT_PATTERNS.get(ins, PATTERNS):
                continue
            if heldout_mod.allowed(heldout_mod.is_heldout_audio(ins, pat), heldout):
                out.append((ins, pat))
    return out


def _sample_genre(rng: np.random.Generator, pool: list[str], heldout: str) -> _Plan | None:
    genre = _choice(rng, GENRES)
    spec = GENRE_DEFAULTS[genre]
    patterns = {
        "jazz": ("melody", "chords"),
        "ambient": ("sustained", "chords"),
        "rock": ("chords", "staccato", "melody"),
        "lo-fi": ("chords", "melody"),
        "classical": tuple(p for p in PATTERNS if p != "staccato"),
        "cinematic": ("chords", "sustained"),
        "dance": ("melody", "rising arpeggio", "falling arpeggio", "staccato"),
    }[genre]
    pairs = _pairs([i for i in spec["instruments"] if i in pool], heldout, patterns)
    if not pairs:
        return None
    ins, pat = _choice(rng, pairs)
    plan = _Plan("music", genre=genre, instrument=ins, pattern=pat)
    plan.mode = _choice(rng, SCALES)
    plan.register = _choice(rng, INSTRUMENT_REGISTERS[ins])
    plan.effects = list(spec.get("effects", ()))
    if "tempo" in spec:
        _sample_tempo(rng, plan, bpm_range=spec["tempo"])
    elif "tempo_class" in spec:
        _sample_tempo(rng, plan, classes=(spec["tempo_class"],))
    else:
        _sample_tempo(rng, plan, classes=("moderate", "fast") if spec.get("drums") else None)
    if spec.get("drums") and pat != "sustained" and (genre != "lo-fi" or rng.random() < 0.6):
        plan.drums = str(spec["drums"])
    if genre == "ambient" and rng.random() < 0.5:
        plan.dynamics = "soft"
    return plan


def _sample_plan(
    rng: np.random.Generator,
    pool: list[str],
    heldout: str,
    duration_s: float | None,
    free: bool,
) -> _Plan:
    """What clip to make. ``free``: no instruments were asked for, so effects and drums may
    play alone; otherwise every clip plays an instrument of ``pool``."""
    raga_pool = [i for i in pool if i in RAGA_INSTRUMENTS]
    base_pool = [i for i in pool if i in INSTRUMENTS]
    plan: _Plan | None = None
    if raga_pool and heldout != "only":
        share = 0.1 if free else len(raga_pool) / len(pool)
        if not base_pool or rng.random() < share:
            plan = _Plan("raga", instrument=_choice(rng, raga_pool), raga=_choice(rng, RAGAS))
            plan.alap = bool(rng.random() < 0.4)
            if not plan.alap:
                _sample_tempo(rng, plan, classes=("slow", "moderate"))
    r = rng.random()
    if plan is None and free and heldout != "only" and r >= 0.67:
        if r < 0.75:
            plan = _Plan("drums", drums=_choice(rng, DRUM_PATTERNS))
            _sample_tempo(rng, plan)
        else:
            plan = _sample_sfx(rng)
    elif plan is None and r >= 0.55:
        plan = _sample_genre(rng, base_pool, heldout)
    if plan is None:
        pairs = _pairs(base_pool, heldout)
        if not pairs:
            raise AvgenError(
                f"no (instrument, pattern) pair of {sorted(pool)} is allowed with "
                f"heldout={heldout!r}; widen `instruments` or use heldout='any'."
            )
        ins, pat = _choice(rng, pairs)
        plan = _Plan("music", instrument=ins, pattern=pat)
        plan.mode = _choice(rng, SCALES)
        plan.register = _choice(rng, INSTRUMENT_REGISTERS[ins])
        second = rng.random()
        if pat != "sustained":
            _sample_tempo(rng, plan)
            if second < 0.2:
                plan.drums = _choice(rng, DRUM_PATTERNS)
            elif second < 0.35:
                plan.sfx = [_choice(rng, SFX_BEDS)]
        elif second < 0.2:
            plan.sfx = [_choice(rng, SFX_BEDS)]
    _sample_finish(rng, plan, duration_s)
    return plan


def _sample_sfx(rng: np.random.Generator) -> _Plan:
    plan = _Plan("sfx")
    if rng.random() < 0.2:
        bed = _choice(rng, SFX_BEDS)
        others = [s for s in SOUND_EFFECTS if s not in SFX_BEDS and s != "thunderstorm"]
        plan.sfx = [bed, _choice(rng, others)]
    else:
        plan.sfx = [_choice(rng, SOUND_EFFECTS)]
    if "clock" in plan.sfx:
        plan.tempo_bpm = 60.0
    elif "footsteps" in plan.sfx:
        plan.tempo_bpm = float(rng.integers(100, 121))
    return plan


def _sample_finish(rng: np.random.Generator, plan: _Plan, duration_s: float | None) -> None:
    """Effects, dynamics, fades and the duration (which depends on the beat)."""
    if plan.dynamics == "normal":
        r = rng.random()
        plan.dynamics = "soft" if r < 0.2 else "loud" if r < 0.4 else "normal"
    if not plan.effects:
        n_fx = 0 if rng.random() < 0.55 else 1 if rng.random() < 0.9 else 2
        # no distortion on sound effects, on chords (its intermodulation tones blur a chord's
        # pitch) or on drums (it lifts the hats to the level of the beat)
        no_dist = plan.kind == "sfx" or plan.pattern == "chords" or plan.drums is not None
        options = [e for e in EFFECTS if not (no_dist and e == "distortion")]
        while len(plan.effects) < n_fx:
            e = _choice(rng, options)
            if e not in plan.effects and {e, *plan.effects} != {"reverb", "hall"}:
                plan.effects.append(e)
        plan.effects.sort(key=list(EFFECTS).index)
    if duration_s is not None:
        plan.duration_s = float(duration_s)
    else:
        lo = 1.0
        if _has_beat(plan) and plan.tempo_bpm:
            lo = MIN_TEMPO_BEATS * 60.0 / plan.tempo_bpm + 2 * LEAD_IN_S
        if plan.kind == "raga" and plan.alap:
            lo = 4.0
        lo = max([lo] + [SFX_MIN_DURATION.get(s, 1.0) for s in plan.sfx])
        choices = np.arange(math.ceil(lo * 2) / 2, DURATION_RANGE[1] + 0.01, 0.5)
        plan.duration_s = float(_choice(rng, choices))
    steady = (
        plan.kind == "music"
        and (plan.pattern != "sustained" or plan.instrument in SUSTAINING)
        or plan.kind == "drums"
        or plan.kind == "sfx"
        and all(s in STEADY_SFX for s in plan.sfx)
    )
    if steady and plan.duration_s >= MIN_FADE_S and rng.random() < 0.3:
        plan.fades = _choice(rng, (["fade_in"], ["fade_out"], ["fade_in", "fade_out"]))
