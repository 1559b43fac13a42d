"""``avgen rerun`` on hand-edited sidecars: one sentence naming the field, nothing written."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from avgen import api
from avgen.errors import AvgenError
from avgen.sidecar import read_sidecar

RECORD = {
    "format": 1,
    "output": "a.wav",
    "command": "audio",
    "prompt": "piano",
    "parsed_prompt": None,
    "seed": 0,
    "settings": {
        "negative_prompt": None,
        "num_inference_steps": 2,
        "guidance_scale": 5.0,
        "audio_length_in_s": 1.0,
        "batch": 1,
        "preview": False,
        "device": "cpu",
        "dtype": "fp32",
        "candidates": 1,
        "vocoder": "griffin-lim",
    },
    "model_id": "avgen/audio",
    "avgen_version": "0",
}


def edited(tmp_path: Path, **changes: object) -> Path:
    record = json.loads(json.dumps(RECORD))
    for key, value in changes.items():
        if key.startswith("settings_"):
            record["settings"][key.removeprefix("settings_")] = value
        else:
            record[key] = value
    path = tmp_path / "a.wav.json"
    path.write_text(json.dumps(record))
    return path


@pytest.mark.parametrize(
    "changes, words",
    [
        ({"seed": "7"}, "'seed' must be a whole number"),
        ({"seed": 1.5}, "'seed' must be a whole number"),
        ({"seed": 10**30}, "seed must be a whole number from 0 to"),
        ({"settings_num_inference_steps": [20]}, "steps must be a whole number"),
        ({"settings_guidance_scale": "high"}, "guidance must be a number"),
        ({"settings_unknown_key": 1}, "setting 'unknown_key' is not one 'audio' takes"),
        ({"settings_prompt": "x"}, "setting 'prompt' is not one 'audio' takes"),
        ({"settings_check_only": True}, "setting 'check_only' is not one 'audio' takes"),
        ({"settings_model": [1]}, "model must be a file or folder path"),
        ({"output": "../../escaped.wav"}, "'output' must be a file name in the sidecar's folder"),
        ({"output": "/tmp/abs.wav"}, "'output' must be a file name in the sidecar's folder"),
        ({"output": 3}, "'output' must be a file name"),
        ({"prompt": ["piano"]}, "'prompt' must be text or null"),
        ({"prompt": None}, "'prompt' must be text, got None"),
        ({"command": ["audio"]}, "'command' must be a command name"),
        ({"command": "serve"}, "rerun cannot replay"),
        ({"settings": [1, 2]}, "'settings' must be an object of settings"),
        ({"format": "1"}, "'format' must be 1"),
    ],
)
def test_hand_edited_sidecar_is_one_sentence(tmp_path: Path, changes: dict, words: str) -> None:
    path = edited(tmp_path, **changes)
    with pytest.raises(AvgenError) as err:
        api.rerun(path)
    assert words in str(err.value), err.value
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.wav.json"]
    assert not (tmp_path.parent / "escaped.wav").exists()


@pytest.mark.parametrize(
    "text",
    [
        '{"command": "audio", "settings": {}, "seed": NaN}',
        '{"command": "audio", "settings": {}, "seed": Infinity}',
        '{"command": "audio", "settings": {}, "seed": ' + "9" * 5000 + "}",
        "[" * 100_000 + "]" * 100_000,
    ],
    ids=["nan", "infinity", "5000-digit", "deep"],
)
def test_non_standard_json_is_no_sidecar(tmp_path: Path, text: str) -> None:
    path = tmp_path / "s.json"
    path.write_text(text)
    with pytest.raises(AvgenError, match="is not a JSON sidecar"):
        read_sidecar(path)


def test_binary_sidecar_is_no_sidecar(tmp_path: Path) -> None:
    path = tmp_path / "s.json"
    path.write_bytes(b"\xff\xfe{}")
    with pytest.raises(AvgenError, match="is not a JSON sidecar"):
        read_sidecar(path)


def test_a_sidecar_with_no_output_needs_o(tmp_path: Path) -> None:
    record = {k: v for k, v in RECORD.items() if k != "output"}
    path = tmp_path / "s.json"
    path.write_text(json.dumps(record))
    with pytest.raises(AvgenError, match="records no output name; give one with -o"):
        api.rerun(path)
