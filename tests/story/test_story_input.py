"""Story input: shots files, prompts with durations, the subject carried from shot to shot."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from avgen.errors import AvgenError
from avgen.prompts import parse_prompt
from avgen.story import (
    DEFAULT_SHOT_S,
    MAX_STORY_SECONDS,
    Story,
    carry_subject,
    read_shots_file,
    shot_frames,
    sound_prompts,
    sound_words,
    story_from_prompts,
)


def test_prompts_with_durations_and_defaults() -> None:
    story = story_from_prompts(["a red ball bouncing", "it spins"], [2, 1.5])
    assert [s.duration_s for s in story.shots] == [2.0, 1.5] and story.duration_s == 3.5
    shared = story_from_prompts(["a red ball bouncing", "it spins", "it grows"], duration_s=9)
    assert [s.duration_s for s in shared.shots] == [3.0, 3.0, 3.0]
    own = story_from_prompts(["a red ball bouncing for 3 seconds", "it spins"])
    assert [s.duration_s for s in own.shots] == [3.0, DEFAULT_SHOT_S]


@pytest.mark.parametrize(
    "kwargs, words",
    [
        ({"prompts": []}, "at least one shot"),
        ({"prompts": ["a", "b"], "durations": [1.0]}, "--durations has 1 value(s) but 2 prompt"),
        ({"prompts": ["a"], "durations": [1.0], "duration_s": 2.0}, "not both"),
        ({"prompts": ["a", "b"], "durations": [100, 30]}, "130 s in all"),
        ({"prompts": ["a"], "durations": [0.0]}, "shot 1's duration must be between"),
        ({"prompts": ["a", " "], "durations": [1, 1]}, "prompt 2 must be non-empty text"),
    ],
)
def test_bad_prompt_stories(kwargs: dict, words: str) -> None:
    with pytest.raises(AvgenError) as info:
        story_from_prompts(**kwargs)
    assert words in str(info.value) and "\n" not in str(info.value)


def _file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "shots.json"
    path.write_text(text, encoding="utf-8")
    return path


def test_shots_file_round_trip(tmp_path: Path) -> None:
    data = {
        "subject": "a small red ball",
        "shots": [
            {"prompt": "bouncing in a grass field", "duration_s": 2, "sound": "gentle piano"},
            {"prompt": "then it spins", "duration_s": 1.5},
        ],
    }
    story = read_shots_file(_file(tmp_path, json.dumps(data)))
    assert story.subject == "a small red ball"
    assert story.shots[0].sound == "gentle piano" and story.shots[1].sound is None
    assert Story.from_dict(story.to_dict()).to_dict() == story.to_dict()
    only_list = read_shots_file(_file(tmp_path, json.dumps(data["shots"])))  # the list alone
    assert only_list.subject is None and len(only_list.shots) == 2


@pytest.mark.parametrize(
    "text, words",
    [
        ('{"shots": [{"prompt": "a ball", "duration_s": 2},]}', "is not valid JSON (line 1"),
        ("", "is not valid JSON"),
        ('{"shots": []}', "has no shots"),
        ('{"subject": "a red ball"}', "misses the field 'shots'"),
        ('{"shots": [{"prompt": "a ball"}]}', "shots[0] misses the field 'duration_s'"),
        ('{"shots": [{"duration_s": 2}]}', "shots[0] misses the field 'prompt'"),
        ('{"shots": [{"prompt": "a", "duration_s": 2, "durations": 1}]}', "unknown field"),
        ('{"shots": [{"prompt": "a", "duration_s": "2"}]}', "duration_s must be a number"),
        ('{"shots": [{"prompt": "a", "duration_s": 100}, {"prompt": "b", "duration_s": 21}]}',
         "121 s in all"),
        ('{"shots": "a ball"}', "'shots' must be a list"),
        ("[1, 2]", "shots[0] must be an object"),
        ('{"shots": [{"prompt": "a", "duration_s": NaN}]}', "is not valid JSON"),
    ],
)  # fmt: skip
def test_bad_shots_files(tmp_path: Path, text: str, words: str) -> None:
    with pytest.raises(AvgenError) as info:
        read_shots_file(_file(tmp_path, text))
    assert words in str(info.value) and "\n" not in str(info.value)


def test_missing_shots_file(tmp_path: Path) -> None:
    with pytest.raises(AvgenError, match="does not exist"):
        read_shots_file(tmp_path / "nope.json")


def test_subject_carried_into_shots_that_do_not_name_it() -> None:
    prompts = carry_subject(
        [
            "a small red ball bouncing in a grass field",
            "then it is sliding to the left",
            "the ball spinning",
            "a big blue ball falling",
            "it is rising",
        ]
    )
    parsed = [parse_prompt(p) for p in prompts]
    first = [p.objects[0] for p in parsed]
    assert [(o.colour, o.shape, o.size) for o in first] == [
        ("red", "circle", "small"),
        ("red", "circle", "small"),  # named nothing: the subject's words
        ("red", "circle", "small"),  # named the shape: colour and size added
        ("blue", "circle", "large"),  # a prompt changes the subject...
        ("blue", "circle", "large"),  # ...from then on
    ]
    assert [o.motion for o in first] == ["bounce", "move", "spin", "fall", "rise"]
    assert all(p.scene == "grass" for p in parsed)  # the scene carries on too
    assert prompts[1].startswith("small red circle") and "then it" not in prompts[1]


def test_another_shape_is_a_new_subject() -> None:
    prompts = carry_subject(["a small red ball bouncing", "a square sliding left", "it spins"])
    objs = [parse_prompt(p).objects[0] for p in prompts]
    assert [(o.colour, o.shape, o.size) for o in objs] == [
        ("red", "circle", "small"),
        (None, "square", None),  # not a red square: the ball's colour is not the square's
        (None, "square", None),
    ]


def test_subject_caption_starts_the_subject() -> None:
    prompts = carry_subject(["bouncing", "spinning"], subject="a large green square")
    assert [(o.colour, o.shape, o.size) for o in (parse_prompt(p).objects[0] for p in prompts)] == [
        ("green", "square", "large"),
        ("green", "square", "large"),
    ]


def test_sound_words_and_sound_prompts() -> None:
    assert sound_words("a red ball bouncing, with a gentle piano melody") == "a gentle piano melody"
    assert sound_words("a red ball bouncing") is None
    story = story_from_prompts(
        ["a red ball bouncing", "it spins, with rain sounds", "it grows"], [1, 1, 1],
        sounds=[None, None, "a bright marimba"],
    )  # fmt: skip
    # shot 1 has none: the next sound given; shot 3 its own sound
    assert sound_prompts(story) == ["rain sounds", "rain sounds", "a bright marimba"]


def test_shot_frames_round_once() -> None:
    assert shot_frames([1.0, 1.0, 1.0], 8) == [8, 8, 8]
    assert sum(shot_frames([1 / 3] * 9, 8)) == 24  # no drift over many shots
    with pytest.raises(AvgenError, match="shorter than one frame"):
        shot_frames([1.0, 0.01], 8)
    assert MAX_STORY_SECONDS == 120.0


@pytest.mark.parametrize(
    "settings, words",
    [
        ({"shots": "a ball"}, "'shots' must be a list"),
        ({}, "'shots' are missing"),
        ({"shots": [{"prompt": "a ball", "duration_s": 1}], "frobnicate": 1}, "not one 'story'"),
        ({"shots": [{"prompt": "a ball"}]}, "misses the field 'duration_s'"),
    ],
)
def test_hand_edited_story_sidecars(tmp_path: Path, settings: dict, words: str) -> None:
    from avgen import api

    sidecar = tmp_path / "s.mp4.json"
    record = {"format": 1, "output": "s.mp4", "command": "story", "prompt": None, "seed": 0,
              "settings": settings, "model_id": None}  # fmt: skip
    sidecar.write_text(json.dumps(record))
    with pytest.raises(AvgenError) as info:
        api.rerun(sidecar)
    assert words in str(info.value) and "\n" not in str(info.value)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.mp4.json"]
