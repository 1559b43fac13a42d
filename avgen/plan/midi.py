"""MIDI import: a standard MIDI file's melody as a note plan (``avgen audio --melody tune.mid``,
the MusicGen-melody use: "play this tune on a cello")."""

from __future__ import annotations

import warnings
from pathlib import Path

from avgen.plan.notes import (
    DRUM_NAME_OF_KEY,
    DURATION_RANGE,
    PITCH_RANGE,
    TEMPO_RANGE,
    DrumHit,
    NotePlan,
    PlannedNote,
)
from avgen.plan.schema import PlanError

MAX_MIDI_BYTES = 8 * 1024 * 1024
_EDGE = 1e-3  # times this close to the end would round onto it in the JSON form


def _read(path: Path):
    import pretty_midi

    try:
        size = path.stat().st_size
    except OSError as e:
        raise PlanError(f"cannot read MIDI file {path}: {e.strerror or e}.") from e
    if size > MAX_MIDI_BYTES:
        raise PlanError(f"MIDI file {path} is larger than {MAX_MIDI_BYTES // 2**20} MB.")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return pretty_midi.PrettyMIDI(str(path))
    except Exception as e:  # mido / pretty_midi raise many types on files that are not MIDI
        raise PlanError(f"{path} is not a readable standard MIDI file.") from e


def notes_from_midi(
    path: str | Path, track: int | None = None, duration_s: float | None = None
) -> NotePlan:
    """The notes of ``path``'s first melodic (non-drum) track with notes, or of melodic track
    ``track`` (counted from 0 among the tracks with notes); its drum track's hits; the tempo and
    beats. The plan lasts ``duration_s`` (notes after it are left out) or, without it, as long as
    the tune, at most 120 s."""
    path = Path(path)
    pm = _read(path)
    melodic = [i for i in pm.instruments if not i.is_drum and i.notes]
    if not melodic:
        raise PlanError(f"MIDI file {path} has no melodic notes to play.")
    if track is None:
        chosen = melodic[0]
    elif isinstance(track, bool) or not isinstance(track, int) or not 0 <= track < len(melodic):
        raise PlanError(
            f"melody track must be a whole number from 0 to {len(melodic) - 1} "
            f"({path} has {len(melodic)} melodic track(s)), got {track!r}."
        )
    else:
        chosen = melodic[track]
    end = max(n.end for n in chosen.notes)
    top = DURATION_RANGE[1]
    dur = float(duration_s) if duration_s is not None else min(max(end, DURATION_RANGE[0]), top)
    if not DURATION_RANGE[0] <= dur <= DURATION_RANGE[1]:
        raise PlanError(f"a melody plan lasts 1 to {top:g} seconds, got {dur:g}.")
    notes = []
    for n in sorted(chosen.notes, key=lambda n: (n.start, n.pitch)):
        if n.start >= dur - _EDGE or not PITCH_RANGE[0] <= n.pitch <= PITCH_RANGE[1]:
            continue
        length = min(n.end, dur) - n.start
        if length > 1e-3:
            notes.append(PlannedNote(float(n.start), float(length), int(n.pitch), int(n.velocity)))
    if not notes:
        raise PlanError(f"MIDI file {path} has no notes in its first {dur:g} s.")
    drums = [
        DrumHit(float(n.start), DRUM_NAME_OF_KEY[n.pitch], max(1, int(n.velocity)))
        for i in pm.instruments
        if i.is_drum
        for n in i.notes
        if n.pitch in DRUM_NAME_OF_KEY and n.start < dur - _EDGE
    ]
    _, tempi = pm.get_tempo_changes()
    tempo = float(tempi[0]) if len(tempi) else None
    if tempo is not None and not TEMPO_RANGE[0] <= tempo <= TEMPO_RANGE[1]:
        tempo = None
    beats = [float(b) for b in pm.get_beats() if b < dur - _EDGE]
    meta = {"midi": path.name, "program": int(chosen.program), "cut_at_s": round(dur, 4)}
    if end > dur:
        meta["tune_length_s"] = round(float(end), 4)
    plan = NotePlan(dur, notes, tempo, beats, sorted(drums, key=lambda d: d.t_s), "midi", meta)
    return NotePlan.from_dict(plan.to_dict())  # the same checks as a plan file
