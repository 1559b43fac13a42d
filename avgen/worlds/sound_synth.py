"""SoundWorld's synthesizer: notes played through a General MIDI soundfont.

Instruments are General MIDI programs of the TimGM6mb soundfont that ships inside pretty_midi,
played by TinySoundFont (the ``tinysoundfont`` bindings), one process-wide synth behind a lock,
silenced and reset before every render so the same notes always give the same samples.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass

import numpy as np

from avgen.errors import AvgenError
from avgen.vocab import SAMPLE_RATE

SR = SAMPLE_RATE
DRUM_CHANNEL = 9
SILENT_KEYS = {65: (64,)}  # program -> keys TimGM6mb leaves silent (the alto sax's E4)


@dataclass
class Note:
    """One note: onset and duration in seconds, MIDI pitch and velocity (1-127)."""

    onset: float  # s
    pitch: int  # MIDI
    velocity: int
    duration: float  # s


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
