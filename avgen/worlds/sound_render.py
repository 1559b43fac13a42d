"""SoundWorld's mixer: a plan's layers synthesized, mixed, given effects, faded and levelled.

The lead (and a raga's drone at ``GAIN_DRONE``) is synthesized and peak-normalised, drums join
at full level alone or at ``GAIN_DRUMS_UNDER`` under music, sound effects (avgen.worlds.sfx)
play alone or as a bed under music or another effect; effects come from pedalboard, then the
fades and the peak of the clip's dynamics word.
"""

from __future__ import annotations

import numpy as np
import pedalboard

from avgen.vocab import INSTRUMENTS, PEAKS, RAGA_INSTRUMENTS
from avgen.worlds.sfx import render_sfx_events
from avgen.worlds.sound_compose import _compose_drums, _compose_music, _compose_raga, _degree
from avgen.worlds.sound_plan import SCALES, _Plan
from avgen.worlds.sound_synth import SR, Note, synthesize_notes

GAIN_DRUMS_UNDER = 0.5
GAIN_BED_UNDER_MUSIC = 0.3
GAIN_BED_UNDER_SFX = 0.45
GAIN_DRONE = 0.45
PITCH_NAMES = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")


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
