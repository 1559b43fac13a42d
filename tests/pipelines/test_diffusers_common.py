"""Shared diffusers plumbing: folder checks, dtype and device options, offline loading, progress."""

from __future__ import annotations

import json
import socket
import sys
from pathlib import Path

import pytest
import torch

from avgen.errors import AvgenError
from avgen.pipelines import diffusers_common as dc

sys.path.insert(0, str(Path(__file__).resolve().parent))  # tiny_diffusers lives beside us
import tiny_diffusers as tiny  # noqa: E402

AUDIO = {"AudioLDMPipeline": "AudioLDM", "StableAudioPipeline": "Stable Audio Open"}


@pytest.fixture(scope="module")
def folders(tmp_path_factory: pytest.TempPathFactory, one_thread: None) -> dict[str, Path]:
    return tiny.tiny_audio_folders(tmp_path_factory)


@pytest.fixture(autouse=True)
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any attempt to open a network connection fails the test."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("a network connection was attempted")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


# ----------------------------------------------------------------------------- folders


def test_is_diffusers_folder(folders: dict[str, Path], tmp_path: Path) -> None:
    from avgen.pipelines.text_to_audio import default_audio_model_dir

    assert dc.is_diffusers_folder(folders["AudioLDMPipeline"])
    assert dc.is_diffusers_folder(str(folders["StableAudioPipeline"]))
    assert not dc.is_diffusers_folder(tmp_path)
    assert not dc.is_diffusers_folder(None)
    assert not dc.is_diffusers_folder(folders["AudioLDMPipeline"] / "model_index.json")
    assert not dc.is_diffusers_folder(default_audio_model_dir())


def test_read_model_index(folders: dict[str, Path], tmp_path: Path) -> None:
    index = dc.read_model_index(folders["AudioLDMPipeline"])
    assert index["_class_name"] == "AudioLDMPipeline"
    assert dc.components(index)["unet"] == ("diffusers", "UNet2DConditionModel")
    (tmp_path / "model_index.json").write_text("{not json")
    with pytest.raises(AvgenError, match="not valid JSON"):
        dc.read_model_index(tmp_path)
    (tmp_path / "model_index.json").write_text(json.dumps({"unet": ["diffusers", "X"]}))
    with pytest.raises(AvgenError, match="_class_name"):
        dc.read_model_index(tmp_path)
    with pytest.raises(AvgenError, match="does not exist"):
        dc.read_model_index(tmp_path / "nowhere")


def test_components_skip_absent_optional_ones() -> None:
    index = {"_class_name": "P", "_diffusers_version": "0", "a": ["diffusers", "M"]}
    index["safety_checker"] = [None, None]
    assert dc.components(index) == {"a": ("diffusers", "M")}
    assert dc.component_kind("DDIMScheduler") == "scheduler"
    assert dc.component_kind("T5TokenizerFast") == "tokenizer"
    assert dc.component_kind("ClapFeatureExtractor") == "processor"
    assert dc.component_kind("AutoencoderKL") == "model"


def test_complete_folders_pass_the_file_check(folders: dict[str, Path]) -> None:
    for folder in folders.values():
        dc.check_component_files(folder, dc.read_model_index(folder))


@pytest.mark.parametrize(
    "remove, named",
    [
        ("unet/diffusion_pytorch_model.safetensors", "unet/diffusion_pytorch_model.safetensors"),
        ("text_encoder/model.safetensors", "text_encoder/model.safetensors"),
        ("vae/config.json", "vae/config.json"),
        ("scheduler/scheduler_config.json", "scheduler/scheduler_config.json"),
        ("vocoder", "vocoder is missing"),
    ],
)
def test_a_missing_file_is_named(
    folders: dict[str, Path], tmp_path: Path, remove: str, named: str
) -> None:
    import shutil

    folder = tiny.copy_folder(folders["AudioLDMPipeline"], tmp_path / "ldm")
    target = folder / remove
    shutil.rmtree(target) if target.is_dir() else target.unlink()
    with pytest.raises(AvgenError, match="is missing") as exc:
        dc.check_component_files(folder, dc.read_model_index(folder))
    assert named in str(exc.value)
    assert "AudioLDMPipeline" in str(exc.value)


def test_tokenizer_files_and_weight_shards_are_checked(
    folders: dict[str, Path], tmp_path: Path
) -> None:
    folder = tiny.copy_folder(folders["AudioLDMPipeline"], tmp_path / "ldm")
    for f in (folder / "tokenizer").iterdir():
        f.unlink()
    with pytest.raises(AvgenError, match="tokenizer/tokenizer_config.json is missing"):
        dc.check_component_files(folder, dc.read_model_index(folder))
    folder = tiny.copy_folder(folders["AudioLDMPipeline"], tmp_path / "sharded")
    unet = folder / "unet"
    (unet / "diffusion_pytorch_model.safetensors").rename(unet / "part-1.safetensors")
    shards = {"weight_map": {"a": "part-1.safetensors", "b": "part-2.safetensors"}}
    (unet / "diffusion_pytorch_model.safetensors.index.json").write_text(json.dumps(shards))
    with pytest.raises(AvgenError, match="unet/part-2.safetensors is missing"):
        dc.check_component_files(folder, dc.read_model_index(folder))


# ----------------------------------------------------------------------------- options


def test_torch_dtype_and_load_options() -> None:
    assert dc.torch_dtype("fp32") is torch.float32
    assert dc.torch_dtype("fp16") is torch.float16
    assert dc.torch_dtype("bf16") is torch.bfloat16
    with pytest.raises(AvgenError, match="fp32, fp16, bf16"):
        dc.torch_dtype("int8")
    dc.check_load_options("cpu", "bf16", False)
    with pytest.raises(AvgenError, match="fp16 is not supported on the CPU"):
        dc.check_load_options("cpu", "fp16", False)
    with pytest.raises(AvgenError, match="cpu_offload needs a GPU"):
        dc.check_load_options("cpu", "fp32", True)


def test_offline_holds_the_hub_offline_and_restores_it(tmp_path: Path) -> None:
    import huggingface_hub
    import huggingface_hub.constants as hub

    before = hub.HF_HUB_OFFLINE
    with dc.offline():
        assert hub.HF_HUB_OFFLINE is True
        with pytest.raises(Exception) as exc:  # refused at once, never a connection attempt
            huggingface_hub.hf_hub_download("avgen/none", "config.json", cache_dir=tmp_path)
        assert "network connection was attempted" not in str(exc.value)
    assert hub.HF_HUB_OFFLINE == before


# ----------------------------------------------------------------------------- loading


def test_load_runs_offline_on_the_requested_dtype(folders: dict[str, Path]) -> None:
    pipe = dc.load_diffusers_pipeline(
        folders["AudioLDMPipeline"], dtype="bf16", vae_slicing=True, allowed=AUDIO
    )
    assert type(pipe).__name__ == "AudioLDMPipeline"
    assert pipe.unet.dtype == torch.bfloat16
    assert pipe.vae.use_slicing and not pipe.vae.use_tiling


def test_unsupported_class_lists_the_supported_ones(
    folders: dict[str, Path], tmp_path: Path
) -> None:
    folder = tiny.copy_folder(folders["AudioLDMPipeline"], tmp_path / "x")
    tiny.edit_model_index(folder, _class_name="StableDiffusionPipeline")
    with pytest.raises(AvgenError) as exc:
        dc.load_diffusers_pipeline(folder, allowed=AUDIO)
    msg = str(exc.value)
    assert "StableDiffusionPipeline" in msg
    assert "AudioLDMPipeline (AudioLDM)" in msg and "StableAudioPipeline" in msg
    with pytest.raises(AvgenError, match="no model_index.json"):
        dc.load_diffusers_pipeline(tmp_path, allowed=AUDIO)


def test_a_class_diffusers_lacks_is_a_clear_error(folders: dict[str, Path], tmp_path: Path) -> None:
    folder = tiny.copy_folder(folders["AudioLDMPipeline"], tmp_path / "x")
    tiny.edit_model_index(folder, _class_name="NoSuchAudioPipeline")
    with pytest.raises(AvgenError, match="has no NoSuchAudioPipeline"):
        dc.load_diffusers_pipeline(folder, allowed={"NoSuchAudioPipeline": "future"})


def test_load_errors_become_one_sentence() -> None:
    err = dc._load_error(
        Path("m"),
        "StableAudioPipeline",
        ImportError(
            "\nCosineDPMSolverMultistepScheduler requires the torchsde library but it was not "
            "found in your environment. You can install it with pip: `pip install torchsde`\n"
        ),
    )
    assert str(err) == (
        "cannot load the StableAudioPipeline folder m: its CosineDPMSolverMultistepScheduler "
        "needs the Python package 'torchsde', which is not installed (pip install torchsde)."
    )
    err = dc._load_error(Path("m"), "P", ValueError("bad\nshape"))
    assert "\n" not in str(err) and "ValueError: bad shape" in str(err)


# ----------------------------------------------------------------------------- helpers


class _NewStyle:
    def __call__(self, prompt: str, num_inference_steps: int = 30, callback_on_step_end=None):
        for i in range(num_inference_steps):
            if callback_on_step_end is not None:
                assert callback_on_step_end(self, i, 999 - i, {"latents": 0}) == {}


class _OldStyle:
    def __call__(self, prompt: str, guidance_scale: float = 2.5, callback=None, callback_steps=5):
        for i in range(3):
            if callback is not None and i % callback_steps == 0:
                callback(i, 999 - i, None)


class _NoHook:
    def __call__(self, prompt: str) -> None:
        pass


def test_progress_adapter_reports_steps_done() -> None:
    seen: list[tuple[int, int]] = []
    kwargs = dc.progress_kwargs(_NewStyle(), lambda i, n: seen.append((i, n)), 4)
    assert set(kwargs) == {"callback_on_step_end"}
    _NewStyle()("x", num_inference_steps=4, **kwargs)
    assert seen == [(1, 4), (2, 4), (3, 4), (4, 4)]
    seen.clear()
    kwargs = dc.progress_kwargs(_OldStyle(), lambda i, n: seen.append((i, n)), 2)
    assert kwargs["callback_steps"] == 1
    _OldStyle()("x", **kwargs)
    assert seen == [(1, 2), (2, 2), (2, 2)]  # clamped at the total
    assert dc.progress_kwargs(_NoHook(), lambda i, n: None, 3) == {}
    assert dc.progress_kwargs(_OldStyle(), None, 3) == {}


def test_call_defaults() -> None:
    assert dc.call_defaults(_NewStyle(), "num_inference_steps", "guidance_scale") == {
        "num_inference_steps": 30,
        "guidance_scale": None,
    }
    assert dc.call_defaults(_OldStyle(), "guidance_scale") == {"guidance_scale": 2.5}


def test_vae_options_warn_where_the_vae_lacks_them() -> None:
    class Vae:
        use_tiling = False

        def enable_tiling(self) -> None:
            self.use_tiling = True

    class Pipe:
        vae = Vae()

    assert dc.enable_vae_option(Pipe(), "tiling") is True
    assert Pipe.vae.use_tiling
    with pytest.warns(UserWarning, match="vae_slicing has no effect"):
        assert dc.enable_vae_option(Pipe(), "slicing") is False
    with pytest.warns(UserWarning, match="no VAE"):
        dc.enable_vae_option(_NoHook(), "tiling")
