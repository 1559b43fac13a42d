"""avgen.export: the shipped audio model as a diffusers folder, loaded back by diffusers and avgen.

One export of the shipped model (through the CLI) is shared by the module; every check compares
a loaded piece against avgen's own: weights bit for bit, the scheduler's sigmas against
``timestep_schedule``, the transformers text encoder against ``avgen.text.TextEncoder``, and the
audio of ``AvgenAudioPipeline`` against ``TextToAudioPipeline`` for the same seed.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from diffusers import FlowMatchEulerDiscreteScheduler
from safetensors.torch import load_file

from avgen import cli, export
from avgen.diffusion.flow import timestep_schedule
from avgen.errors import AvgenError
from avgen.export import AvgenAudioPipeline, load_exported, read_index, to_avgen_folder
from avgen.pipelines.text_to_audio import (
    DEFAULTS,
    TextToAudioPipeline,
    default_audio_model_dir,
    shared_text_encoder,
)

SHIPPED = default_audio_model_dir()


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("export") / "avgen-audio-diffusers"
    assert cli.run(["export", "audio", "--format", "diffusers", str(out)]) == 0
    return out


@pytest.fixture(scope="module")
def dpipe(exported: Path, one_thread: None) -> AvgenAudioPipeline:
    pipe = AvgenAudioPipeline.from_pretrained(str(exported))
    pipe.set_progress_bar_config(disable=True)
    return pipe


@pytest.fixture(scope="module")
def avgen_pipe(one_thread: None) -> TextToAudioPipeline:
    return TextToAudioPipeline.from_pretrained()


def test_layout_names_diffusers_and_transformers_classes(exported: Path) -> None:
    index = read_index(exported)
    assert index["_class_name"] == "AvgenAudioPipeline"
    assert index["text_encoder"] == ["transformers", "BertModel"]
    assert index["tokenizer"][0] == "transformers"
    assert index["scheduler"] == ["diffusers", "FlowMatchEulerDiscreteScheduler"]
    for name, cls in export.WRAPPERS.items():
        assert index[name] == ["avgen.export", cls.__name__]
        assert (exported / name / "config.json").is_file()
    shipped = json.loads((SHIPPED / "pipeline.json").read_text())
    sched = json.loads((exported / "scheduler" / "scheduler_config.json").read_text())
    assert sched["shift"] == shipped["shift"] and not sched["use_dynamic_shifting"]
    assert index["num_inference_steps"] == shipped["num_inference_steps"]
    assert index["default_vocoder"] == shipped["vocoder"]
    assert (exported / "text_encoder" / "tokenizer.json").is_file()  # for avgen's TextEncoder
    assert not [p for p in exported.parent.iterdir() if ".tmp-" in p.name]


def test_wrappers_take_exactly_the_avgen_constructor_arguments() -> None:
    for cls in export.WRAPPERS.values():
        ours = {k: v for k, v in cls().config.items() if not k.startswith("_")}
        assert ours == cls.avgen_class.config_class().to_dict()


def test_avgen_weights_are_identical(exported: Path, dpipe: AvgenAudioPipeline) -> None:
    for name in export.WRAPPERS:
        src = load_file(str(SHIPPED / name / "model.safetensors"))
        out = load_file(str(exported / name / export.WEIGHTS_NAME))
        assert sorted(out) == sorted("model." + k for k in src)
        for k, v in src.items():
            assert out["model." + k].dtype == v.dtype and torch.equal(out["model." + k], v)
        loaded = getattr(dpipe, name).model.state_dict()
        assert all(torch.equal(loaded[k], v.float()) for k, v in src.items())
        assert next(getattr(dpipe, name).parameters()).dtype == torch.float32


def test_text_encoder_equals_avgen_text_encoder(exported: Path, dpipe: AvgenAudioPipeline) -> None:
    from avgen.text import TextEncoder

    prompt = "upbeat sitar melody over a tabla groove, " * 8  # longer than 64 tokens: truncated
    with pytest.warns(UserWarning, match="truncated"):
        ref = shared_text_encoder().encode([prompt])
    ours, _ = dpipe.encode_prompt(prompt, None, 1, torch.device("cpu"))
    assert ours["tokens"].shape == ref["tokens"].shape == (1, 64, 384)
    for key in ("tokens", "mask", "pooled"):
        torch.testing.assert_close(ours[key], ref[key], rtol=0, atol=1e-6)
    folder_encoder = TextEncoder(exported / "text_encoder").encode(["soft rain"])
    torch.testing.assert_close(
        folder_encoder["pooled"], shared_text_encoder().encode(["soft rain"])["pooled"]
    )


@pytest.mark.parametrize("shift", [1.0, 3.0])
def test_scheduler_reproduces_avgen_schedule_and_convention(exported: Path, shift: float) -> None:
    base = FlowMatchEulerDiscreteScheduler.from_pretrained(str(exported / "scheduler"))
    sched = FlowMatchEulerDiscreteScheduler.from_config(base.config, shift=shift)
    for n in (1, 4, 10, 25):
        sched.set_timesteps(sigmas=np.linspace(1.0, 1.0 / n, n))  # avgen's grid, before shift
        ref = timestep_schedule(n, shift)
        if shift == 1.0:
            assert torch.equal(sched.sigmas, ref)
        torch.testing.assert_close(sched.sigmas, ref, rtol=0, atol=1e-6)
        torch.testing.assert_close(sched.timesteps, ref[:-1] * 1000, rtol=0, atol=1e-3)
    # x_t = (1 - t) x0 + t noise and v = noise - x0: an Euler step stays on the straight line
    g = torch.Generator().manual_seed(0)
    x0, noise = torch.randn(2, 8, 16, 10, generator=g), torch.randn(2, 8, 16, 10, generator=g)
    sched.set_timesteps(sigmas=np.linspace(1.0, 0.25, 4))
    for i, timestep in enumerate(sched.timesteps):
        t, t_next = sched.sigmas[i], sched.sigmas[i + 1]
        x_t = sched.scale_noise(x0, timestep[None], noise)
        torch.testing.assert_close(x_t, (1 - t) * x0 + t * noise)
        x_next = sched.step(noise - x0, timestep, x_t).prev_sample
        torch.testing.assert_close(x_next, (1 - t_next) * x0 + t_next * noise)


def test_diffusers_pipeline_makes_avgen_audio(
    exported: Path, dpipe: AvgenAudioPipeline, avgen_pipe: TextToAudioPipeline
) -> None:
    assert type(dpipe.text_encoder).__name__ == "BertModel"
    assert isinstance(dpipe.scheduler, FlowMatchEulerDiscreteScheduler)
    common = dict(num_inference_steps=2, audio_length_in_s=5.0, negative_prompt="loud noise")
    prompt = "upbeat piano melody at 120 BPM"  # two windows (overlap inpainting), tempo, CFG
    ours = dpipe(prompt, generator=torch.Generator().manual_seed(3), **common).audios
    ref = avgen_pipe(prompt, generator=torch.Generator().manual_seed(3), **common).audio
    assert ours.shape == (1, 80000) and np.abs(ref).max() > 0.01
    np.testing.assert_allclose(ours[0], ref, rtol=0, atol=1e-5)
    two = dict(num_inference_steps=2, guidance_scale=1.0, vocoder="neural")  # CLAP ranking
    ours = dpipe("a drum loop", num_waveforms_per_prompt=2, generator=torch.Generator(), **two)
    ref = avgen_pipe("a drum loop", num_candidates=2, generator=torch.Generator(), **two)
    assert ours.audios.shape == (2, 64000)
    np.testing.assert_allclose(ours.audios[0], ref.audio, rtol=0, atol=1e-5)


def test_load_exported_and_to_avgen_folder(
    exported: Path, avgen_pipe: TextToAudioPipeline, tmp_path: Path
) -> None:
    back = load_exported(exported)
    assert isinstance(back, TextToAudioPipeline)
    assert all(back.config[k] == avgen_pipe.config[k] for k in DEFAULTS)
    kw = dict(num_inference_steps=1, guidance_scale=2.0, audio_length_in_s=1.0)
    a = back("soft rain", generator=torch.Generator().manual_seed(1), **kw).audio
    b = avgen_pipe("soft rain", generator=torch.Generator().manual_seed(1), **kw).audio
    np.testing.assert_allclose(a, b, rtol=0, atol=1e-5)
    folder = to_avgen_folder(exported, tmp_path / "avgen-again")
    again = TextToAudioPipeline.from_pretrained(folder)
    for name in ("vae", "denoiser", "vocoder", "clap"):
        ref = getattr(avgen_pipe, name).state_dict()
        assert all(torch.equal(v, ref[k]) for k, v in getattr(again, name).state_dict().items())
    shared = shared_text_encoder()
    assert load_exported(exported, text_encoder=shared).text_encoder is shared
    with pytest.raises(AvgenError, match="not AvgenAudioPipeline|no model_index"):
        load_exported(SHIPPED)


def test_plain_diffusion_pipeline_loads_with_custom_pipeline_file(
    exported: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from diffusers import DiffusionPipeline
    from diffusers.utils import dynamic_modules_utils

    monkeypatch.setattr(dynamic_modules_utils, "HF_MODULES_CACHE", str(tmp_path / "modules"))
    monkeypatch.setattr(sys, "path", list(sys.path))
    pipe = DiffusionPipeline.from_pretrained(
        str(exported), custom_pipeline="pipeline", trust_remote_code=True
    )
    assert type(pipe) is AvgenAudioPipeline and type(pipe.vae).__name__ == "AvgenMelVAE"
    for name in [m for m in sys.modules if m.startswith("diffusers_modules")]:
        del sys.modules[name]  # the copied pipeline.py lived under tmp_path


# the pipeline.py that folders exported before AvgenAudioPipeline moved to
# avgen.pipelines.exported_audio carry, word for word
OLD_PIPELINE_CODE = '''"""This folder's pipeline class, avgen's (avgen must be installed), for
DiffusionPipeline.from_pretrained(folder, custom_pipeline="pipeline", trust_remote_code=True)."""

from avgen.export import AvgenAudioPipeline

__all__ = ["AvgenAudioPipeline"]
'''


def test_folder_exported_with_the_old_pipeline_file_still_loads(
    exported: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from diffusers import DiffusionPipeline
    from diffusers.utils import dynamic_modules_utils

    from avgen import api

    old = tmp_path / "old-export"
    old.mkdir()
    for item in exported.iterdir():
        if item.name != "pipeline.py":
            (old / item.name).symlink_to(item)
    (old / "pipeline.py").write_text(OLD_PIPELINE_CODE)
    monkeypatch.setattr(dynamic_modules_utils, "HF_MODULES_CACHE", str(tmp_path / "modules"))
    monkeypatch.setattr(sys, "path", list(sys.path))
    pipe = DiffusionPipeline.from_pretrained(
        str(old), custom_pipeline="pipeline", trust_remote_code=True
    )
    assert type(pipe) is AvgenAudioPipeline and type(pipe.denoiser).__name__ == "AvgenAudioDenoiser"
    for name in [m for m in sys.modules if m.startswith("diffusers_modules")]:
        del sys.modules[name]  # the copied pipeline.py lived under tmp_path
    monkeypatch.setattr(api, "_PIPELINES", {})
    assert isinstance(api.audio_pipeline(old), TextToAudioPipeline)  # avgen's own loader
    assert isinstance(load_exported(old), TextToAudioPipeline)


def test_cli_errors_and_no_partial_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "out"
    with pytest.raises(AvgenError, match="'avgen export video' is not available"):
        cli.run(["export", "video", "--format", "diffusers", str(out)])
    with pytest.raises(AvgenError, match="format 'onnx' is not available"):
        cli.run(["export", "audio", "--format", "onnx", str(out)])
    with pytest.raises(AvgenError, match="--format"):
        cli.run(["export", "audio", str(out)])
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("x")
    with pytest.raises(AvgenError, match="already exists"):
        cli.run(["export", "audio", "--format", "diffusers", str(tmp_path / "full")])

    def broken_save(folder: str, **_: object) -> None:
        Path(folder).mkdir()
        (Path(folder) / "model_index.json").write_text("{}")
        raise RuntimeError("disk full")

    fake = SimpleNamespace(vae=None, denoiser=None, vocoder=None, clap=None)
    fake.save_pretrained = broken_save
    monkeypatch.setattr(export, "build_pipeline", lambda model=None: fake)
    with pytest.raises(RuntimeError, match="disk full"):
        cli.run(["export", "audio", "--format", "diffusers", str(out)])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["full"]


def test_avgen_audio_runs_an_exported_folder(exported: Path, tmp_path: Path) -> None:
    wav = tmp_path / "exported.wav"
    code = cli.run(
        ["audio", "a soft piano melody", "--model", str(exported), "-o", str(wav)]
        + ["--steps", "2", "--duration", "1", "--quiet"]
    )
    assert code == 0 and wav.is_file()
    side = json.loads(wav.with_name(wav.name + ".json").read_text())
    assert side["settings"]["model"] == str(exported)
    wav2 = tmp_path / "again.wav"
    assert cli.run(["rerun", str(wav.with_name(wav.name + ".json")), "-o", str(wav2)]) == 0
    assert wav2.read_bytes() == wav.read_bytes()


def test_folder_exported_with_old_config_names_still_loads(
    exported: Path, avgen_pipe: TextToAudioPipeline, tmp_path: Path
) -> None:
    """Folders exported by avgen 0.1 name the config fields dim / depth / heads / channels ...
    (``modeling.RENAMED_KEYS``): both loaders read them into the same models."""
    from avgen.modeling import RENAMED_KEYS

    old = tmp_path / "v01-export"
    shutil.copytree(exported, old)
    renamed = 0
    for name, cls in export.WRAPPERS.items():
        path = old / name / "config.json"
        config = json.loads(path.read_text())
        for before, now in RENAMED_KEYS[cls.avgen_class.__name__].items():
            config[before] = config.pop(now)
            renamed += 1
        path.write_text(json.dumps(config))
    assert renamed >= 8
    pipe = AvgenAudioPipeline.from_pretrained(str(old))
    back = load_exported(old)
    for name in ("vae", "denoiser", "vocoder", "clap"):
        ref = getattr(avgen_pipe, name).state_dict()
        for loaded in (getattr(pipe, name).model, getattr(back, name)):
            assert loaded.config == getattr(avgen_pipe, name).config
            assert all(torch.equal(v, ref[k]) for k, v in loaded.state_dict().items())
