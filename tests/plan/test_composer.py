"""The composer (prompt -> note plan) and MIDI import."""

from __future__ import annotations

import pytest

from avgen.plan import NotePlan, PlanError, compose_notes, notes_from_midi
from avgen.prompts import parse_prompt


def _compose(prompt: str, seed: int = 0, duration: float = 4.0) -> NotePlan | None:
    return compose_notes(parse_prompt(prompt), duration, seed)


def test_same_seed_same_plan_other_seed_other_plan():
    a = _compose("a piano melody in a minor key", seed=3)
    b = _compose("a piano melody in a minor key", seed=3)
    c = _compose("a piano melody in a minor key", seed=4)
    assert a.to_dict() == b.to_dict()
    assert a.to_dict()["notes"] != c.to_dict()["notes"]


@pytest.mark.parametrize(
    ("prompt", "direction"),
    [
        ("a rising arpeggio on a harp", "rising"),
        ("a falling arpeggio on a harp", "falling"),
        ("a flute playing an ascending scale", "rising"),
        ("a cello playing a descending scale", "falling"),
    ],
)
def test_direction_follows_the_prompt(prompt, direction):
    for seed in range(3):
        assert _compose(prompt, seed).pitch_direction() == direction


def test_tempo_and_duration_come_from_the_prompt():
    plan = _compose("upbeat jazz saxophone at 120 BPM", duration=6.0)
    assert plan.tempo_bpm == 120.0
    assert plan.duration_s == 6.0
    assert all(n.onset_s < 6.0 for n in plan.notes)
    assert plan.beats[1] - plan.beats[0] == pytest.approx(0.5)
    assert NotePlan.from_dict(plan.to_dict()).to_dict() == plan.to_dict()


def test_register_is_followed():
    low = _compose("a low piano melody", seed=1)
    high = _compose("a high piano melody", seed=1)
    mean = lambda p: sum(n.pitch for n in p.notes) / len(p.notes)  # noqa: E731
    assert mean(high) > mean(low) + 6


def test_drums_only_and_nothing_to_play():
    drums = _compose("a four on the floor drum beat at 100 BPM")
    assert drums is not None and drums.drums and not drums.notes
    assert _compose("heavy rain on a tin roof") is None


def _write_midi(path, tracks):
    import pretty_midi

    pm = pretty_midi.PrettyMIDI(initial_tempo=90)
    for program, is_drum, notes in tracks:
        inst = pretty_midi.Instrument(program=program, is_drum=is_drum)
        for start, end, pitch in notes:
            inst.notes.append(pretty_midi.Note(velocity=80, pitch=pitch, start=start, end=end))
        pm.instruments.append(inst)
    pm.write(str(path))


def test_midi_melody_track_and_errors(tmp_path):
    tune = tmp_path / "tune.mid"
    melody = [(0.5 * i, 0.5 * i + 0.4, 60 + i) for i in range(8)]
    bass = [(0.0, 2.0, 36), (2.0, 4.0, 38)]
    kit = [(0.0, 0.1, 36), (1.0, 1.1, 38)]
    _write_midi(tune, [(0, True, kit), (42, False, melody), (32, False, bass)])
    plan = notes_from_midi(tune)
    assert [n.pitch for n in plan.notes] == [60 + i for i in range(8)]
    assert plan.source == "midi" and plan.tempo_bpm == pytest.approx(90.0)
    assert [d.name for d in plan.drums] == ["kick", "snare"]
    assert plan.pitch_direction() == "rising"
    second = notes_from_midi(tune, track=1)
    assert [n.pitch for n in second.notes] == [36, 38]
    cut = notes_from_midi(tune, duration_s=2.0)
    assert cut.duration_s == 2.0 and max(n.onset_s for n in cut.notes) < 2.0
    with pytest.raises(PlanError, match="melody track"):
        notes_from_midi(tune, track=5)
    drums_only = tmp_path / "drums.mid"
    _write_midi(drums_only, [(0, True, kit)])
    with pytest.raises(PlanError, match="no melodic notes"):
        notes_from_midi(drums_only)
    text = tmp_path / "fake.mid"
    text.write_text("not a midi file at all")
    with pytest.raises(PlanError, match="not a readable standard MIDI file"):
        notes_from_midi(text)
