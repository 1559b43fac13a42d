"""Sidecars: written beside the output, read back, refused when foreign."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from avgen import __version__
from avgen.errors import AvgenError
from avgen.sidecar import read_sidecar, sidecar_path, write_sidecar


def test_sidecar_name_is_full_name_plus_json() -> None:
    assert sidecar_path("out/sax.wav") == Path("out/sax.wav.json")
    assert sidecar_path("ball.mp4").name == "ball.mp4.json"


def test_round_trip(tmp_path: Path) -> None:
    out = tmp_path / "sax.wav"
    path = write_sidecar(
        out,
        command="audio",
        prompt="upbeat jazz saxophone solo",
        seed=3,
        settings={"num_inference_steps": 20, "guidance_scale": 3.0},
        model_id="avgen/audio-v1",
        parsed={"instruments": ["saxophone"]},
    )
    record = read_sidecar(path)
    assert record["prompt"] == "upbeat jazz saxophone solo"
    assert record["seed"] == 3
    assert record["settings"]["num_inference_steps"] == 20
    assert record["avgen_version"] == __version__
    assert record["output"] == "sax.wav"
    assert not list(tmp_path.glob(".*.tmp"))


def test_foreign_and_missing(tmp_path: Path) -> None:
    with pytest.raises(AvgenError):
        read_sidecar(tmp_path / "nope.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(AvgenError):
        read_sidecar(bad)
    other = tmp_path / "other.json"
    other.write_text(json.dumps({"hello": 1}))
    with pytest.raises(AvgenError):
        read_sidecar(other)
