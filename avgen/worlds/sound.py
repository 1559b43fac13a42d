"""SoundWorld: captioned 16 kHz audio clips with exact ground truth (WORLD.md, SoundWorld).

Instruments are General MIDI programs of the TimGM6mb soundfont that ships inside pretty_midi,
played by TinySoundFont (the ``tinysoundfont`` bindings); effects come from pedalboard; sound
effects from ``avgen.worlds.sfx``. A clip is a pure function of (WORLD_VERSION, seed, options):
the seed feeds three independent random streams (the plan, the audio, the captions), so the same
seed gives the same samples on every run.

Choices WORLD.md leaves free, made here so that the analytic checkers can judge every clip:
- notes sit on the beat (one per beat, chords re-struck every beat); slow-attack instruments
  (organ, strings, choir, flute) release each note at 3/4 of the beat so the next one is heard;
- a clip's pitches are centred on its register (median within 3 semitones of A2, D4 or A5);
- "sustained" is one held note; the synth pad only holds notes (its 0.7 s attack cannot carry a
  beat); the electric guitar plays mid only (TimGM6mb's low overdrive samples sound an octave up);
- fades only on clips of 4 s or more whose level is otherwise steady; no distortion on chords,
  drums or sound effects;
- a second layer is a drum kit at half the music's peak, a sound-effect bed at 0.3, or a drone
  under a raga.
"""

from __future__ import annotations

import math
import os
import threading
from dataclasses import dataclass, field

import numpy as np
import pedalboard

from avgen.errors import AvgenError
from avgen.vocab import (
    DEFAULT_EXCLUDED_INSTRUMENTS,
    DRUM_NOTES,
    DRUM_PATTERNS,
    DYNAMICS,
    EFFECTS,
    FADES,
    GENRE_DEFAULTS,
    GENRES,
    INSTRUMENTS,
    MODES,
    PATTERN_DIRECTION,
    PATTERNS,
    PEAKS,
    RAGA_INSTRUMENTS,
    RAGAS,
    REGISTERS,
    SAMPLE_RATE,
    SOUND_EFFECTS,
    TEMPO_CLASS_RANGES,
    TEMPO_RANGE,
    TEMPO_WORDS,
    WORLD_VERSION,
)
from avgen.worlds import heldout as heldout_mod
from avgen.worlds.sfx import (
    NOISY_SFX,
    STEADY_SFX,
    TEMPO_SFX,
    TONAL_SFX,
    impact_sound,
    render_sfx,
    render_sfx_events,
)

__all__ = [
    "SoundClip",
    "render_sound_clip",
    "render_sfx",
    "impact_sound",
    "synthesize_notes",
    "soundfont_path",
]

SR = SAMPLE_RATE
DURATION_RANGE = (1.0, 10.0)
MIN_TEMPO_BEATS = 4  # clips meant for tempo / pitch-direction checks last at least this long
LEAD_IN_S = 0.05
MIN_FADE_S = 4.0  # shorter clips hold too few notes or hits for a fade to be heard
DRUM_CHANNEL = 9
SILENT_KEYS = {65: (64,)}  # program -> keys TimGM6mb leaves silent (the alto sax's E4)

SCALES = {"major": (0, 2, 4, 5, 7, 9, 11), "minor": (0, 2, 3, 5, 7, 8, 10)}
PROGRESSIONS = {"major": (0, 4, 5, 3), "minor": (0, 5, 2, 6)}  # I-V-vi-IV, i-VI-III-VII
REGISTER_CENTRES = {"low": 45, "mid": 62, "high": 81}  # median MIDI pitch of a clip, +-3
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
# Slow-attack instruments: their notes stop short of the next beat, so each one is heard.
SLOW_ATTACK = ("organ", "strings", "choir", "flute")
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
GAIN_DRUMS_UNDER = 0.5
GAIN_BED_UNDER_MUSIC = 0.3
GAIN_BED_UNDER_SFX = 0.45
GAIN_DRONE = 0.45
PITCH_NAMES = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")

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


# ----------------------------------------------------------------------------- the clip


@dataclass
class SoundClip:
    """One SoundWorld clip: mono float32 audio at ``sr`` with captions and ground truth."""

    audio: np.ndarray  # (T,) float32
    sr: int
    captions: list[str]
    truth: dict
    expected: dict


@dataclass
class Note:
    onset: float  # s
    pitch: int  # MIDI
    velocity: int
    duration: float  # s


@dataclass
class _Plan:
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


# ----------------------------------------------------------------------------- synthesizer

_SYNTH: dict[str, object] = {}
_SYNTH_LOCK = threading.Lock()


def soundfont_path() -> str:
    """Path of the General MIDI soundfont (TimGM6mb.sf2) that ships inside pretty_midi."""
    import pretty_midi

    return os.path.join(os.path.dirname(pretty_midi.__file__), "TimGM6mb.sf2")


def _load_synth():
    """The process-wide TinySoundFont synth with the soundfont loaded (loaded once)."""
    if "synth" not in _SYNTH:
        try:
            import tinysoundfont
        except ImportError as e:
            raise AvgenError(
                "SoundWorld needs the tinysoundfont synthesizer, which is missing: "
                "run `pip install --no-deps tinysoundfont`."
            ) from e
        path = soundfont_path()
        if not os.path.exists(path):
            raise AvgenError(
                f"the General MIDI soundfont {path} is missing: reinstall pretty_midi."
            )
        synth = tinysoundfont.Synth(samplerate=SR)
        _SYNTH["sfid"] = synth.sfload(path)
        _SYNTH["synth"] = synth
    return _SYNTH["synth"], _SYNTH["sfid"]


def _silence(synth, sfid: int) -> None:
    """Stop every voice and reset every channel, so each render starts from the same state."""
    synth.sounds_off()
    synth.soundfonts[sfid].reset()
    for _ in range(50):
        if not np.frombuffer(synth.generate(320), dtype=np.float32).any():
            return


def synthesize_notes(
    notes: list[Note], program: int, n_samples: int, *, drums: bool = False
) -> np.ndarray:
    """Play ``notes`` with one General MIDI program (or the GM drum kit): float32 (n_samples,).

    Keys the soundfont leaves silent (``SILENT_KEYS``) are played a key lower on a second channel
    tuned a semitone up.
    """
    with _SYNTH_LOCK:
        synth, sfid = _load_synth()
        _silence(synth, sfid)
        chan = DRUM_CHANNEL if drums else 0
        synth.program_select(chan, sfid, 128 if drums else 0, program, is_drums=drums)
        silent = () if drums else SILENT_KEYS.get(program, ())
        if silent:
            synth.program_select(1, sfid, 0, program)
            synth.set_tuning(1, 1.0)
        events = []  # (sample, on?, channel, key, velocity); note-offs sort before note-ons
        for nt in notes:
            c, key = (1, nt.pitch - 1) if nt.pitch in silent else (chan, nt.pitch)
            events.append((int(round(nt.onset * SR)), 1, c, key, nt.velocity))
            events.append((int(round((nt.onset + nt.duration) * SR)), 0, c, key, 0))
        events.sort()
        out = np.zeros((n_samples, 2), dtype=np.float32)  # (T, stereo)
        pos = 0
        for s, on, c, key, vel in events:
            s = min(s, n_samples)
            if s > pos:
                out[pos:s] = np.frombuffer(synth.generate(s - pos), np.float32).reshape(-1, 2)
                pos = s
            if s >= n_samples:
                break
            if on:
                synth.noteon(c, key, vel)
            else:
                synth.noteoff(c, key)
        if pos < n_samples:
            out[pos:] = np.frombuffer(synth.generate(n_samples - pos), np.float32).reshape(-1, 2)
    return out.mean(axis=1)


# ----------------------------------------------------------------------------- composition


def _degree(d: int, scale: tuple[int, ...]) -> int:
    return 12 * (d // len(scale)) + scale[d % len(scale)]


def _chord(root_degree: int, scale: tuple[int, ...], sevenths: bool) -> list[int]:
    tones = [_degree(root_degree + k, scale) for k in ((0, 2, 4, 6) if sevenths else (0, 2, 4))]
    if tones[0] > 6:  # fold high roots down an octave so every chord stays near the tonic
        tones = [p - 12 for p in tones]
    return tones


def _beats(plan: _Plan) -> tuple[float, list[float]]:
    beat = 60.0 / plan.tempo_bpm
    times = []
    t = LEAD_IN_S
    while t < plan.duration_s - 0.1:
        times.append(t)
        t += beat
    return beat, times


def _velocity(rng: np.random.Generator, pos: int, base: int = 88) -> int:
    return int(base + (12 if pos == 0 else 0) + rng.integers(-4, 5))


def _compose_music(plan: _Plan, rng: np.random.Generator) -> list[Note]:
    """Notes of the lead instrument, relative pitches moved to the register's centre."""
    scale = SCALES[plan.mode]
    prog = PROGRESSIONS[plan.mode]
    sevenths = plan.genre == "jazz"
    notes: list[Note] = []
    if plan.pattern == "sustained":
        notes.append(Note(LEAD_IN_S, 0, 96, plan.duration_s - LEAD_IN_S - 0.05))
    else:
        beat, times = _beats(plan)
        legato = 0.75 if plan.instrument in SLOW_ATTACK else 0.9  # a gap marks each note
        walk = 0
        for k, t in enumerate(times):
            pos, chord = k % 4, _chord(prog[(k // 4) % len(prog)], scale, sevenths)
            arp = chord[:3] + [chord[0] + 12]
            dur, pitches = legato * beat, []
            if plan.pattern == "melody":
                if k:
                    step = int(rng.choice([-2, -1, 1, 2]))
                    if not -3 <= walk + step <= 9:
                        step = -step
                    walk += step
                pitches = [_degree(walk, scale)]
            elif plan.pattern == "rising arpeggio":
                pitches = [arp[pos]]
            elif plan.pattern == "falling arpeggio":
                pitches = [arp[3 - pos]]
            elif plan.pattern == "chords":
                pitches = chord
            elif plan.pattern == "ascending scale":
                pitches = [_degree(k % 8, scale)]
            elif plan.pattern == "descending scale":
                pitches = [_degree(7 - k % 8, scale)]
            elif plan.pattern == "staccato":
                pitches, dur = [chord[0]], 0.3 * beat
            vel = _velocity(rng, pos, 80 if len(pitches) > 1 else 88)
            notes.extend(Note(t, p, vel, dur) for p in pitches)
    target = REGISTER_CENTRES[plan.register] + int(rng.integers(-3, 4))
    shift = target - int(round(float(np.median([n.pitch for n in notes]))))
    for n in notes:
        n.pitch += shift
    return notes


def _compose_raga(plan: _Plan, rng: np.random.Generator) -> tuple[list[Note], list[Note], int]:
    """A raga line (alap in free time, or a gat on the beat) and its drone; returns the tonic."""
    scale = RAGAS[plan.raga]
    sa = int(rng.integers(57, 65))
    lead: list[Note] = []
    walk = 0
    if plan.alap:
        t = 0.1
        while t < plan.duration_s - 0.3:
            d = float(rng.uniform(0.7, 1.6))
            lead.append(Note(t, sa + _degree(walk, scale), int(rng.integers(84, 100)), 0.95 * d))
            walk = int(np.clip(walk + rng.choice([-2, -1, -1, 1, 1, 2]), -3, 8))
            t += d
    else:
        beat, times = _beats(plan)
        for k, t in enumerate(times):
            lead.append(Note(t, sa + _degree(walk, scale), _velocity(rng, k % 4), 0.9 * beat))
            walk = int(np.clip(walk + rng.choice([-2, -1, 1, 2]), -3, 8))
    drone: list[Note] = []
    if plan.instrument == "sitar":  # tanpura-like cycle Pa, Sa, Sa, low Sa
        cycle = (sa - 5, sa, sa, sa - 12)
        t, k = 0.0, 0
        while t < plan.duration_s:
            drone.append(Note(t, cycle[k % 4], 70, 0.55))
            t += 0.6
            k += 1
    else:
        drone.append(Note(0.0, sa - 12, 80, plan.duration_s))
    return lead, drone, sa


def _compose_drums(plan: _Plan, rng: np.random.Generator) -> list[Note]:
    beat, times = _beats(plan)
    kit = DRUM_NOTES
    notes: list[Note] = []

    def hit(t: float, name: str, vel: int) -> None:
        if t < plan.duration_s - 0.02:
            notes.append(Note(t, kit[name], int(vel + rng.integers(-3, 4)), 0.1))

    for k, t in enumerate(times):
        pos = k % 4
        if plan.drums == "rock beat":
            hit(t, "kick" if pos % 2 == 0 else "snare", 112)
            hit(t, "closed hat", 55)
            hit(t + beat / 2, "closed hat", 42)
        elif plan.drums == "four on the floor":
            hit(t, "kick", 115)
            if pos % 2 == 1:
                hit(t, "snare", 80)
            hit(t + beat / 2, "open hat", 45)
        else:  # swing: ride on the beat, swung skip note, hat pedal on 2 and 4
            hit(t, "ride", 88)
            if pos % 2 == 1:
                hit(t + 2 * beat / 3, "ride", 62)
                notes.append(Note(t, 44, 55, 0.1))
            if pos == 0:
                hit(t, "kick", 75)
    return notes


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


# ----------------------------------------------------------------------------- rendering


def _peak_norm(x: np.ndarray, peak: float = 1.0) -> np.ndarray:
    m = float(np.max(np.abs(x))) if x.size else 0.0
    return x * (peak / m) if m > 0 else x


def _effects_board(effects: list[str]) -> pedalboard.Pedalboard:
    chain = []
    if "distortion" in effects:
        chain += [pedalboard.Distortion(drive_db=18.0), pedalboard.Gain(gain_db=-12.0)]
    if "lowpass" in effects:
        chain.append(pedalboard.LowpassFilter(cutoff_frequency_hz=1500.0))
    if "echo" in effects:
        chain.append(pedalboard.Delay(delay_seconds=0.3, feedback=0.4, mix=0.3))
    if "reverb" in effects:
        chain.append(pedalboard.Reverb(room_size=0.25, damping=0.5, wet_level=0.25, dry_level=0.8))
    if "hall" in effects:
        chain.append(pedalboard.Reverb(room_size=0.92, damping=0.3, wet_level=0.35, dry_level=0.7))
    return pedalboard.Pedalboard(chain)


def _fade_gain(n: int, fades: list[str]) -> np.ndarray:
    t = (np.arange(n) + 0.5) / n
    if fades == ["fade_in"]:
        return t
    if fades == ["fade_out"]:
        return 1.0 - t
    return np.minimum(2 * t, 2 * (1 - t))  # in over the first half, out over the second


def _render(plan: _Plan, rng: np.random.Generator) -> tuple[np.ndarray, list[dict], dict]:
    """Audio (n,) float32, the layers' ground truth and extra truth fields."""
    n = int(round(plan.duration_s * SR))
    mix = np.zeros(n)
    layers: list[dict] = []
    extra: dict = {}
    if plan.kind in ("music", "raga"):
        info = INSTRUMENTS.get(plan.instrument) or RAGA_INSTRUMENTS[plan.instrument]
        if plan.kind == "music":
            lead, drone, tonic = _compose_music(plan, rng), [], None
        else:
            lead, drone, tonic = _compose_raga(plan, rng)
        mix += _peak_norm(synthesize_notes(lead, info.program, n))
        layers.append(_note_layer("instrument", plan.instrument, info.program, lead, 1.0))
        if drone:
            mix += GAIN_DRONE * _peak_norm(synthesize_notes(drone, info.program, n))
            layers.append(_note_layer("drone", plan.instrument, info.program, drone, GAIN_DRONE))
        if tonic is None:  # the tonic is where degree 0 landed after the register shift
            tonic = _tonic_of(plan, lead)
        extra["tonic_midi"] = tonic
        extra["key"] = PITCH_NAMES[tonic % 12]
    if plan.drums is not None:
        kit = _compose_drums(plan, rng)
        gain = 1.0 if plan.kind == "drums" else GAIN_DRUMS_UNDER
        mix += gain * _peak_norm(synthesize_notes(kit, 0, n, drums=True))
        layers.append(_note_layer("drums", plan.drums, 0, kit, gain))
    for k, name in enumerate(plan.sfx):
        x, events, bpm = render_sfx_events(name, plan.duration_s, rng, SR, tempo_bpm=plan.tempo_bpm)
        if plan.kind != "sfx":
            gain = GAIN_BED_UNDER_MUSIC
        elif len(plan.sfx) == 2 and k == 0:
            gain = GAIN_BED_UNDER_SFX
        else:
            gain = 1.0
        mix += gain * _peak_norm(x)
        layer = {"kind": "sfx", "name": name, "gain": gain, "events": events}
        if bpm is not None:
            layer["tempo_bpm"] = bpm
        layers.append(layer)
    if plan.effects:
        mix = _effects_board(plan.effects)(mix[None, :].astype(np.float32), SR)[0]  # (1, T)
    if plan.fades:
        mix = mix * _fade_gain(n, plan.fades)
    audio = _peak_norm(mix, PEAKS[plan.dynamics]).astype(np.float32)
    return audio, layers, extra


def _tonic_of(plan: _Plan, lead: list[Note]) -> int:
    # The first note of every pattern is a chord root or degree 0 except the falling ones.
    scale = SCALES[plan.mode]
    first = lead[0].pitch
    if plan.pattern == "falling arpeggio":
        return first - 12
    if plan.pattern == "descending scale":
        return first - _degree(7, scale)
    return first


def _note_layer(kind: str, name: str, program: int, notes: list[Note], gain: float) -> dict:
    return {
        "kind": kind,
        "name": name,
        "program": program,
        "gain": gain,
        "notes": [[round(x.onset, 4), x.pitch, x.velocity, round(x.duration, 4)] for x in notes],
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
    """The truth in the parsed-prompt schema (CONTRACT.md section 1) plus ``tonal``."""
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
    """Render SoundWorld clip number ``seed`` (WORLD.md): audio, captions, truth, expected.

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
