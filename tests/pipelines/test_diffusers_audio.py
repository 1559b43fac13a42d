"""Local diffusers audio folders (AudioLDM, AudioLDM 2, Stable Audio) behind avgen's CLI and API.

Tiny random-weight pipelines (tests/pipelines/tiny_diffusers.py) run end to end: WAV written,
sidecar + rerun, CLAP-ranked candidates, dtype and GPU switches, one-sentence errors and no
partial files. The network is refused for the whole module.
"""

from __future__ import annotations

import json
import socket
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from avgen import api, cli
from avgen.errors import AvgenError
from avgen.pipelines.diffusers_audio import DiffusersAudioPipeline

sys.path.insert(0, str(Path(__file__).resolve().parent))  # tiny_diffusers lives beside us
import tiny_diffusers as tiny  # noqa: E402

FAMILIES = ("AudioLDMPipeline", "AudioLDM2Pipeline", "StableAudioPipeline")
CHANNELS = {"AudioLDMPipeline": 1, "AudioLDM2Pipeline": 1, "StableAudioPipeline": 2}


@pytest.fixture(scope="module")
def folders(tmp_path_factory: pytest.TempPathFactory, one_thread: None) -> dict[str, Path]:
    return tiny.tiny_audio_folders(tmp_path_factory)


@pytest.fixture(autouse=True)
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("a network connection was attempted")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


def run_cli(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exc:
        cli.main(argv)
    out, err = capsys.readouterr()
    return int(exc.value.code), out, err


def one_sentence(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip() and "Warning" not in line]
    assert len(lines) == 1 and lines[0].startswith("avgen: "), err
    assert "Traceback" not in err
    return lines[0]


# ----------------------------------------------------------------------------- end to end


@pytest.mark.parametrize("name", FAMILIES)
def test_cli_writes_wav_sidecar_and_rerun_replays_it(
    name: str, folders: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "bell.wav"
    argv = ["audio", "a soft bell for 1 second", "--model", str(folders[name]), "--steps", "2"]
    code, stdout, err = run_cli(argv + ["-o", str(out), "--preview", "--seed", "3"], capsys)
    assert code == 0, err
    assert stdout.strip() == str(out)
    assert "audio:" in err and "step" in err  # the tqdm bar (not --quiet)
    audio, sr = sf.read(out, always_2d=True)
    assert sr == 16000 and audio.shape == (16000, CHANNELS[name])  # the prompt's 1 second
    assert np.abs(audio).max() <= 0.99 + 1e-4
    assert (tmp_path / "bell.wav.png").stat().st_size > 0
    record = json.loads((tmp_path / "bell.wav.json").read_text())
    settings = record["settings"]
    assert record["seed"] == 3 and record["command"] == "audio"
    assert name in record["model_id"]
    assert settings["audio_length_in_s"] == 1.0 and settings["num_inference_steps"] == 2
    assert settings["vocoder"] == "pipeline" and settings["model"] == str(folders[name])
    assert settings["cpu_offload"] is False and settings["vae_tiling"] is False
    assert record["tempo_bpm"] is None and record["clap_scores"] == [0.0]
    again = tmp_path / "again.wav"
    code, _, err = run_cli(["rerun", str(tmp_path / "bell.wav.json"), "-o", str(again)], capsys)
    assert code == 0, err
    assert again.read_bytes() == out.read_bytes()


def test_defaults_seeds_and_negative_prompt(folders: dict[str, Path], tmp_path: Path) -> None:
    pipe = api.audio_pipeline(folders["AudioLDMPipeline"], "cpu", dtype="fp32")
    assert isinstance(pipe, DiffusersAudioPipeline)
    assert pipe.config["num_inference_steps"] == 10 and pipe.config["guidance_scale"] == 2.5
    assert pipe.window_plan(3.0) == [(0, 188)]  # one window: 3 s / 16 ms frames

    def make(seed: int, negative: str | None = None) -> np.ndarray:
        g = torch.Generator().manual_seed(seed)
        r = pipe("rain on a roof", negative, 2, 3.0, 1.0, g)
        assert r.audio.shape == (16000,) and r.audio.dtype == np.float32
        return r.audio

    a = make(0)
    assert np.array_equal(a, make(0))
    assert not np.allclose(a, make(1))
    assert not np.allclose(a, make(0, "loud wind"))


def test_batch_and_default_duration(folders: dict[str, Path], tmp_path: Path) -> None:
    paths = api.text_to_audio(
        "drums",
        tmp_path / "d.wav",
        model=folders["StableAudioPipeline"],
        num_inference_steps=2,
        audio_length_in_s=1.5,
        batch=2,
        quiet=True,
    )
    assert [p.name for p in paths] == ["d_0.wav", "d_1.wav"]
    first, second = (sf.read(p)[0] for p in paths)
    assert first.shape == (24000, 2) and not np.allclose(first, second)
    assert json.loads((tmp_path / "d_1.wav.json").read_text())["seed"] == 1
    with pytest.raises(AvgenError, match=r"between 1 and 2\.048 seconds, got 4"):
        api.text_to_audio("drums", tmp_path / "e.wav", model=folders["StableAudioPipeline"])
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "d_0.wav", "d_0.wav.json", "d_1.wav", "d_1.wav.json",
    ]  # fmt: skip


@pytest.mark.parametrize(
    "name, ranker", [("AudioLDM2Pipeline", "pipeline CLAP"), ("AudioLDMPipeline", "avgen CLAP")]
)
def test_candidates_keep_the_clap_best(
    name: str, ranker: str, folders: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    pipe = api.audio_pipeline(folders[name], "cpu", dtype="fp32")
    seen: dict[str, np.ndarray] = {}
    call = type(pipe.pipe).__call__

    def spy(self: object, **kwargs: object) -> object:
        assert kwargs["num_waveforms_per_prompt"] == 3
        out = call(self, **kwargs)
        seen["audios"] = np.asarray(out.audios)
        return out

    monkeypatch.setattr(type(pipe.pipe), "__call__", spy)
    r = pipe("a piano", num_inference_steps=2, audio_length_in_s=1.0, num_candidates=3,
             generator=torch.Generator().manual_seed(0))  # fmt: skip
    assert r.settings["ranker"] == ranker and r.settings["num_candidates"] == 3
    candidates = seen["audios"][:, :16000]
    scores = pipe.rank("a piano", candidates)
    assert r.clap_scores == sorted(r.clap_scores, reverse=True)
    assert np.allclose(r.clap_scores, sorted(scores, reverse=True), atol=1e-5)
    assert all(-1.0 <= s <= 1.0 for s in r.clap_scores)
    best = pipe.peak_limit(candidates[int(np.argmax(scores))])
    assert np.allclose(r.audio, best, atol=1e-6)


def test_cli_candidates_recorded(
    folders: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "c.wav"
    argv = ["audio", "birds", "--model", str(folders["StableAudioPipeline"]), "--steps", "2"]
    argv += ["--duration", "1", "--candidates", "2", "-o", str(out), "--quiet"]
    code, _, err = run_cli(argv, capsys)
    assert code == 0, err
    record = json.loads((tmp_path / "c.wav.json").read_text())
    assert record["settings"]["candidates"] == 2 and len(record["clap_scores"]) == 2


# ----------------------------------------------------------------------------- dtype, GPU switches


def test_bf16_loads_bf16_weights_and_the_cache_keys_on_options(
    folders: dict[str, Path], tmp_path: Path
) -> None:
    folder = folders["AudioLDM2Pipeline"]
    api.text_to_audio("wind", tmp_path / "w.wav", model=folder, dtype="bf16",
                      num_inference_steps=2, audio_length_in_s=1.0, quiet=True)  # fmt: skip
    assert sf.read(tmp_path / "w.wav")[0].shape == (16000,)
    assert json.loads((tmp_path / "w.wav.json").read_text())["settings"]["dtype"] == "bf16"
    bf16 = api.audio_pipeline(folder, "cpu", dtype="bf16")
    assert bf16.pipe.unet.dtype == torch.bfloat16
    assert api.audio_pipeline(folder, "cpu", dtype="bf16") is bf16
    assert api.audio_pipeline(folder, "cpu", dtype="fp32") is not bf16
    assert api.audio_pipeline(folder, "cpu", dtype="fp32").pipe.unet.dtype == torch.float32


def test_vae_switches(folders: dict[str, Path], tmp_path: Path) -> None:
    pipe = api.audio_pipeline(folders["AudioLDMPipeline"], "cpu", dtype="fp32", vae_slicing=True,
                              vae_tiling=True)  # fmt: skip
    assert pipe.pipe.vae.use_slicing and pipe.pipe.vae.use_tiling
    folder = folders["StableAudioPipeline"]
    api.text_to_audio("bell", tmp_path / "t.wav", model=folder, vae_tiling=True,
                      num_inference_steps=1, audio_length_in_s=1.0, quiet=True)  # fmt: skip
    pipe = api.audio_pipeline(folder, "cpu", dtype="fp32", cpu_offload=False, vae_slicing=False,
                              vae_tiling=True)  # fmt: skip
    assert pipe.pipe.vae.use_tiling and not pipe.pipe.vae.use_slicing  # Oobleck tiles in time
    record = json.loads((tmp_path / "t.wav.json").read_text())
    assert record["settings"]["vae_tiling"] is True


def test_gpu_switches_warn_on_avgen_models(monkeypatch: pytest.MonkeyPatch) -> None:
    from avgen.pipelines.text_to_audio import default_audio_model_dir

    loaded = object()  # stands in for the shipped model: nothing is loaded
    key = ("audio", str(default_audio_model_dir().resolve()), "cpu")
    monkeypatch.setitem(api._PIPELINES, key, loaded)
    with pytest.warns(UserWarning, match="apply to diffusers model folders only"):
        assert api.audio_pipeline(None, "cpu", dtype="fp32", cpu_offload=True) is loaded
    with pytest.raises(AvgenError, match="vae_tiling must be True or False"):
        api.gpu_options({"vae_tiling": "yes"})


@pytest.mark.parametrize(
    "flags, message",
    [
        (["--dtype", "fp16"], "fp16 is not supported on the CPU"),
        (["--cpu-offload"], "cpu_offload needs a GPU device"),
        (["--duration", "3"], "between 1 and 2.048 seconds"),
        (["--candidates", "17"], "candidates must be"),
    ],
)
def test_bad_options_are_one_sentence_and_write_nothing(
    flags: list[str], message: str, folders: dict[str, Path], tmp_path: Path, capsys
) -> None:
    out = tmp_path / "out" / "x.wav"
    argv = ["audio", "a bell", "--model", str(folders["StableAudioPipeline"]), "-o", str(out)]
    code, _, err = run_cli(argv + flags, capsys)
    assert code == 2
    assert message in one_sentence(err)
    assert not out.exists() and not out.with_name("x.wav.json").exists()


def test_unsupported_inputs(folders: dict[str, Path], tmp_path: Path) -> None:
    pipe = api.audio_pipeline(folders["AudioLDMPipeline"], "cpu", dtype="fp32")
    with pytest.raises(AvgenError, match="vocoder must be 'pipeline'"):
        pipe.check_inputs("a bell", 2, 3.0, 1.0, 1, "griffin-lim")
    with pytest.raises(AvgenError, match="init audio, inpainting"):
        pipe("a bell", audio_length_in_s=1.0, init_audio=np.zeros(16000, np.float32))


def test_lora_adapter_merges_into_the_unet(folders: dict[str, Path], tmp_path: Path) -> None:
    from diffusers import UNet2DConditionModel
    from peft import LoraConfig

    from avgen.lora import UNET_TARGETS, base_signature, inject_lora, write_adapter

    folder = folders["AudioLDMPipeline"]
    unet = UNet2DConditionModel.from_pretrained(folder / "unet")
    base = {**base_signature(unet), "path": str(folder)}
    config = LoraConfig(r=2, lora_alpha=2, target_modules=UNET_TARGETS, init_lora_weights=False)
    inject_lora(unet, config)
    adapter = write_adapter(tmp_path / "adapter", unet, config, {"base": base}, "# tiny\n")
    common = dict(model=folder, num_inference_steps=2, audio_length_in_s=1.0, quiet=True)
    api.text_to_audio("a bell", tmp_path / "plain.wav", **common)
    api.text_to_audio("a bell", tmp_path / "tuned.wav", lora=str(adapter), **common)
    plain, tuned = sf.read(tmp_path / "plain.wav")[0], sf.read(tmp_path / "tuned.wav")[0]
    assert plain.shape == tuned.shape and not np.allclose(plain, tuned)
    record = json.loads((tmp_path / "tuned.wav.json").read_text())
    assert record["settings"]["lora"] == str(adapter)
    with pytest.raises(AvgenError, match="fit the UNet of AudioLDM"):
        DiffusersAudioPipeline.from_pretrained(folders["StableAudioPipeline"], lora=adapter)


# ----------------------------------------------------------------------------- broken folders


def test_missing_weights_is_one_error_naming_the_file(
    folders: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tiny.copy_folder(folders["AudioLDMPipeline"], tmp_path / "ldm")
    (folder / "unet" / "diffusion_pytorch_model.safetensors").unlink()
    out = tmp_path / "o" / "x.wav"
    code, _, err = run_cli(["audio", "a bell", "--model", str(folder), "-o", str(out)], capsys)
    assert code == 2
    line = one_sentence(err)
    assert "unet/diffusion_pytorch_model.safetensors is missing" in line
    assert not out.exists() and list(out.parent.iterdir()) == []


def test_unsupported_pipeline_class(
    folders: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tiny.copy_folder(folders["StableAudioPipeline"], tmp_path / "sd")
    tiny.edit_model_index(folder, _class_name="WanPipeline")
    code, _, err = run_cli(["audio", "a bell", "--model", str(folder), "-o",
                            str(tmp_path / "x.wav")], capsys)  # fmt: skip
    assert code == 2
    line = one_sentence(err)
    assert "WanPipeline" in line
    for name in FAMILIES:
        assert name in line


def test_published_audioldm2_layout_loads(folders: dict[str, Path], tmp_path: Path) -> None:
    """Published AudioLDM 2 folders list a bare GPT2Model, which diffusers 0.42 cannot drive."""
    folder = tiny.as_published_audioldm2(folders["AudioLDM2Pipeline"], tmp_path / "published")
    pipe = DiffusersAudioPipeline.from_pretrained(folder)
    assert type(pipe.pipe.language_model).__name__ == "GPT2LMHeadModel"
    r = pipe("a bell", num_inference_steps=1, audio_length_in_s=1.0)
    assert r.audio.shape == (16000,) and np.isfinite(r.audio).all()
    tts = tiny.copy_folder(folders["AudioLDM2Pipeline"], tmp_path / "tts")
    tiny.edit_model_index(tts, text_encoder_2=["transformers", "VitsModel"])
    with pytest.raises(AvgenError, match="text-to-speech"):
        DiffusersAudioPipeline.from_pretrained(tts)


def test_stable_audio_cosine_scheduler_needs_torchsde(tmp_path: Path) -> None:
    """The published Stable Audio Open scheduler needs torchsde; without it: one clear error."""
    import importlib.util

    folder = tiny.build_tiny_stable_audio(tmp_path / "sa", scheduler="cosine")
    if importlib.util.find_spec("torchsde") is not None:
        pipe = DiffusersAudioPipeline.from_pretrained(folder)
        assert pipe("a bell", num_inference_steps=2, audio_length_in_s=1.0).audio.shape[-1] == 16000
        return
    with pytest.raises(AvgenError, match=r"needs the Python package 'torchsde'"):
        DiffusersAudioPipeline.from_pretrained(folder)
