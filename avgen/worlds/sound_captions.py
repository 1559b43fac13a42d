"""SoundWorld captions: three phrasings of a plan, terse to layered.

The terse phrasing names the instrument and pattern (or the raga, drum pattern or effects); the
medium one adds mood, register, effects, the second layer, fades and tempo; the layered one
leads with genre and mood, then the details, then tempo. One of the three also gives the
duration. Synonyms come from avgen.vocab, and a word that would imply something the clip does
not have ("rock drums" without rock) is not used.
"""

from __future__ import annotations

import numpy as np

from avgen.vocab import (
    DRUM_PATTERNS,
    DYNAMICS,
    EFFECTS,
    FADES,
    GENRES,
    INSTRUMENTS,
    MODES,
    PATTERNS,
    RAGA_INSTRUMENTS,
    REGISTERS,
    SOUND_EFFECTS,
    TEMPO_WORDS,
)
from avgen.worlds.sound_plan import _choice, _has_beat, _Plan

# Caption words that would imply something the clip does not have (a genre, a mode, ...).
_MISLEADING_WORDS = {
    "rock drums": "rock",
    "rock guitar": "rock",
    "jazz drums": "jazz",
    "dance beat": "dance",
    "ambient synth": "ambient",
    "ethereal synth": "ambient",
    "overdriven guitar": "distortion",
    "soft reverb": "soft",
    "bright high": "major",
    "drone": "raga",
}


# ----------------------------------------------------------------------------- captions

# Noun phrases for pattern words that are adjectives or ambiguous on their own.
_PATTERN_PHRASES = {
    "sustained": "sustained notes",
    "staccato": "staccato notes",
    "chord": "block chords",
}
# Sound-effect words that take an article ("a siren"); the rest are mass nouns ("rain").
_COUNTABLE_SFX = {
    "thunderclap",
    "storm",
    "clock",
    "ticking clock",
    "siren",
    "police siren",
    "ambulance siren",
    "alarm",
    "bell",
    "chime",
    "knock",
    "thud",
    "impact",
    "thump",
    "campfire",
    "fire",
    "fireplace",
    "breeze",
    "crackling fire",
}


def _word(rng: np.random.Generator, words, plan: _Plan | None = None) -> str:
    ok = [w for w in words if _word_ok(w, plan)]
    return _choice(rng, ok or list(words))


def _word_ok(w: str, plan: _Plan | None) -> bool:
    implied = _MISLEADING_WORDS.get(w)
    if implied is None or plan is None:
        return True
    return implied in (plan.genre, plan.dynamics, plan.mode, plan.kind) or implied in plan.effects


def _a(phrase: str) -> str:
    """``phrase`` with its indefinite article."""
    return ("an " if phrase[:1].lower() in "aeiou" else "a ") + phrase


def _join(parts) -> str:
    return ", ".join(p for p in parts if p)


def _duration_phrase(rng: np.random.Generator, d: float) -> str:
    unit = "second" if d == 1 else "seconds"
    return _choice(rng, (f"for {d:g} {unit}", f"{d:g} s", f"{d:g}-second clip", f"lasting {d:g} s"))


def _tempo_phrase(rng: np.random.Generator, plan: _Plan) -> str | None:
    if plan.tempo_word is None or not _has_beat(plan) or plan.kind == "sfx":
        return None
    if plan.tempo_word == "bpm":
        b = int(plan.tempo_bpm)
        return _choice(rng, (f"at {b} BPM", f"{b} BPM", f"at {b} bpm"))
    w = _word(rng, TEMPO_WORDS[plan.tempo_word])
    return w if " " in w else _choice(rng, (w, f"{w} tempo" if "tempo" not in w else w))


def _effect_phrase(rng: np.random.Generator, e: str, plan: _Plan) -> str:
    w = _word(rng, EFFECTS[e], plan)
    if w in ("reverb", "echo", "delay", "distortion", "overdrive"):
        return f"with {w}"
    if w in ("large hall", "concert hall", "cathedral"):
        return f"in {_a(w)}"
    if w == "low-pass":
        return "low-pass filtered"
    return w


def _fade_phrase(rng: np.random.Generator, fades: list[str]) -> str | None:
    if not fades:
        return None
    if fades == ["fade_in", "fade_out"]:
        return f"{_word(rng, FADES['fade_in'])}, then {_word(rng, FADES['fade_out'])}"
    return _word(rng, FADES[fades[0]])


def _pattern_phrase(rng: np.random.Generator, pattern: str, plan: _Plan) -> str:
    w = _word(rng, PATTERNS[pattern], plan)
    return _PATTERN_PHRASES.get(w, w)


def _drum_phrase(rng: np.random.Generator, drums: str, plan: _Plan) -> str:
    """A noun phrase for the drum pattern: "a rock beat", "swing drums", "a backbeat"."""
    w = _word(rng, DRUM_PATTERNS[drums], plan)
    if w in ("four-on-the-floor", "four on the floor"):
        return f"a {w} beat"
    if w == "swing":
        return "swing drums"
    return w if w.endswith("drums") else _a(w)


def _sfx_phrase(rng: np.random.Generator, name: str, plan: _Plan, article: bool = True) -> str:
    w = _word(rng, SOUND_EFFECTS[name], plan)
    if plan.dynamics == "soft" and rng.random() < 0.3:
        w = f"gentle {w}"
    countable = w in _COUNTABLE_SFX or w.split()[-1] in _COUNTABLE_SFX
    return _a(w) if article and countable else w


def _captions(plan: _Plan, rng: np.random.Generator) -> list[str]:
    """Three phrasings, terse to layered (genre/mood, then details, then tempo/length)."""
    dyn = _word(rng, DYNAMICS[plan.dynamics]) if plan.dynamics != "normal" else None
    effects = [_effect_phrase(rng, e, plan) for e in plan.effects]
    fade = _fade_phrase(rng, plan.fades)
    tempo = _tempo_phrase(rng, plan)
    if plan.kind == "music":
        caps = _music_captions(plan, rng, dyn, effects, fade, tempo)
    elif plan.kind == "raga":
        ins = _word(rng, RAGA_INSTRUMENTS[plan.instrument].words)
        raga = plan.raga.capitalize()
        style = "alap" if plan.alap else _choice(rng, ("melody", "gat"))
        lead = f"{dyn} {ins}" if dyn else ins
        caps = [
            f"{ins} raga {raga}",
            _join([f"{_a(lead)} playing raga {raga} over a drone", *effects, fade]),
            _join(
                [
                    "Indian classical raga",
                    f"{ins} {style} in raga {raga} over a drone",
                    dyn,
                    *effects,
                    fade,
                    tempo,
                ]
            ),
        ]
    elif plan.kind == "drums":
        beat = _drum_phrase(rng, plan.drums, plan)
        bare = beat[2:] if beat.startswith("a ") else beat
        caps = [
            bare,
            _join([f"{dyn} {bare}" if dyn else bare, *effects, fade, tempo]),
            _join(["drums only", f"{beat} on a drum kit", dyn, *effects, fade, tempo]),
        ]
    else:
        names = [_sfx_phrase(rng, s, plan, article=False) for s in plan.sfx]
        gentle = any(n.startswith("gentle") for n in names)
        if len(names) == 1:
            terse, medium = names[0], names[0]
        else:
            terse = f"{names[1]} and {names[0]}"
            medium = f"{names[1]} over {names[0]}"
        if dyn and not gentle:
            medium = f"{dyn} {medium}"
        caps = [
            terse,
            _join([medium, *effects, fade]),
            _join(
                [
                    "sound effects",
                    " and ".join(names),
                    None if gentle else dyn,
                    *effects,
                    fade,
                    tempo,
                ]
            ),
        ]
    k = int(rng.integers(len(caps)))
    caps[k] = f"{caps[k]}, {_duration_phrase(rng, plan.duration_s)}"
    return caps


def _music_captions(plan, rng, dyn, effects, fade, tempo) -> list[str]:
    ins = _word(rng, INSTRUMENTS[plan.instrument].words, plan)
    pat = _pattern_phrase(rng, plan.pattern, plan)
    mood = _word(rng, MODES[plan.mode])
    key = f"in {_a(mood)} key" if mood in ("major", "minor") else None
    mood_adj = None if key else mood
    reg_w = _word(rng, REGISTERS[plan.register], plan)
    reg_phrase = "in the middle register" if reg_w == "middle register" else None
    reg_adj = None if reg_phrase else reg_w
    genre = _word(rng, GENRES[plan.genre]) if plan.genre else None
    second = None
    if plan.drums:
        second = f"with {_drum_phrase(rng, plan.drums, plan)}"
    elif plan.sfx:
        second = f"over {_sfx_phrase(rng, plan.sfx[0], plan)}"
    terse = f"{genre} {ins} {pat}" if genre and genre not in ins else f"{ins} {pat}"
    core = " ".join(w for w in (dyn, mood_adj, reg_adj, ins, pat) if w)
    core = core if pat.endswith("s") else _a(core)
    medium = _join([core, key, reg_phrase, *effects, second, fade, tempo])
    mood_part = f"{mood_adj} and {dyn}" if mood_adj and dyn else _join([dyn, mood_adj or key])
    lead = _join([genre, mood_part])
    pat2 = _pattern_phrase(rng, plan.pattern, plan)
    details = f"{ins} playing {pat2 if pat2.endswith('s') else _a(pat2)}"
    layered = _join([lead, details, reg_phrase or reg_adj, *effects, second, fade, tempo])
    return [terse, medium, layered]
