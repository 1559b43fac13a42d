"""Dataclass configs and the renamed config keys: old config.json files, keyword arguments and
training metadata written with avgen 0.1's names load into the same models."""

import dataclasses
import json
import os
from pathlib import Path

import pytest
import torch

from avgen.audio.clap import CLAP, CLAPConfig
from avgen.audio.denoiser import AudioDenoiser, DenoiserConfig
from avgen.audio.vae import MelVAE, MelVAEConfig
from avgen.audio.vocoder import Vocoder, VocoderConfig
from avgen.errors import AvgenError
from avgen.modeling import RENAMED_KEYS, upgrade_config
from avgen.video.dit import DiTConfig, VideoDiT
from avgen.video.vae import VideoVAE, VideoVAEConfig

MODELS = Path(__file__).resolve().parents[2] / "avgen" / "models"
DATA = Path(__file__).resolve().parent / "v01_configs"  # shipped config.json of avgen 0.1
SHIPPED = {
    "audio/denoiser": AudioDenoiser,
    "audio/vae": MelVAE,
    "audio/vocoder": Vocoder,
    "audio/clap": CLAP,
    "video/dit": VideoDiT,
    "video/vae": VideoVAE,
}
# tiny configs in today's names, with values off the defaults so a lost key shows
TINY = {
    AudioDenoiser: dict(hidden_size=32, num_layers=1, num_heads=2, patch_size=4, latent_freq=8),
    VideoDiT: dict(hidden_size=32, num_layers=1, num_heads=2, text_dim=16),
    MelVAE: dict(block_out_channels=(4, 8, 8), layers_per_block=2, latent_channels=4),
    VideoVAE: dict(hidden_channels=8, stem_channels=4, layers_per_block=2, latent_channels=4),
    Vocoder: dict(hidden_size=16, num_layers=2, mlp_ratio=2),
    CLAP: dict(block_out_channels=(4, 8), embed_dim=16),
}


def old_names(cls: type, fields: dict) -> dict:
    back = {new: old for old, new in RENAMED_KEYS[cls.__name__].items()}
    return {back.get(k, k): v for k, v in fields.items()}


def seeded(cls: type, **kwargs):
    torch.manual_seed(0)
    return cls(**kwargs)


@pytest.mark.parametrize("name", sorted(SHIPPED))
def test_old_shipped_config_loads_the_same_model(tmp_path, name):
    cls = SHIPPED[name]
    old = json.loads((DATA / f"{name.replace('/', '_')}_v0.1.json").read_text())
    assert set(old) & set(RENAMED_KEYS[cls.__name__])  # it really uses old names
    # fields added after 0.1 (the denoiser's note_dim, the DiT's layout_dim) keep the shipped
    # value, since the shipped weights hold those inputs
    current = json.loads((MODELS / name / "config.json").read_text())
    renamed = set(RENAMED_KEYS[cls.__name__].values())
    for key in ("note_dim", "layout_dim"):
        if key in current and key not in old and key not in renamed:
            old[key] = current[key]
    folder = tmp_path / "old"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps(old))
    os.symlink(MODELS / name / "model.safetensors", folder / "model.safetensors")
    shipped = cls.from_pretrained(MODELS / name)
    loaded = cls.from_pretrained(folder)
    assert loaded.config == shipped.config
    assert not set(loaded.config) & set(RENAMED_KEYS[cls.__name__])
    for (ka, va), (kb, vb) in zip(shipped.state_dict().items(), loaded.state_dict().items()):
        assert ka == kb and torch.equal(va, vb)


def test_shipped_configs_use_todays_names():
    for name, cls in SHIPPED.items():
        config = json.loads((MODELS / name / "config.json").read_text())
        assert config["_class"] == cls.__name__
        assert not set(config) & set(RENAMED_KEYS[cls.__name__])
        assert set(config) - {"_class", "_avgen_version"} == set(cls.config_class().to_dict())


@pytest.mark.parametrize("cls", list(TINY), ids=lambda c: c.__name__)
def test_old_keyword_names_build_the_same_model(cls):
    new = seeded(cls, **TINY[cls])
    old = seeded(cls, **old_names(cls, TINY[cls]))
    assert old.config == new.config
    for (ka, va), (kb, vb) in zip(new.state_dict().items(), old.state_dict().items()):
        assert ka == kb and torch.equal(va, vb)


@pytest.mark.parametrize("cls", list(TINY), ids=lambda c: c.__name__)
def test_config_object_json_round_trip(tmp_path, cls):
    config = cls.config_class(**TINY[cls])
    model = seeded(cls, **TINY[cls])
    assert seeded(cls, config=config).config == model.config == config
    model.save_pretrained(tmp_path / "m")
    saved = json.loads((tmp_path / "m" / "config.json").read_text())
    assert {k: v for k, v in saved.items() if not k.startswith("_")} == config.to_dict()
    loaded = cls.from_pretrained(tmp_path / "m")
    assert loaded.config == config
    assert cls.config_class.from_dict(old_names(cls, config.to_dict())) == config


def test_old_config_json_folder_loads(tmp_path):
    model = seeded(AudioDenoiser, **TINY[AudioDenoiser]).eval()
    with torch.no_grad():
        for p in model.parameters():  # off the zero init, so the output is not trivially 0
            p.normal_(0.0, 0.1)
    model.save_pretrained(tmp_path / "m")
    path = tmp_path / "m" / "config.json"
    cfg = json.loads(path.read_text())
    path.write_text(json.dumps(old_names(AudioDenoiser, cfg)))
    assert "dim" in json.loads(path.read_text())
    loaded = AudioDenoiser.from_pretrained(tmp_path / "m")
    assert loaded.config == model.config
    x = torch.randn(1, 8, 8, 12)  # (B, latent_channels, latent_freq, frames)
    cond = {**model.null_condition(1), "tempo": torch.tensor([90.0])}
    with torch.no_grad():
        assert torch.equal(
            loaded(x, torch.tensor([0.3]), cond), model(x, torch.tensor([0.3]), cond)
        )


def test_old_gpu_tool_metadata_builds_a_dit():
    meta = {"latent_channels": 4, "hidden_size": 32, "depth": 1, "num_heads": 2}
    assert VideoDiT(**meta).config.num_layers == 1


def test_both_names_and_unknown_keys_are_refused(tmp_path):
    with pytest.raises(AvgenError, match="both 'hidden_size' and its old name 'dim'"):
        AudioDenoiser(dim=32, hidden_size=32)
    with pytest.raises(TypeError):
        Vocoder(widht=3)
    folder = tmp_path / "bad"
    Vocoder(hidden_size=8, num_layers=1).save_pretrained(folder)
    cfg = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**cfg, "widht": 3}))
    with pytest.raises(AvgenError, match="does not fit Vocoder"):
        Vocoder.from_pretrained(folder)
    with pytest.raises(TypeError, match="takes a VocoderConfig"):
        Vocoder(MelVAEConfig())


def test_upgrade_config_leaves_other_keys_and_classes_alone():
    assert upgrade_config("VideoDiT", {"depth": 2, "hidden_size": 8}) == {
        "num_layers": 2,
        "hidden_size": 8,
    }
    assert upgrade_config("Other", {"depth": 2}) == {"depth": 2}


def test_config_reads_as_a_mapping_and_replaces_fields():
    config = DenoiserConfig(hidden_size=64)
    assert config["hidden_size"] == 64 and dict(config)["num_layers"] == 6
    assert "dim" not in config and len(config) == len(dataclasses.fields(config))
    with pytest.raises(KeyError):
        config["dim"]
    model = AudioDenoiser(config, num_layers=1)
    assert model.config.num_layers == 1 and model.config.hidden_size == 64
    assert config.num_layers == 6  # the caller's config is not changed
    assert DiTConfig(patch_size=[1, 2, 2]).patch_size == (1, 2, 2)
    assert json.loads(json.dumps(CLAPConfig().to_dict()))["block_out_channels"] == [
        32,
        64,
        128,
        128,
    ]
    assert VocoderConfig.model_name == "Vocoder" and VideoVAEConfig.model_name == "VideoVAE"


def test_mel_vae_downsampling_factor():
    vae = MelVAE(**TINY[MelVAE]).eval()
    assert vae.temporal_factor == vae.freq_factor == 4 and vae.latent_freq == 16
    for frames in (1, 8, 10, 13):
        mean, _ = vae.encode(torch.zeros(1, 1, 64, frames))
        assert mean.shape[-2:] == (vae.latent_freq, vae.latent_frames(frames))
        assert vae.decode(mean).shape[-1] == vae.temporal_factor * mean.shape[-1]
