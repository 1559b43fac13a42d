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
DURATION_RANGE = (1.0, 120.0)  # seconds: the audio pipelines' range
TEMPO_RANGE = (20.0, 400.0)  # BPM a plan may state
PITCH_RANGE = (21, 108)  # MIDI A0 to C8, the piano's keys
MAX_NOTES = 20_000
MAX_BEATS = 2_000
SOURCES = ("composer", "midi", "user")
#: General MIDI drum keys of the kit pieces a plan may name.
DRUM_KEYS = {**DRUM_NOTES, "pedal hat": 44}
DRUM_NAMES = tuple(DRUM_KEYS)
#: The kit piece of each General MIDI drum key above.
DRUM_NAME_OF_KEY = {key: name for name, key in DRUM_KEYS.items()}
#: Per-frame condition channels (``NotePlan.features``): 0 planned (1 on every frame of a plan,
#: so "no plan" and "a planned rest" differ), 1 sounding, 2 note onset, 3 loudness
#: (velocity / 127), 4 drum onset (its velocity / 127), 5-6 highest and lowest sounding pitch
#: ((p - 60) / 24), 7-18 pitch classes, 19-40 a piano roll of 22 bands of 4 semitones (MIDI 21-108).
FEATURES = 41
ROLL_BANDS = 22
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

    def rounded(self) -> NotePlan:
        """This plan with every number as its JSON form writes it (what a sidecar, and so a
        rerun, reads back); unlike ``from_dict`` it checks nothing."""
        d = self.to_dict()
        return NotePlan(
            d["duration_s"],
            [PlannedNote(**n) for n in d["notes"]],
            d["tempo_bpm"],
            d["beats"],
            [DrumHit(**h) for h in d["drums"]],
            self.source,
            self.meta,
        )

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
        """ "rising", "falling", "none" (as many steps down as up) or None (fewer than three
        notes), judged as SoundWorld's checker judges audio: the signs of the steps between
        successive notes (the median pitch of each onset; repeated pitches merged)."""
        from avgen.worlds.audio_checks import DIRECTION_SCORE

        line: list[float] = []
        for t in sorted({n.onset_s for n in self.notes}):
            p = float(np.median([n.pitch for n in self.notes if n.onset_s == t]))
            if not line or abs(p - line[-1]) >= 0.5:
                line.append(p)
        if len(line) < 3:
            return None
        steps = np.diff(line)
        ups, downs = int((steps > 0).sum()), int((steps < 0).sum())
        score = (ups - downs) / max(ups + downs, 1)
        if score > DIRECTION_SCORE:
            return "rising"
        return "falling" if score < -DIRECTION_SCORE else "none"

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
        """The per-frame condition (frames, FEATURES) (channels above ``FEATURES``), frame k
        covering ``offset_s + [k, k+1) * frame_seconds``; a note whose onset lies in a frame
        marks that frame's onset channel (notes cut by a window's start carry none)."""
        out = np.zeros((frames, FEATURES), np.float32)
        out[:, 0] = 1.0
        hi = np.full(frames, -np.inf)
        lo = np.full(frames, np.inf)
        for n in self.notes:
            a = int(np.floor((n.onset_s - offset_s) / frame_seconds + _EPS))
            b = int(np.ceil((n.onset_s + n.duration_s - offset_s) / frame_seconds - _EPS))
            a0, b0 = max(a, 0), min(max(b, a + 1), frames)
            if a0 >= b0:
                continue
            out[a0:b0, 1] = 1.0
            out[a0:b0, 3] = np.maximum(out[a0:b0, 3], n.velocity / 127.0)
            out[a0:b0, 7 + n.pitch % 12] = 1.0
            out[a0:b0, 19 + (n.pitch - PITCH_RANGE[0]) // 4] = 1.0
            hi[a0:b0] = np.maximum(hi[a0:b0], n.pitch)
            lo[a0:b0] = np.minimum(lo[a0:b0], n.pitch)
            if 0 <= a < frames and n.onset_s >= offset_s - _EPS:
                out[a, 2] = 1.0
        on = np.isfinite(hi)
        out[on, 5] = (hi[on] - 60.0) / 24.0
        out[on, 6] = (lo[on] - 60.0) / 24.0
        for d in self.drums:
            k = int(np.floor((d.t_s - offset_s) / frame_seconds + _EPS))
            if 0 <= k < frames:
                out[k, 4] = max(out[k, 4], d.velocity / 127.0)
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


def plan_from_world_truth(row: dict, duration_s: float | None = None) -> NotePlan | None:
    """The note plan a SoundWorld clip was rendered from (its ``metadata.jsonl`` row: ``layers``
    with ``[onset, pitch, velocity, length]`` notes, ``tempo_bpm``), cut to ``duration_s`` (the
    row's own by default); None when the clip has no notes (sound effects only). This is what the
    note-following denoiser is trained on."""
    layers = row.get("layers") if isinstance(row, dict) else None
    if not isinstance(layers, list):
        return None
    dur = float(duration_s if duration_s is not None else row.get("duration_s") or 0.0)
    if dur <= 0:
        return None
    notes, drums = [], []
    for layer in layers:
        if not isinstance(layer, dict):
            continue
        for onset, pitch, velocity, length in layer.get("notes") or []:
            if onset >= dur:
                continue
            if layer.get("kind") == "drums":
                drums.append(
                    DrumHit(float(onset), DRUM_NAME_OF_KEY.get(int(pitch), "kick"), int(velocity))
                )
            elif PITCH_RANGE[0] <= pitch <= PITCH_RANGE[1]:
                length = max(min(float(length), dur - float(onset)), 1e-3)
                notes.append(PlannedNote(float(onset), length, int(pitch), int(velocity)))
    if not notes and not drums:
        return None
    tempo = row.get("tempo_bpm")
    tempo = float(tempo) if isinstance(tempo, int | float) and tempo > 0 else None
    beats = [float(t) for t in np.arange(0.05, dur - 1e-6, 60.0 / tempo)] if tempo else []
    return NotePlan(dur, notes, tempo, beats, drums, "user", {"world_seed": row.get("seed")})
