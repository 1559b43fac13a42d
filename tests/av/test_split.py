"""avgen.av.split: picture words and sound words of an AV prompt."""

from __future__ import annotations

from avgen.av.split import split_prompt


def test_picture_and_sound_words_go_their_ways() -> None:
    sp = split_prompt(
        "a red ball bouncing on a grass field, with a thud at every bounce, "
        "over a quiet marimba melody"
    )
    assert "red ball bouncing" in sp.video and "grass field" in sp.video
    assert "marimba" not in sp.video and "thud" not in sp.video
    assert "thud" in sp.audio and "marimba" in sp.audio
    assert sp.bed == "over a quiet marimba melody"  # the impacts are not in the bed
    assert sp.music is True


def test_a_clause_that_names_nothing_follows_its_neighbour() -> None:
    # ("as they land" would not do: the reader reads "land" as a motion, a picture word)
    sp = split_prompt("two blue boxes dropping in a city at night, with a thud every time")
    assert "every time" not in sp.bed and "every time" in sp.audio
    assert sp.impact == "thud"
    sp = split_prompt("a city at night with neon lights flickering, a white cube bouncing")
    assert "neon lights flickering" in sp.video and sp.audio == ""


def test_the_scene_gives_a_bed_when_no_sound_is_named() -> None:
    assert split_prompt("a yellow ball falling over the ocean").bed == "ocean waves"
    assert split_prompt("a green box bouncing on a grass field in falling rain").bed == "rain"
    assert split_prompt("a green box bouncing in a gray studio").bed == ""


def test_decimal_durations_stay_whole() -> None:
    sp = split_prompt("a red ball bouncing on the beach, 3.5 s, with a knock")
    assert "3.5 s" in sp.video


def test_overrides_replace_either_part() -> None:
    sp = split_prompt(
        "a red ball bouncing, with rain", video_prompt="a blue box falling",
        audio_prompt="soft piano music, a thud",
    )  # fmt: skip
    assert sp.video == "a blue box falling"
    assert sp.audio == "soft piano music, a thud"
    assert sp.bed == "soft piano music" and sp.music is True
