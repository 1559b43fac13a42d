"""The composer: a note plan from a parsed prompt, seeded (the audio planner of "plan, then
render").

It reads what the prompt parser found (instrument, pattern, pitch direction, register, mode,
tempo, duration, drums, genre, raga) and writes the notes with SoundWorld's composer
(``worlds.sound_compose``), so a planned prompt gets the same kind of notes the models were
trained on. Choices the prompt leaves open are drawn from ``seed`` the way SoundWorld draws
them. A prompt with nothing to play (sound effects only, or no instrument, raga, genre or drums)
gets no plan: generation then runs from the text alone.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from avgen.plan.notes import DRUM_NAME_OF_KEY, DrumHit, NotePlan, PlannedNote
from avgen.vocab import (
    GENRE_DEFAULTS,
    INSTRUMENTS,
    RAGA_INSTRUMENTS,
    RAGAS,
    TEMPO_CLASS_RANGES,
    TEMPO_DEFAULT,
)
from avgen.worlds.sound_compose import _compose_drums, _compose_music, _compose_raga
from avgen.worlds.sound_plan import INSTRUMENT_PATTERNS, INSTRUMENT_REGISTERS, SCALES, _Plan

_DIRECTED = {  # (pattern family, direction) -> SoundWorld pattern
    ("arpeggio", "rising"): "rising arpeggio",
    ("arpeggio", "falling"): "falling arpeggio",
    ("scale", "rising"): "ascending scale",
    ("scale", "falling"): "descending scale",
}


def _pattern(parsed: dict, instrument: str, rng: np.random.Generator) -> str:
    allowed = INSTRUMENT_PATTERNS.get(instrument)
    if allowed:
        return allowed[0]
    patterns = list(parsed.get("patterns") or [])
    direction = parsed.get("pitch_direction")
    if patterns:
        pattern = patterns[0]
        family = "arpeggio" if "arpeggio" in pattern else "scale" if "scale" in pattern else None
        return _DIRECTED.get((family, direction), pattern) if family else pattern
    if direction in ("rising", "falling"):
        return _DIRECTED[("scale", direction)]
    return "melody"


def _tempo(parsed: dict, genre: str | None, rng: np.random.Generator) -> float:
    if parsed.get("tempo_bpm"):
        return float(parsed["tempo_bpm"])
    spec = GENRE_DEFAULTS.get(genre or "", {})
    cls = parsed.get("tempo_class") or spec.get("tempo_class")
    lo, hi = spec.get("tempo") or TEMPO_CLASS_RANGES.get(cls or "", (TEMPO_DEFAULT,) * 2)
    return float(rng.integers(int(lo), int(hi) + 1))


def _sound_plan(parsed: dict, duration_s: float, rng: np.random.Generator) -> _Plan | None:
    """SoundWorld's plan for the parsed prompt, or None when it names nothing to play."""
    genres = list(parsed.get("genres") or [])
    genre = genres[0] if genres and genres[0] in GENRE_DEFAULTS else None
    spec = GENRE_DEFAULTS.get(genre or "", {})
    instruments = [i for i in parsed.get("instruments") or [] if i in INSTRUMENTS]
    ragas = [i for i in parsed.get("instruments") or [] if i in RAGA_INSTRUMENTS]
    drums = parsed.get("drums") or spec.get("drums")
    if parsed.get("raga") or ragas:
        plan = _Plan("raga", instrument=ragas[0] if ragas else "sitar")
        plan.raga = parsed.get("raga") or str(rng.choice(list(RAGAS)))
        plan.tempo_bpm = _tempo(parsed, None, rng)
    elif instruments or spec:
        ins = instruments[0] if instruments else str(rng.choice(spec["instruments"]))
        plan = _Plan("music", instrument=ins, genre=genre, pattern=_pattern(parsed, ins, rng))
        plan.mode = parsed.get("mode") or str(rng.choice(list(SCALES)))
        registers = INSTRUMENT_REGISTERS.get(ins, ("mid",))
        reg = parsed.get("register")
        plan.register = reg if reg in registers else str(rng.choice(registers))
        plan.tempo_bpm = _tempo(parsed, genre, rng)
        plan.drums = drums if plan.pattern != "sustained" else None
    elif drums:
        plan = _Plan("drums", drums=drums, tempo_bpm=_tempo(parsed, None, rng))
    else:
        return None
    plan.duration_s = float(duration_s)
    return plan


def compose_notes(parsed: Any, duration_s: float, seed: int = 0) -> NotePlan | None:
    """The note plan for a parsed prompt (``avgen.prompts.parse_prompt``'s result or its dict),
    ``duration_s`` long, drawn from ``seed``; None when the prompt has nothing to play."""
    parsed = parsed.to_dict() if hasattr(parsed, "to_dict") else dict(parsed)
    rng = np.random.default_rng(int(seed))
    plan = _sound_plan(parsed, duration_s, rng)
    if plan is None:
        return None
    notes, drums = [], []
    if plan.kind == "raga":
        lead, drone, _ = _compose_raga(plan, rng)
        notes = lead + drone
    elif plan.kind == "music":
        notes = _compose_music(plan, rng)
    if plan.drums:
        drums = _compose_drums(plan, rng)
    beat = 60.0 / plan.tempo_bpm if plan.tempo_bpm else None
    beats = list(np.arange(0.05, duration_s - 1e-6, beat)) if beat else []
    meta = {
        "prompt": parsed.get("text"),
        "seed": int(seed),
        "instrument": plan.instrument,
        "pattern": plan.pattern if plan.kind == "music" else plan.kind,
        "mode": plan.mode,
        "register": plan.register,
        "genre": plan.genre,
        "raga": plan.raga,
        "drums": plan.drums,
    }
    plan = NotePlan(
        duration_s=float(duration_s),
        notes=[_planned(n, duration_s) for n in notes if 21 <= n.pitch <= 108],
        tempo_bpm=plan.tempo_bpm,
        beats=[float(b) for b in beats],
        drums=[
            DrumHit(float(d.onset), DRUM_NAME_OF_KEY.get(d.pitch, "kick"), d.velocity)
            for d in drums
        ],
        source="composer",
        meta={k: v for k, v in meta.items() if v is not None},
    )
    # the plan as its JSON says (rounded), so a rerun from the sidecar follows the same numbers
    return plan.rounded()


def _planned(note, duration_s: float) -> PlannedNote:
    onset = float(note.onset)
    return PlannedNote(
        onset, max(min(note.duration, duration_s - onset), 1e-3), note.pitch, int(note.velocity)
    )
