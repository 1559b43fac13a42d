"""SoundWorld's composer: the notes of a plan's lead line, raga, drone and drum kit.

Notes sit on the beat (one per beat, chords re-struck every beat) after a short lead-in;
slow-attack instruments release each note at 3/4 of the beat so the next one is heard. Chords
follow I-V-vi-IV (major) or i-VI-III-VII (minor), with sevenths in jazz. A clip's pitches are
then moved so that their median lies within 3 semitones of its register's centre (A2, D4, A5).
"""

from __future__ import annotations

import numpy as np

from avgen.vocab import DRUM_NOTES, RAGAS
from avgen.worlds.sound_plan import LEAD_IN_S, SCALES, _Plan
from avgen.worlds.sound_synth import Note

PROGRESSIONS = {"major": (0, 4, 5, 3), "minor": (0, 5, 2, 6)}  # I-V-vi-IV, i-VI-III-VII
REGISTER_CENTRES = {"low": 45, "mid": 62, "high": 81}  # median MIDI pitch of a clip, +-3
# Slow-attack instruments: their notes stop short of the next beat, so each one is heard.
SLOW_ATTACK = ("organ", "strings", "choir", "flute")


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
