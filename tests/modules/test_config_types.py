"""config.json with wrong types: one sentence naming the field and the type (issue 18)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from avgen.audio.vae import MelVAE, MelVAEConfig
from avgen.audio.vocoder import Vocoder
from avgen.errors import AvgenError


@pytest.fixture(scope="module")
def vocoder_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("vocoder")
    Vocoder(hidden_size=8, num_layers=1).save_pretrained(folder)
    return folder


@pytest.mark.parametrize(
    "key, value, words",
    [
        ("n_mels", "64", "'n_mels' must be a whole number, got '64'"),
        ("hidden_size", 8.5, "'hidden_size' must be a whole number, got 8.5"),
        ("num_layers", True, "'num_layers' must be a whole number, got True"),
        ("mlp_ratio", [3], "'mlp_ratio' must be a whole number, got [3]"),
        ("n_fft", None, "'n_fft' must be a whole number, got None"),
        ("widht", 3, "does not fit Vocoder: unknown field 'widht'"),
        ("hidden_size", 16, "model.safetensors does not fit"),
    ],
)
def test_wrong_field_is_one_sentence(vocoder_folder, tmp_path, key, value, words) -> None:
    folder = tmp_path / "v"
    folder.mkdir()
    (folder / "model.safetensors").write_bytes((vocoder_folder / "model.safetensors").read_bytes())
    config = json.loads((vocoder_folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**config, key: value}))
    with pytest.raises(AvgenError) as err:
        Vocoder.from_pretrained(folder)
    message = str(err.value)
    assert words in message and "not all arguments converted" not in message
    assert "config.json" in message


def test_tuple_fields_and_floats() -> None:
    with pytest.raises(AvgenError, match="'block_out_channels' must be a list of 3 whole numbers"):
        MelVAEConfig(block_out_channels=(16, 32))  # type: ignore[arg-type]
    with pytest.raises(AvgenError, match="'kl_weight' must be a finite number, got nan"):
        MelVAEConfig(kl_weight=float("nan"))
    assert MelVAEConfig(kl_weight=1, block_out_channels=[8, 8, 8]).block_out_channels == (8, 8, 8)
    assert MelVAE(latent_channels=4, block_out_channels=(8, 8, 8)).config.latent_channels == 4


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from avgen.export import export_audio

    folder = tmp_path_factory.mktemp("export") / "base"
    export_audio(folder)
    return folder


@pytest.mark.parametrize(
    "name, text, words",
    [
        ("vae/config.json", b"\xff{not json", "is not valid JSON"),
        ("denoiser/config.json", b"[1, 2]", "does not hold a JSON object"),
        ("vocoder/config.json", None, "has a field 'x' that vocoder does not take"),
        ("clap/config.json", b'{"_class_name": "AvgenCLAP", "init_temperature": -1}', "clap"),
        ("scheduler/scheduler_config.json", b'{"shift": "x"}', "'shift' must be a positive"),
    ],
)
def test_exported_folder_with_bad_configs(exported, tmp_path, name, text, words) -> None:
    """Before: UnicodeDecodeError, AttributeError, TypeError or ValueError tracebacks."""
    import shutil

    from avgen.export import load_exported

    folder = tmp_path / "e"
    shutil.copytree(exported, folder)
    if text is None:
        config = json.loads((folder / name).read_text())
        text = json.dumps({**config, "x": 1}).encode()
    (folder / name).write_bytes(text)
    with pytest.raises(AvgenError) as err:
        load_exported(folder)
    assert words in str(err.value)
