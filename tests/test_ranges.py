"""The range table: numbers of any size and type give its sentence, never another exception."""

from __future__ import annotations

import pytest

from avgen.errors import AvgenError
from avgen.ranges import RANGES, check_range, spell


@pytest.mark.parametrize(
    "name, value",
    [
        ("seed", 10**400),
        ("seed", -(10**5000)),
        ("guidance", 10**400),
        ("duration", 10**400),
        ("tempo", -(10**400)),
        ("steps", float("inf")),
        ("steps", float("nan")),
        ("guidance", [1]),
        ("guidance", "1" * 10_000),
    ],
    ids=lambda v: v if isinstance(v, str) and len(v) < 20 else type(v).__name__,
)
def test_any_value_gives_the_range_sentence(name: str, value: object) -> None:
    with pytest.raises(AvgenError) as err:
        check_range(name, value)
    message = str(err.value)
    assert message.startswith(RANGES[name].name) and len(message) < 200


def test_spell_shortens_huge_numbers_and_long_text() -> None:
    assert spell(10**400) == "a number of about 401 digits"
    assert spell(-(10**400)) == "a negative number of about 401 digits"
    assert spell(12) == "12" and spell(1.5) == "1.5"
    assert spell("x" * 1000).endswith("(1002 characters)")


def test_tempo_range_is_more_than_0_and_at_most_300() -> None:
    assert check_range("tempo", 300) == 300 and check_range("tempo", 0.5) == 0.5
    with pytest.raises(AvgenError, match="tempo must be more than 0 and at most 300 BPM, got 0."):
        check_range("tempo", 0)
