"""Note plans: the JSON form, its checks, windows and the per-frame features."""

from __future__ import annotations

import json

import numpy as np
import pytest

from avgen.plan import PLAN_VERSION, NotePlan, PlanError, load_note_plan
from avgen.plan.notes import FEATURES, DrumHit, PlannedNote, plan_from_world_truth
from avgen.plan.schema import write_json


def _plan() -> NotePlan:
    notes = [PlannedNote(0.5 * i, 0.4, 60 + 2 * i, 90) for i in range(6)]
    drums = [DrumHit(0.0, "kick", 110), DrumHit(1.0, "snare", 90)]
    beats = [0.0, 0.5, 1.0, 1.5, 2.0, 2.5]
    return NotePlan(3.0, notes, 120.0, beats, drums, "user", {"note": "test"})


def _plan_dict(**change) -> dict:
    data = _plan().to_dict()
    data.update(change)
    return data


def test_round_trip_through_json(tmp_path):
    plan = _plan()
    path = tmp_path / "plan.json"
    write_json(plan.to_dict(), path)
    back = load_note_plan(path)
    assert back.to_dict() == plan.to_dict()
    assert json.loads(path.read_text())["avgen_plan"] == PLAN_VERSION


def test_notes_are_sorted_by_onset():
    plan = NotePlan(2.0, [PlannedNote(1.0, 0.5, 60), PlannedNote(0.2, 0.5, 64)])
    assert [n.onset_s for n in plan.notes] == [0.2, 1.0]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"duration_s": 0.2}, "plan.duration_s"),
        ({"duration_s": "long"}, "plan.duration_s"),
        ({"tempo_bpm": 1000}, "plan.tempo_bpm"),
        ({"beats": [0.0, 0.0]}, "plan.beats"),
        ({"beats": [5.0]}, "plan.beats[0]"),
        ({"notes": "CDE"}, "plan.notes"),
        ({"notes": [{"onset_s": 0, "duration_s": 0.5, "pitch": 120}]}, "plan.notes[0].pitch"),
        ({"notes": [{"onset_s": 0, "duration_s": 0.5, "pitch": 20}]}, "plan.notes[0].pitch"),
        ({"notes": [{"onset_s": 0, "duration_s": 0.5, "pitch": 60.5}]}, "plan.notes[0].pitch"),
        ({"notes": [{"onset_s": 3.5, "duration_s": 0.5, "pitch": 60}]}, "plan.notes[0].onset_s"),
        ({"notes": [{"onset_s": 2.8, "duration_s": 1.0, "pitch": 60}]}, "plan.notes[0]"),
        ({"notes": [{"onset_s": 0, "duration_s": 0, "pitch": 60}]}, "plan.notes[0].duration_s"),
        ({"notes": [{"onset_s": 0, "pitch": 60}]}, "plan.notes[0].duration_s"),
        ({"notes": [{"onset_s": 0, "duration_s": 1, "pitch": 60, "vel": 3}]}, "'vel'"),
        ({"notes": [{"onset_s": 0, "duration_s": 1, "pitch": True}]}, "plan.notes[0].pitch"),
        ({"drums": [{"t_s": 0, "name": "cowbell"}]}, "plan.drums[0].name"),
        ({"source": "oracle"}, "plan.source"),
        ({"kind": "motion"}, "plan.kind"),
        ({"avgen_plan": PLAN_VERSION + 1}, "upgrade avgen"),
        ({"colour": "red"}, "'colour'"),
    ],
)
def test_each_bad_field_is_named(change, field):
    with pytest.raises(PlanError) as err:
        NotePlan.from_dict(_plan_dict(**change))
    message = str(err.value)
    assert field in message
    assert message.endswith(".") and "\n" not in message


def test_bad_files_are_refused(tmp_path):
    nan = tmp_path / "nan.json"
    nan.write_text(json.dumps(_plan_dict()).replace("120.0", "NaN"))
    with pytest.raises(PlanError, match="not standard JSON"):
        load_note_plan(nan)
    binary = tmp_path / "bin.json"
    binary.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(PlanError, match="not UTF-8"):
        load_note_plan(binary)
    broken = tmp_path / "broken.json"
    broken.write_text('{"avgen_plan": 1, "kind": ')
    with pytest.raises(PlanError, match="not valid JSON"):
        load_note_plan(broken)
    with pytest.raises(PlanError, match="cannot read"):
        load_note_plan(tmp_path / "missing.json")
    with pytest.raises(PlanError, match="must be an object"):
        NotePlan.from_dict([1, 2, 3])


def test_window_moves_and_cuts_notes():
    part = _plan().window(1.2, 2.2)
    assert part.duration_s == pytest.approx(1.0)
    # the note at 1.0-1.4 keeps sounding from 0 (cut), the ones at 1.5 and 2.0 start inside
    starts = [round(n.onset_s, 4) for n in part.notes]
    assert starts == [0.0, 0.3, 0.8]
    assert part.notes[0].duration_s == pytest.approx(0.2)
    assert part.notes[-1].duration_s == pytest.approx(0.2)  # cut at the window's end
    assert [round(b, 4) for b in part.beats] == [0.3, 0.8]
    assert part.drums == []


def test_features_mark_notes_onsets_and_register():
    plan = _plan()
    f = plan.features(75, 0.04)
    assert f.shape == (75, FEATURES)
    assert np.all(f[:, 0] == 1.0)  # planned
    assert f[0, 1] == 1.0 and f[0, 2] == 1.0  # first note sounds and starts in frame 0
    assert f[11, 1] == 0.0  # 0.44-0.48 s: a rest between notes
    assert f[12, 2] == 1.0  # the second note's onset (0.5 s)
    assert f[0, 4] == pytest.approx(110 / 127)  # kick
    hi = f[f[:, 1] > 0, 5]
    assert hi[-1] > hi[0]  # rising notes, rising pitch channel
    assert f[0, 7 + 0] == 1.0  # C
    assert f[0, 19 + (60 - 21) // 4] == 1.0  # piano-roll band of middle C
    # a window's features equal the matching frames of the whole plan
    assert np.array_equal(plan.features(25, 0.04, offset_s=1.0)[:, 1:], f[25:50, 1:])


def test_pitch_direction():
    assert _plan().pitch_direction() == "rising"
    down = [PlannedNote(0.5 * i, 0.4, 72 - 3 * i) for i in range(5)]
    assert NotePlan(3.0, down).pitch_direction() == "falling"
    assert NotePlan(3.0, [PlannedNote(0, 1, 60)]).pitch_direction() is None
    zigzag = [PlannedNote(0.5 * i, 0.4, 60 + 4 * (i % 2)) for i in range(6)]
    assert NotePlan(3.0, zigzag).pitch_direction() == "none"


def test_plan_from_world_truth():
    from avgen.worlds.sound import render_sound_clip

    clip = render_sound_clip(5, duration_s=4.0)
    plan = plan_from_world_truth(clip.truth)
    assert plan is not None and plan.notes and plan.duration_s == 4.0
    assert plan.tempo_bpm == clip.truth["tempo_bpm"]
    lead = next(layer for layer in clip.truth["layers"] if layer["kind"] == "instrument")
    assert plan.notes[0].pitch == min(n[1] for n in lead["notes"] if n[0] == plan.notes[0].onset_s)
    assert plan_from_world_truth({"layers": [{"kind": "sfx", "name": "rain"}]}, 4.0) is None
