"""Tests for avgen.prompts: builders, parser (every vocab table), linter, durations."""

from __future__ import annotations

import pytest

from avgen import vocab
from avgen.errors import AvgenError
from avgen.prompts import (
    build_audio_prompt,
    build_video_prompt,
    check_duration,
    lint_prompt,
    parse_prompt,
    read_model_vocabulary,
)

CONTRACT_KEYS = [
    "text", "kind", "duration_s", "tempo_bpm", "tempo_class", "time", "camera", "scene",
    "particles", "objects", "styles", "instruments", "drums", "patterns", "pitch_direction",
    "mode", "register", "dynamics", "fades", "effects", "sound_effects", "genres", "raga",
    "raga_words", "unknown_words", "read_phrases", "recognised", "rewritten",
]  # fmt: skip
OBJECT_KEYS = ["count", "colour", "shape", "size", "motion", "direction", "speed"]


def parse(text: str) -> dict:
    """The vocabulary-only parse (these tests pin the lexicon; tests/prompts has the reader's)."""
    return parse_prompt(text, read=False).to_dict()


def pairs(table: dict) -> list[tuple[object, str]]:
    """(canonical key, word) for every word of a vocab table."""
    out = []
    for key, value in table.items():
        words = value if isinstance(value, tuple) else value.words
        out += [(key, w) for w in words]
    return out


def the_object(text: str) -> dict:
    objects = parse(text)["objects"]
    assert len(objects) == 1, objects
    return objects[0]


# ----------------------------------------------------------------------------- schema


def test_to_dict_has_exactly_the_contract_keys():
    d = parse("two red balls bouncing with a piano melody")
    assert list(d) == CONTRACT_KEYS
    assert list(d["objects"][0]) == OBJECT_KEYS
    empty = parse("")
    assert empty["kind"] is None and empty["time"] == "normal" and empty["camera"] == "static"
    assert empty["objects"] == [] and empty["unknown_words"] == []


# ----------------------------------------------------------------------------- every table


@pytest.mark.parametrize("key,word", pairs(vocab.COLOURS))
def test_colour_words(key, word):
    assert the_object(f"a {word} ball")["colour"] == key


@pytest.mark.parametrize("key,word", pairs(vocab.SHAPES))
def test_shape_words_singular_and_plural(key, word):
    obj = the_object(f"a red {word} bouncing")
    assert (obj["shape"], obj["motion"], obj["count"]) == (key, "bounce", 1)
    plural = word + ("es" if word.endswith(("x", "s")) else "s")
    obj = the_object(f"two red {plural}")
    assert (obj["shape"], obj["count"]) == (key, 2)


@pytest.mark.parametrize("key,word", pairs(vocab.SIZE_WORDS))
def test_size_words(key, word):
    assert the_object(f"a {word} red ball")["size"] == key


@pytest.mark.parametrize("key,word", pairs(vocab.SCENES))
def test_scene_words(key, word):
    d = parse(f"a red ball bouncing in the {word}")
    assert (d["scene"], d["mode"], d["kind"]) == (key, None, "video")


@pytest.mark.parametrize("key,word", pairs(vocab.PARTICLES))
def test_particle_words(key, word):
    d = parse(f"a red ball bouncing, {word}")
    assert d["particles"] == [key]
    assert d["objects"][0]["motion"] == "bounce"  # "falling snow" is no motion of the ball


@pytest.mark.parametrize("key,word", pairs(vocab.MOTIONS))
def test_motion_words(key, word):
    assert the_object(f"a red ball {word}")["motion"] == key


@pytest.mark.parametrize("direction", vocab.DIRECTIONS)
def test_directions(direction):
    obj = the_object(f"a red ball moving {direction}")
    assert (obj["motion"], obj["direction"]) == ("move", direction)
    assert the_object(f"a blue cube going {direction}")["motion"] == "move"


@pytest.mark.parametrize("key,word", pairs(vocab.SPEED_WORDS))
def test_speed_words(key, word):
    obj = the_object(f"a red ball moving {word}")
    assert (obj["speed"], obj["motion"]) == (key, "move")


@pytest.mark.parametrize("key,word", pairs(vocab.CAMERA))
def test_camera_words(key, word):
    assert parse(f"a red ball on a grass field, {word}")["camera"] == key


@pytest.mark.parametrize("key,word", pairs(vocab.TIME_WORDS))
def test_time_words(key, word):
    d = parse(f"a red ball bouncing {word}")
    assert d["time"] == key
    assert d["objects"][0]["speed"] == "normal"


@pytest.mark.parametrize("word", vocab.STYLE_WORDS)
def test_style_words(word):
    d = parse(f"a red ball bouncing, {word}")
    assert d["styles"] == [word] and d["kind"] == "video"


@pytest.mark.parametrize("word,count", vocab.COUNT_WORDS.items())
def test_count_words(word, count):
    assert the_object(f"{word} red balls")["count"] == count


@pytest.mark.parametrize("key,word", pairs(vocab.INSTRUMENTS) + pairs(vocab.RAGA_INSTRUMENTS))
def test_instrument_words(key, word):
    d = parse(f"a {word} melody")
    assert d["instruments"] == [key] and d["kind"] == "audio"


@pytest.mark.parametrize("key,word", pairs(vocab.DRUM_PATTERNS))
def test_drum_words(key, word):
    assert parse(f"a piano melody with a {word}")["drums"] == key


@pytest.mark.parametrize("key,word", pairs(vocab.PATTERNS))
def test_pattern_words(key, word):
    d = parse(f"a piano {word}")
    assert d["patterns"] == [key]
    assert d["pitch_direction"] == vocab.PATTERN_DIRECTION.get(key)
    assert d["objects"] == [] and d["styles"] == []


@pytest.mark.parametrize("key,word", pairs(vocab.MODES))
def test_mode_words(key, word):
    d = parse(f"a {word} piano melody")
    assert (d["mode"], d["scene"]) == (key, None)


@pytest.mark.parametrize("key,word", pairs(vocab.REGISTERS))
def test_register_words(key, word):
    d = parse(f"a {word} piano melody")
    assert (d["register"], d["instruments"], d["mode"]) == (key, ["piano"], None)


@pytest.mark.parametrize("key,word", pairs(vocab.TEMPO_WORDS))
def test_tempo_words(key, word):
    d = parse(f"a {word} piano melody")
    assert (d["tempo_class"], d["tempo_bpm"], d["objects"]) == (key, None, [])


@pytest.mark.parametrize("key,word", pairs(vocab.DYNAMICS))
def test_dynamics_words(key, word):
    assert parse(f"a {word} piano melody")["dynamics"] == key


@pytest.mark.parametrize("key,word", pairs(vocab.FADES))
def test_fade_words(key, word):
    assert parse(f"a piano melody {word}")["fades"] == [key]


@pytest.mark.parametrize("key,word", pairs(vocab.EFFECTS))
def test_effect_words(key, word):
    d = parse(f"a piano melody {word}")
    assert d["effects"] == [key] and d["dynamics"] is None and d["objects"] == []


@pytest.mark.parametrize("key,word", pairs(vocab.SOUND_EFFECTS))
def test_sound_effect_words(key, word):
    d = parse(f"the sound of {word}")
    assert d["sound_effects"] == [key] and d["kind"] == "audio"


@pytest.mark.parametrize("key,word", pairs(vocab.GENRES))
def test_genre_words(key, word):
    d = parse(f"{word} music")
    assert d["genres"] == [key] and d["kind"] == "audio"


@pytest.mark.parametrize("word", vocab.RAGA_WORDS)
def test_raga_words(word):
    d = parse(f"{word}, slow tempo")
    assert d["raga_words"] == [word] and d["kind"] == "audio"
    assert d["raga"] == (word if word in vocab.RAGAS else None)


def test_raga_instrument_synonym_is_a_raga_word():
    d = parse("Raga Bhairav on the shehnai over a drone, alap")
    assert d["instruments"] == ["shanai"] and d["raga"] == "bhairav"
    assert d["raga_words"] == ["raga", "bhairav", "shanai", "drone", "alap"]
    assert d["patterns"] == ["sustained"]


# ----------------------------------------------------------------------------- the lesson


def test_lesson_jazz_prompt():
    d = parse("upbeat jazz saxophone solo with reverb")
    assert d["genres"] == ["jazz"] and d["instruments"] == ["saxophone"]
    assert d["patterns"] == ["melody"] and d["effects"] == ["reverb"]
    assert d["tempo_class"] == "fast" and d["kind"] == "audio" and d["unknown_words"] == []


LESSON_AMBIENT = (
    "Ethereal ambient synth with rising arpeggios and soft reverb, 30 seconds at 120 BPM"
)


def test_lesson_ambient_prompt():
    d = parse(LESSON_AMBIENT)
    assert d["instruments"] == ["synth pad"] and d["genres"] == ["ambient"]
    assert d["patterns"] == ["rising arpeggio"] and d["pitch_direction"] == "rising"
    assert d["effects"] == ["reverb"] and d["dynamics"] is None
    assert (d["duration_s"], d["tempo_bpm"], d["tempo_class"]) == (30.0, 120.0, "fast")
    assert d["objects"] == [] and d["kind"] == "audio" and d["unknown_words"] == []


def test_lesson_cat_prompt():
    d = parse("A cat chasing a laser pointer for 10 seconds in slow motion")
    assert d["duration_s"] == 10.0 and d["time"] == "slow_motion" and d["kind"] == "video"
    assert d["unknown_words"] == ["cat", "chasing", "laser", "pointer"]
    assert d["objects"] == []


def test_lesson_tokyo_prompt():
    d = parse(
        "Aerial drone shot of Tokyo at dusk, bustling streets with neon lights flickering, "
        "cinematic 4K"
    )
    assert d["styles"] == ["aerial", "drone shot", "cinematic", "4k"]
    assert d["raga_words"] == [] and d["patterns"] == [] and d["genres"] == []
    assert d["kind"] == "video"
    assert {"tokyo", "dusk", "streets"} <= set(d["unknown_words"])


def test_lesson_snow_prompt():
    d = parse(
        "Snowy mountain peak, avalanche cascading down in slow motion, dramatic wide-angle "
        "shot, Pixar-inspired"
    )
    assert d["scene"] == "snow" and d["time"] == "slow_motion" and d["kind"] == "video"
    assert d["styles"] == ["dramatic", "wide-angle", "pixar-inspired"]
    assert d["unknown_words"] == ["peak", "avalanche", "cascading"]


# ----------------------------------------------------------------------------- durations, tempo


@pytest.mark.parametrize(
    "text,seconds",
    [
        ("a red ball bouncing for 10 seconds", 10.0),
        ("rain, 30 s", 30.0),
        ("rain 30s", 30.0),
        ("a piano melody, 2 minutes", 120.0),
        ("a piano melody, 1.5 min", 90.0),
        ("a 10-second clip of a red ball", 10.0),
        ("90 sec of ocean waves", 90.0),
        ("ten seconds of rain", 10.0),
        ("a red ball bouncing, cinematic 4K", None),
        ("3 sax players", None),
    ],
)
def test_duration_phrases(text, seconds):
    assert parse(text)["duration_s"] == seconds


@pytest.mark.parametrize(
    "text,bpm,tempo_class",
    [
        ("piano at 120 BPM", 120.0, "fast"),
        ("piano 120bpm", 120.0, "fast"),
        ("piano at 70 beats per minute", 70.0, "slow"),
        ("piano at 100 BPM", 100.0, "moderate"),
        ("piano at 175 BPM", 175.0, "fast"),  # nearest class
        ("piano at 40 BPM", 40.0, "slow"),
        ("slow piano at 150 BPM", 150.0, "fast"),  # the number wins over the word
    ],
)
def test_bpm(text, bpm, tempo_class):
    d = parse(text)
    assert (d["tempo_bpm"], d["tempo_class"], d["duration_s"]) == (bpm, tempo_class, None)


# ----------------------------------------------------------------------------- ambiguities


def test_longest_phrase_first():
    assert parse("an electric guitar riff")["instruments"] == ["electric guitar"]
    d = parse("a red ball on a grass field")
    assert d["scene"] == "grass" and d["unknown_words"] == []
    assert parse("a piano with rising arpeggios")["objects"] == []
    assert parse("a red ball, close-up")["objects"][0]["size"] == "large"
    assert parse("a piano melody in a large hall")["effects"] == ["hall"]


def test_dark_is_a_scene_with_objects_and_a_mode_in_music():
    d = parse("a red ball bouncing in the dark")
    assert (d["scene"], d["mode"]) == ("dark", None)
    d = parse("a dark piano melody")
    assert (d["scene"], d["mode"], d["kind"]) == (None, "minor", "audio")
    d = parse("a red ball bouncing on a dark background with a sad piano melody")
    assert (d["scene"], d["mode"], d["kind"]) == ("dark", "minor", "av")
    d = parse("a red ball bouncing with a piano melody, dark")  # AV, no clue: the scene
    assert (d["scene"], d["mode"]) == ("dark", None)
    assert parse("a piano melody, dark")["mode"] == "minor"


def test_drone_is_a_raga_word_in_audio_and_a_style_in_video():
    d = parse("a sitar drone")
    assert "drone" in d["raga_words"] and d["patterns"] == ["sustained"] and d["styles"] == []
    d = parse("aerial drone over the ocean at sunset")
    assert d["styles"] == ["aerial", "drone shot"] and d["raga_words"] == []


def test_circle_is_a_shape_and_circling_a_motion():
    obj = the_object("a red circle circling")
    assert (obj["shape"], obj["motion"]) == ("circle", "circle")


def test_bass_and_bassy():
    assert parse("a bass melody")["instruments"] == ["bass"]
    d = parse("a bassy piano melody")
    assert (d["instruments"], d["register"]) == (["piano"], "low")


def test_rising_is_a_motion_with_objects_and_a_pitch_direction_in_music():
    d = parse("a red ball rising")
    assert d["objects"][0]["motion"] == "rise" and d["pitch_direction"] is None
    d = parse("a rising piano melody")
    assert d["pitch_direction"] == "rising" and d["objects"] == []
    d = parse("a red ball bouncing with falling piano notes")
    assert d["objects"][0]["motion"] == "bounce" and d["pitch_direction"] == "falling"
    d = parse("a piano melody, a red ball, rising")  # a clause of its own: the object decides
    assert d["objects"][0]["motion"] == "rise" and d["pitch_direction"] is None
    assert parse("a piano melody, then rising")["pitch_direction"] == "rising"


def test_fast_is_a_speed_for_objects_and_a_tempo_for_music():
    d = parse("a red ball bouncing fast with a slow piano melody")
    assert d["objects"][0]["speed"] == "fast" and d["tempo_class"] == "slow"
    d = parse("a fast piano melody")
    assert d["tempo_class"] == "fast" and d["objects"] == []
    assert the_object("a slow red ball")["speed"] == "slow"


def test_ocean_and_rain_follow_the_medium():
    assert parse("a red ball on the ocean")["scene"] == "ocean"
    d = parse("the sound of the ocean")
    assert (d["scene"], d["sound_effects"]) == (None, ["ocean waves"])
    d = parse("a blue ball bouncing in the rain")
    assert (d["particles"], d["sound_effects"]) == (["rain"], [])
    assert parse("gentle rain")["sound_effects"] == ["rain"]


def test_kind():
    assert parse("a piano melody")["kind"] == "audio"
    assert parse("a red ball")["kind"] == "video"
    assert parse("a red ball bouncing to a piano melody")["kind"] == "av"
    assert parse("for 10 seconds")["kind"] is None
    assert parse("cinematic piano")["genres"] == ["cinematic"]
    assert parse("cinematic piano")["kind"] == "audio"


# ----------------------------------------------------------------------------- objects


def test_motion_after_two_objects_applies_to_both():
    objects = parse("a red ball and a blue square bouncing")["objects"]
    assert [(o["colour"], o["shape"], o["motion"]) for o in objects] == [
        ("red", "circle", "bounce"),
        ("blue", "square", "bounce"),
    ]


def test_motion_inside_a_chunk_applies_to_its_object():
    objects = parse("a red ball bouncing and a blue square spinning quickly")["objects"]
    assert [(o["motion"], o["speed"]) for o in objects] == [("bounce", "normal"), ("spin", "fast")]


def test_counts_sizes_and_directions():
    obj = the_object("two small yellow balls rolling left on a grass field, zooming in")
    assert obj == {
        "count": 2,
        "colour": "yellow",
        "shape": "circle",
        "size": "small",
        "motion": "move",
        "direction": "left",
        "speed": "normal",
    }
    assert the_object("a bouncing red ball")["motion"] == "bounce"
    assert the_object("close-up of two red balls")["size"] == "large"
    assert the_object("two yellow balls in a meadow bouncing")["motion"] == "bounce"


def test_three_objects_and_no_more():
    objects = parse("a small red ball, a large blue cube and a green triangle falling")["objects"]
    assert [o["shape"] for o in objects] == ["circle", "square", "triangle"]
    assert [o["size"] for o in objects] == ["small", "large", None]
    assert {o["motion"] for o in objects} == {"fall"}
    many = parse("a red ball, a blue cube, a green triangle and a pink disc")["objects"]
    assert len(many) == vocab.MAX_OBJECTS


def test_colour_without_known_shape_is_an_object():
    obj = the_object("a red car moving left")
    assert (obj["colour"], obj["shape"], obj["direction"]) == ("red", None, "left")
    assert parse("a red car moving left")["unknown_words"] == ["car"]


# ----------------------------------------------------------------------------- bad input


def test_bad_input():
    with pytest.raises(AvgenError):
        parse_prompt(None)  # type: ignore[arg-type]
    d = parse("Qwerty ZZZ qwerty!")
    assert d["unknown_words"] == ["qwerty", "zzz"] and d["kind"] is None


# ----------------------------------------------------------------------------- builders


def test_build_audio_prompt_as_in_the_lesson():
    details = "with rising arpeggios and soft reverb"
    text = build_audio_prompt("Ethereal ambient synth", details, 30, 120)
    assert text == LESSON_AMBIENT
    assert build_audio_prompt("Upbeat jazz") == "Upbeat jazz"
    assert build_audio_prompt("rain", duration_s=1.5) == "rain, 1.5 seconds"
    assert build_audio_prompt("rain", tempo_bpm=90) == "rain, at 90 BPM"
    d = parse(text)
    assert (d["duration_s"], d["tempo_bpm"]) == (30.0, 120.0)


def test_build_video_prompt_as_in_the_lesson():
    text = build_video_prompt(
        "Snowy mountain peak",
        "avalanche cascading down in slow motion",
        "dramatic wide-angle shot, Pixar-inspired",
    )
    assert text == (
        "Snowy mountain peak, avalanche cascading down in slow motion, dramatic wide-angle shot, "
        "Pixar-inspired"
    )
    assert build_video_prompt("A grass field", "", "cinematic") == "A grass field, cinematic"


@pytest.mark.parametrize(
    "call",
    [
        lambda: build_audio_prompt("  "),
        lambda: build_audio_prompt("jazz", duration_s=0),
        lambda: build_audio_prompt("jazz", duration_s=601),
        lambda: build_audio_prompt("jazz", tempo_bpm=0),
        lambda: build_video_prompt(""),
    ],
)
def test_builders_reject_bad_input(call):
    with pytest.raises(AvgenError):
        call()


# ----------------------------------------------------------------------------- durations


def test_check_duration():
    assert check_duration(600) == 600.0 and check_duration(0.5) == 0.5
    for bad in (0, -1, 600.5, float("nan"), float("inf")):
        with pytest.raises(AvgenError, match="duration must be more than 0 and at most 600"):
            check_duration(bad)
    with pytest.raises(AvgenError):
        check_duration("ten")  # type: ignore[arg-type]


# ----------------------------------------------------------------------------- linter


def test_lint_rejects_empty_prompt_and_bad_kind():
    for empty in ("", "   \n"):
        with pytest.raises(AvgenError, match="empty"):
            lint_prompt(empty)
    with pytest.raises(AvgenError, match="kind"):
        lint_prompt("piano", kind="image")


def test_lint_names_missing_audio_layers():
    report = lint_prompt("saxophone solo")
    assert report.kind == "audio"
    assert report.missing == ["genre/mood", "length/tempo"]
    assert report.suggestion == "Jazz saxophone solo, 4 seconds at 100 BPM"
    assert lint_prompt("upbeat jazz saxophone solo with reverb").missing == []


def test_lint_names_missing_video_layers():
    report = lint_prompt("a red ball")
    assert report.missing == ["scene", "motion", "style/camera"]
    d = parse(report.suggestion)
    assert d["scene"] and d["objects"][0]["motion"] and d["styles"]
    snow = "Snowy mountain peak, avalanche cascading down in slow motion, dramatic wide-angle shot"
    assert lint_prompt(snow).missing == []


@pytest.mark.parametrize(
    "text",
    [
        "saxophone solo",
        "rain",
        "a red ball",
        "a green ball bouncing",
        "a white cube",
        "a cat chasing a laser pointer",
        "a red ball bouncing with piano",
        "Aerial drone shot of Tokyo at dusk",
    ],
)
def test_lint_suggestion_fills_every_layer(text):
    report = lint_prompt(text)
    again = lint_prompt(report.suggestion, kind=report.kind)
    assert again.missing == [], (report.suggestion, again.missing)
    assert lint_prompt(text).to_dict() == report.to_dict()  # deterministic


def test_lint_suggested_scene_contrasts_with_the_objects():
    assert parse(lint_prompt("a green ball bouncing").suggestion)["scene"] != "grass"
    assert parse(lint_prompt("a white cube bouncing").suggestion)["scene"] != "snow"


def test_lint_kind_override_and_unknown_kind():
    audio = lint_prompt("a red ball", kind="audio")
    assert audio.missing == ["genre/mood", "details", "length/tempo"]
    report = lint_prompt("a cat chasing a laser pointer")
    assert report.kind == "video" and any("linted as video" in w for w in report.warnings)
    for odd in (".", "!!", "4K"):
        assert lint_prompt(odd).suggestion


def test_lint_warnings_and_format():
    report = lint_prompt("five red balls, EDM at 200 BPM, slow")
    text = " | ".join(report.warnings)
    assert "200 BPM is outside" in text and "disagree" in text and "5 objects" in text
    shown = lint_prompt("a cat on a beach").format()
    assert "[ ] motion" in shown and "[x] scene" in shown and "cat" in shown
    assert "suggestion:" in shown
    assert set(report.to_dict()) >= {"kind", "layers", "missing", "suggestion", "warnings"}


CARD = """# Tiny video model

Trained on MotionWorld.

## Vocabulary
- red, blue, ball, cube
- bouncing, `grass field`
* slow motion

## Training
green, triangle
"""


def test_lint_lists_words_the_model_never_learned(tmp_path):
    (tmp_path / "MODEL_CARD.md").write_text(CARD)
    (tmp_path / "video_dit").mkdir()
    assert read_model_vocabulary(tmp_path) == {
        "red", "blue", "ball", "cube", "bouncing", "grass field", "slow motion",
    }  # fmt: skip
    text = "two red balls bouncing on a grass field with a green triangle, in slow motion, 4K"
    for folder in (tmp_path, tmp_path / "video_dit"):
        report = lint_prompt(text, model_dir=folder)
        assert report.ignored_words == ["green", "triangle", "4k"]
        assert report.model_card == str(tmp_path / "MODEL_CARD.md")
        assert "will be ignored: green, triangle" in report.format()
    assert lint_prompt(text).ignored_words is None


def test_lint_model_card_errors(tmp_path):
    with pytest.raises(AvgenError, match="MODEL_CARD.md"):
        lint_prompt("a red ball", model_dir=tmp_path / "nowhere")
    (tmp_path / "MODEL_CARD.md").write_text("# A model\n\n## Training\nred\n")
    with pytest.raises(AvgenError, match="Vocabulary"):
        lint_prompt("a red ball", model_dir=tmp_path)


# ----------------------------------------------------------------------------- caption regressions


@pytest.mark.parametrize(
    "text, count, motion",
    [
        ("A big red square circles.", 1, "circle"),
        ("Two red squares circle around the centre.", 2, "circle"),
        ("Two balls slowly circle.", 2, "circle"),
        ("A red ball orbits.", 1, "circle"),
        ("A red box moves to the left.", 1, "move"),
        ("Two red boxes slide to the left.", 2, "move"),
        ("A ball glides right.", 1, "move"),
        ("Two balls drift left.", 2, "move"),
        ("A red ball rolls to the right.", 1, "move"),
        ("Two balls drop.", 2, "fall"),
        ("Two balls fall.", 2, "fall"),
        ("A ball floats up.", 1, "rise"),
        ("Two balls float up.", 2, "rise"),
        ("Two balls rise.", 2, "rise"),
        ("A block rotates.", 1, "spin"),
        ("Two blocks spin quickly.", 2, "spin"),
        ("A ball expands.", 1, "grow"),
        ("Two balls grow.", 2, "grow"),
        ("Two balls shrink.", 2, "shrink"),
        ("A ball rests.", 1, "still"),
        ("A cube sits still.", 1, "still"),
        ("Two cubes stand still.", 2, "still"),
    ],
)
def test_finite_motion_verbs(text, count, motion):
    p = parse_prompt(text)
    assert [(o.count, o.motion) for o in p.objects] == [(count, motion)], p.objects
    assert p.unknown_words == [] or p.unknown_words == ["centre"]


def test_circle_stays_a_shape_when_not_a_verb():
    p = parse_prompt("a red square and a blue circle bouncing")
    assert [(o.colour, o.shape, o.motion) for o in p.objects] == [
        ("red", "square", "bounce"),
        ("blue", "circle", "bounce"),
    ]
    assert [o.shape for o in parse_prompt("red squares, circles").objects] == ["square", "circle"]


def test_verb_forms_that_are_music_words_stay_out_of_audio_prompts():
    p = parse_prompt("an EDM track with a drop and a drum roll")
    assert p.kind == "audio" and p.objects == []


def test_bouncing_up_and_down_has_no_direction():
    p = parse_prompt("two big amber squares bouncing up and down quickly")
    (o,) = p.objects
    assert (o.motion, o.direction, o.speed) == ("bounce", None, "fast")
    assert parse_prompt("a ball bouncing to the left").objects[0].direction == "left"


def test_soft_background_music_is_not_the_clip_dynamics():
    p = parse_prompt("a ball falls with a thud, with soft music box music in the background")
    assert p.dynamics is None
    assert parse_prompt("soft music box melody").dynamics == "soft"


def test_bpm_tempo_class_is_the_nearest_class():
    from avgen.prompts import tempo_class_of

    assert [tempo_class_of(b) for b in (50, 84, 86, 114, 116, 175)] == [
        "slow",
        "slow",
        "moderate",
        "moderate",
        "fast",
        "fast",
    ]
    assert parse_prompt("drums at 175 BPM").tempo_class == "fast"


def test_particles_drifting_down_give_no_object_a_direction():
    p = parse_prompt("A large red pyramid slowly drifting up in the dark as snowfall drifts down")
    (o,) = p.objects
    assert (o.motion, o.direction, o.speed) == ("move", "up", "slow")
    assert p.particles == ["snow"]
    p = parse_prompt("a violet ball bouncing against snowy mountains as snowfall drifts down")
    assert p.objects[0].direction is None


def test_digit_like_characters_are_words_not_counts() -> None:
    """'²' and '³' pass str.isdigit() but are no numbers int() reads (found by schemathesis)."""
    assert parse_prompt("a ball ² bouncing ³").to_dict()["objects"]
    assert lint_prompt("a drum at ² ³", kind="audio").text == "a drum at ² ³"
