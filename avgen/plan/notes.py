"""Note plans: which notes sound when (onset, length, MIDI pitch, velocity), the beat grid and
tempo, and drum hits, for the audio side of "plan, then render" (docs/PLANS.md).

A plan is data: ``NotePlan.from_dict`` checks a hand-edited JSON object field by field
(``avgen.plan.schema``), ``to_dict`` writes the versioned form back, ``window`` cuts the part a
window of long audio renders, and ``features`` turns it into the per-frame condition a denoiser
reads (the role of Music ControlNet's melody and rhythm controls and MusicGen-melody's chroma).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from avgen.plan import schema
from avgen.plan.schema import PlanError
from avgen.vocab import DRUM_NOTES

KIND = "notes"
DURATION_RANGE = (1.0, 60.0)  # seconds: the audio pipelines' range
TEMPO_RANGE = (20.0, 400.0)  # BPM a plan may state
PITCH_RANGE = (21, 108)  # MIDI A0 to C8, the piano's keys
MAX_NOTES = 20_000
MAX_BEATS = 2_000
SOURCES = ("composer", "midi", "user")
#: General MIDI drum keys of the kit pieces a plan may name.
DRUM_KEYS = {**DRUM_NOTES, "pedal hat": 44}
DRUM_NAMES = tuple(DRUM_KEYS)
#: Per-frame condition channels: sounding, onset, highest and lowest sounding pitch
#: ((p - 60) / 24), loudness (velocity / 127), drum onset, and 12 pitch-class channels.
FEATURES = 18
_EPS = 1e-6


@dataclass
class PlannedNote:
    """One note: onset and length in seconds, MIDI pitch (21-108) and velocity (1-127)."""

    onset_s: float
    duration_s: float
    pitch: int
    velocity: int = 90

    def to_dict(self) -> dict:
        return {
            "onset_s": round(self.onset_s, 4),
            "duration_s": round(self.duration_s, 4),
            "pitch": self.pitch,
            "velocity": self.velocity,
        }


@dataclass
class DrumHit:
    """One drum hit: time in seconds, the kit piece and its velocity."""

    t_s: float
    name: str
    velocity: int = 100

    def to_dict(self) -> dict:
        return {"t_s": round(self.t_s, 4), "name": self.name, "velocity": self.velocity}


@dataclass
class NotePlan:
    """The notes, beats and drum hits of ``duration_s`` seconds of audio."""

    duration_s: float
    notes: list[PlannedNote] = field(default_factory=list)
    tempo_bpm: float | None = None
    beats: list[float] = field(default_factory=list)
    drums: list[DrumHit] = field(default_factory=list)
    source: str = "user"
    meta: dict = field(default_factory=dict)  # prompt, seed, instrument...: kept, not read

    def __post_init__(self) -> None:
        self.notes.sort(key=lambda n: (n.onset_s, n.pitch))
        self.drums.sort(key=lambda d: (d.t_s, d.name))

    # ------------------------------------------------------------------ JSON form

    def to_dict(self) -> dict:
        return {
            "avgen_plan": schema.PLAN_VERSION,
            "kind": KIND,
            "duration_s": round(self.duration_s, 4),
            "tempo_bpm": None if self.tempo_bpm is None else round(self.tempo_bpm, 3),
            "beats": [round(t, 4) for t in self.beats],
            "notes": [n.to_dict() for n in self.notes],
            "drums": [d.to_dict() for d in self.drums],
            "source": self.source,
            "meta": self.meta,
        }

    @classmethod
    def from_dict(cls, data) -> NotePlan:
        """Check ``data`` (a plan's JSON object) and build the plan; ``PlanError`` names the
        first field that is wrong."""
        keys = ("duration_s", "tempo_bpm", "beats", "notes", "drums", "source", "meta")
        data = schema.header(data, KIND, keys, ("duration_s", "notes"))
        dur = schema.number(data["duration_s"], "plan.duration_s", *DURATION_RANGE)
        tempo = data.get("tempo_bpm")
        if tempo is not None:
            tempo = schema.number(tempo, "plan.tempo_bpm", *TEMPO_RANGE)
        beats = [
            _time(t, f"plan.beats[{i}]", dur)
            for i, t in enumerate(schema.items(data.get("beats", []), "plan.beats", MAX_BEATS))
        ]
        if any(b <= a for a, b in zip(beats, beats[1:])):
            raise PlanError("plan.beats must be in increasing order.")
        notes = [
            _note(n, f"plan.notes[{i}]", dur)
            for i, n in enumerate(schema.items(data["notes"], "plan.notes", MAX_NOTES))
        ]
        drums = [
            _drum(d, f"plan.drums[{i}]", dur)
            for i, d in enumerate(schema.items(data.get("drums", []), "plan.drums", MAX_NOTES))
        ]
        source = schema.text(data.get("source", "user"), "plan.source", SOURCES)
        meta = data.get("meta", {})
        if not isinstance(meta, dict):
            raise PlanError("plan.meta must be an object.")
        return cls(dur, notes, tempo, beats, drums, source, dict(meta))

    # ------------------------------------------------------------------ use

    @property
    def is_empty(self) -> bool:
        return not self.notes and not self.drums

    def pitch_direction(self) -> str | None:
        """ "rising", "falling" or None (steady or too few notes): the sign of a line fitted
        through the sounding pitches' medians per onset, the way the checkers judge contour."""
        onsets = sorted({n.onset_s for n in self.notes})
        if len(onsets) < 3:
            return None
        med = [float(np.median([n.pitch for n in self.notes if n.onset_s == t])) for t in onsets]
        slope = float(np.polyfit(np.asarray(onsets), np.asarray(med), 1)[0])
        span = slope * (onsets[-1] - onsets[0])
        return "rising" if span >= 2.0 else "falling" if span <= -2.0 else None

    def window(self, start_s: float, end_s: float) -> NotePlan:
        """The part of the plan from ``start_s`` to ``end_s``, moved to start at 0 (notes that
        began before the window keep sounding from 0 but carry no onset)."""
        notes = []
        for n in self.notes:
            end = n.onset_s + n.duration_s
            if end > start_s + _EPS and n.onset_s < end_s - _EPS:
                onset = max(n.onset_s, start_s)
                notes.append(
                    PlannedNote(onset - start_s, min(end, end_s) - onset, n.pitch, n.velocity)
                )
        beats = [t - start_s for t in self.beats if start_s <= t < end_s]
        drums = [
            DrumHit(d.t_s - start_s, d.name, d.velocity)
            for d in self.drums
            if start_s <= d.t_s < end_s
        ]
        meta = dict(self.meta, window=[round(start_s, 4), round(end_s, 4)])
        return NotePlan(end_s - start_s, notes, self.tempo_bpm, beats, drums, self.source, meta)

    def features(self, frames: int, frame_seconds: float, offset_s: float = 0.0) -> np.ndarray:
        """The per-frame condition (frames, FEATURES), frame k covering
        ``offset_s + [k, k+1) * frame_seconds``; a note whose onset lies in a frame marks that
        frame's onset channel (notes cut by a window's start carry none)."""
        out = np.zeros((frames, FEATURES), np.float32)
        hi = np.full(frames, -np.inf)
        lo = np.full(frames, np.inf)
        for n in self.notes:
            a = int(np.floor((n.onset_s - offset_s) / frame_seconds + _EPS))
            b = int(np.ceil((n.onset_s + n.duration_s - offset_s) / frame_seconds - _EPS))
            a0, b0 = max(a, 0), min(max(b, a + 1), frames)
            if a0 >= b0:
                continue
            out[a0:b0, 0] = 1.0
            out[a0:b0, 4] = np.maximum(out[a0:b0, 4], n.velocity / 127.0)
            out[a0:b0, 6 + n.pitch % 12] = 1.0
            hi[a0:b0] = np.maximum(hi[a0:b0], n.pitch)
            lo[a0:b0] = np.minimum(lo[a0:b0], n.pitch)
            if 0 <= a < frames and n.onset_s >= offset_s - _EPS:
                out[a, 1] = 1.0
        on = np.isfinite(hi)
        out[on, 2] = (hi[on] - 60.0) / 24.0
        out[on, 3] = (lo[on] - 60.0) / 24.0
        for d in self.drums:
            k = int(np.floor((d.t_s - offset_s) / frame_seconds + _EPS))
            if 0 <= k < frames:
                out[k, 5] = max(out[k, 5], d.velocity / 127.0)
        return out


def _time(value, path: str, duration_s: float) -> float:
    t = schema.number(value, path, 0.0, float("inf"))
    if t >= duration_s:
        raise PlanError(f"{path} is {t:g} s, past the plan's duration of {duration_s:g} s.")
    return t


def _note(value, path: str, duration_s: float) -> PlannedNote:
    keys = ("onset_s", "duration_s", "pitch", "velocity")
    n = schema.obj(value, path, keys, ("onset_s", "duration_s", "pitch"))
    onset = _time(n["onset_s"], f"{path}.onset_s", duration_s)
    length = schema.number(n["duration_s"], f"{path}.duration_s", 0.0, 60.0, open_low=True)
    if onset + length > duration_s + 1e-3:
        raise PlanError(
            f"{path} ends at {onset + length:g} s, past the plan's duration of {duration_s:g} s."
        )
    pitch = schema.number(n["pitch"], f"{path}.pitch", *PITCH_RANGE, whole=True)
    velocity = schema.number(n.get("velocity", 90), f"{path}.velocity", 1, 127, whole=True)
    return PlannedNote(onset, min(length, duration_s - onset), int(pitch), int(velocity))


def _drum(value, path: str, duration_s: float) -> DrumHit:
    d = schema.obj(value, path, ("t_s", "name", "velocity"), ("t_s", "name"))
    t = _time(d["t_s"], f"{path}.t_s", duration_s)
    name = schema.text(d["name"], f"{path}.name", DRUM_NAMES)
    velocity = schema.number(d.get("velocity", 100), f"{path}.velocity", 1, 127, whole=True)
    return DrumHit(t, name, int(velocity))


def load_note_plan(source) -> NotePlan:
    """A note plan from a dict, a ``NotePlan`` or the path of its JSON file."""
    if isinstance(source, NotePlan):
        return source
    return NotePlan.from_dict(schema.read_json(source))
