from __future__ import annotations

import pytest

from avgen.prompts import parse_prompt, reader
from avgen.prompts.colour_names import lab, read_colour_word


@pytest.fixture
def no_encoder(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(texts):
        raise AssertionError(f"the encoder was asked for {texts}")

    monkeypatch.setattr(reader, "_encode", refuse)


def test_table_name_is_read_without_the_encoder(no_encoder) -> None:
    p = parse_prompt("a tomato ball bouncing on a grass field")
    assert p.objects[0].colour == "red"
    hit = next(r for r in p.read_phrases if r["phrase"] == "tomato")
    assert (hit["category"], hit["key"], hit["match"]) == ("colour", "red", "tomato")
    assert 0.0 < hit["score"] <= 1.0


def test_coloured_and_ish_forms_strip_the_suffix() -> None:
    assert read_colour_word("gold")[1] == "yellow"
    assert read_colour_word("gold-coloured")[1] == "yellow"
    assert read_colour_word("goldish")[1] == "yellow"
    assert read_colour_word("orchid")[1] == "pink"


@pytest.mark.parametrize("word", ["gray", "grey", "black", "dimgray", "brown", "saddlebrown"])
def test_gray_black_and_brown_names_are_refused(word: str) -> None:
    assert read_colour_word(word) is None


def test_near_white_low_chroma_names_read_as_white() -> None:
    assert read_colour_word("snow")[1] == "white"


def test_lab_of_white_and_black() -> None:
    assert lab((255, 255, 255)) == pytest.approx((100.0, 0.0, 0.0), abs=0.1)
    assert lab((0, 0, 0)) == pytest.approx((0.0, 0.0, 0.0), abs=0.1)
