"""avgen.api: shared checks and output naming."""

from __future__ import annotations

from pathlib import Path

import pytest

from avgen import api
from avgen.errors import AvgenError


def test_output_paths_single_batch_and_prompts() -> None:
    assert api.output_paths("out/sax.wav", 1, 1) == [[Path("out/sax.wav")]]
    assert api.output_paths("sax.wav", 1, 3) == [[Path(f"sax_{i}.wav") for i in range(3)]]
    rows = api.output_paths("x.mp4", 2, 2)
    assert rows == [
        [Path("x_p0_0.mp4"), Path("x_p0_1.mp4")],
        [Path("x_p1_0.mp4"), Path("x_p1_1.mp4")],
    ]


def test_check_duration_bounds() -> None:
    assert api.check_duration(None) is None
    assert api.check_duration(600) == 600
    assert api.check_duration(0.5) == 0.5
    for bad in (0, -1, 600.01, float("nan"), "abc"):
        with pytest.raises(AvgenError):
            api.check_duration(bad)


def test_resolve_duration_flag_prompt_default() -> None:
    assert api.resolve_duration("piano for 10 seconds", 3.0) == (3.0, "flag")
    assert api.resolve_duration("piano for 10 seconds", None) == (10.0, "prompt")
    assert api.resolve_duration("piano", None) == (4.0, "default")


def test_check_prompt() -> None:
    assert api.check_prompt("  piano  ") == "piano"
    with pytest.raises(AvgenError):
        api.check_prompt("")
    with pytest.raises(AvgenError):
        api.check_prompt("x" * 5000)
