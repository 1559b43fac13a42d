"""LoRA fine-tuning (avgen.lora.train) and adapters (avgen.lora) on tiny models.

A tiny random avgen audio model and a tiny random AudioLDM (tests/pipelines/tiny_diffusers.py)
are fine-tuned for a few steps on a few rendered SoundWorld raga clips.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from avgen import cli
from avgen.audio import AudioDenoiser, MelVAE
from avgen.errors import AvgenError
from avgen.lora import (
    ADAPTER_CONFIG,
    ADAPTER_FILES,
    ADAPTER_RECORD,
    ADAPTER_WEIGHTS,
    apply_lora,
)
from avgen.lora.train import main
from avgen.pipelines.text_to_audio import TextToAudioPipeline
from avgen.worlds.dataset import write_world_dataset

sys.path.insert(0, str(Path(__file__).resolve().parent / "pipelines"))
import tiny_diffusers as tiny  # noqa: E402


class HashEncoder:
    """Deterministic stand-in for MiniLM at generation time (token states from word hashes)."""

    dim = 384

    def encode(self, prompts: list[str], max_length: int = 64) -> dict[str, torch.Tensor]:
        words = [p.split()[:max_length] or [""] for p in prompts]
        length = max(len(w) for w in words)
        tokens = torch.zeros(len(prompts), length, self.dim)
        for i, ws in enumerate(words):
            for j, w in enumerate(ws):
                seed = int(hashlib.sha256(w.encode()).hexdigest()[:8], 16)
                tokens[i, j] = torch.randn(self.dim, generator=torch.Generator().manual_seed(seed))
        mask = tokens.abs().sum(-1) > 0
        return {"tokens": tokens, "mask": mask, "pooled": torch.nn.functional.normalize(
            tokens.sum(1), dim=-1)}  # fmt: skip


def tiny_avgen_model(folder: Path, seed: int = 0, dim: int = 32) -> Path:
    torch.manual_seed(seed)
    vae = MelVAE(latent_channels=4, channels=(4, 8, 8))
    denoiser = AudioDenoiser(latent_channels=4, dim=dim, depth=1, heads=2, mlp_ratio=2.0)
    with torch.no_grad():  # like a trained model: no zero-initialised gates or output layer
        for param in denoiser.parameters():
            param.add_(0.05 * torch.randn(param.shape))
    cfg = {"num_inference_steps": 2, "window_s": 1.0, "overlap_s": 0.25, "vocoder": "griffin-lim"}
    TextToAudioPipeline(vae, None, denoiser, None, HashEncoder(), cfg).save_pretrained(folder)
    return folder


def tree_hash(folder: Path) -> str:
    h = hashlib.sha256()
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            h.update(path.name.encode() + path.read_bytes())
    return h.hexdigest()


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("lora")
    data = write_world_dataset(
        "audio", 4, root / "data", seed=5, instruments=["sitar", "shanai"], duration_s=1.0,
        workers=1, quiet=True,
    )  # fmt: skip
    rows = [json.loads(line) for line in (data / "metadata.jsonl").read_text().splitlines()]
    assert {r["kind"] for r in rows} == {"raga"} and {r["raga"] for r in rows} <= {
        "yaman",
        "bhairav",
    }
    return {"root": root, "data": data, "base": tiny_avgen_model(root / "base")}


def common(world: dict[str, Path], out: Path, *extra: str) -> list[str]:
    return [
        "--data", str(world["data"]), "--out", str(out), "--seconds", "1", "--batch-size", "2",
        "--log-every", "1", "--checkpoint-every", "1", "--lr", "1e-2", "--quiet", *extra,
    ]  # fmt: skip


def log_steps(out: Path) -> list[int]:
    rows = [json.loads(line) for line in (out / "train_log.jsonl").read_text().splitlines()]
    return [r["step"] for r in rows if "total" in r]


@pytest.fixture(scope="module")
def adapter(world: dict[str, Path], one_thread: None) -> Path:
    out = world["root"] / "adapter"
    before = tree_hash(world["base"])
    assert (
        main(common(world, out, "--base", str(world["base"]), "--rank", "2", "--steps", "2")) == 0
    )
    assert tree_hash(world["base"]) == before  # the base folder is never written
    return out


def test_finetune_trains_only_lora_and_resumes(world: dict[str, Path], adapter: Path) -> None:
    assert all((adapter / f).is_file() for f in ADAPTER_FILES)
    assert log_steps(adapter) == [1, 2]
    weights = load_file(str(adapter / ADAPTER_WEIGHTS))
    assert weights and all(k.endswith((".lora_A.weight", ".lora_B.weight")) for k in weights)
    assert all(".blocks.0." in k for k in weights)  # attention / MLP layers of the blocks only
    assert any(float(v.abs().max()) > 0 for k, v in weights.items() if "lora_B" in k)
    config = json.loads((adapter / ADAPTER_CONFIG).read_text())
    assert config["peft_type"] == "LORA" and config["r"] == 2
    record = json.loads((adapter / ADAPTER_RECORD).read_text())
    assert record["base"]["kind"] == "avgen" and record["training"]["steps"] == 2
    ckpt = torch.load(adapter / "checkpoints" / "lora" / "step_00000002.pt", weights_only=True)
    assert ckpt["model"] and all(".lora_" in k for k in ckpt["model"])  # no base weights
    # unmerged: every base tensor is the base's own, so only the LoRA matrices were trained
    base = AudioDenoiser.from_pretrained(world["base"] / "denoiser")
    fresh = AudioDenoiser.from_pretrained(world["base"] / "denoiser")
    apply_lora(base, adapter, merge=False)
    base_state = {k: v for k, v in base.state_dict().items() if "lora_" not in k}
    for key, value in fresh.state_dict().items():
        key = key if key in base_state else key.replace(".weight", ".base_layer.weight")
        key = key if key in base_state else key.replace(".bias", ".base_layer.bias")
        assert torch.equal(base_state[key], value)
    # resume continues from step 2; the same request again is skipped
    args = common(world, adapter, "--base", str(world["base"]), "--rank", "2", "--steps", "3")
    assert main(args) == 0
    assert log_steps(adapter) == [1, 2, 3]
    assert main(args) == 0
    assert log_steps(adapter) == [1, 2, 3]
    with pytest.raises(AvgenError, match="rank"):
        main(common(world, adapter, "--base", str(world["base"]), "--rank", "4", "--steps", "5"))


def test_prior_preservation_batches(world: dict[str, Path], tmp_path: Path) -> None:
    prior = write_world_dataset(
        "audio", 3, tmp_path / "prior", seed=0, duration_s=1.0, workers=1, quiet=True
    )
    out = tmp_path / "adapter"
    extra = ["--rank", "2", "--steps", "1", "--prior-data", str(prior), "--prior-batch-size", "3"]
    assert main(common(world, out, "--base", str(world["base"]), *extra)) == 0
    rows = [json.loads(line) for line in (out / "train_log.jsonl").read_text().splitlines()]
    first = rows[0]
    assert first["total"] == pytest.approx(first["data"] + first["prior"], abs=1e-4)
    record = json.loads((out / ADAPTER_RECORD).read_text())
    assert record["training"]["prior_clips"] == 3
    assert "prior preservation" in (out / "MODEL_CARD.md").read_text()


def test_adapter_changes_output_and_lint_reads_its_card(
    world: dict[str, Path], adapter: Path
) -> None:
    from avgen.prompts import lint_prompt

    def run(lora: Path | None) -> np.ndarray:
        pipe = TextToAudioPipeline.from_pretrained(world["base"], text_encoder=HashEncoder(),
                                                   lora=lora)  # fmt: skip
        gen = torch.Generator().manual_seed(0)
        return pipe("sitar raga Yaman", audio_length_in_s=1.0, generator=gen).audio

    plain, tuned, again = run(None), run(adapter), run(adapter)
    assert np.array_equal(tuned, again) and not np.allclose(plain, tuned)
    pipe = TextToAudioPipeline.from_pretrained(world["base"], text_encoder=HashEncoder(),
                                               lora=adapter)  # fmt: skip
    with pytest.raises(AvgenError, match="already has LoRA adapter"):
        pipe.load_lora(adapter)
    rows = (world["data"] / "metadata.jsonl").read_text().splitlines()
    for caption in json.loads(rows[0])["captions"]:  # every training phrasing lints clean
        assert lint_prompt(caption, kind="audio", model_dir=adapter).ignored_words == []


def _corrupt(folder: Path, how: str, adapter: Path, world: dict[str, Path]) -> Path:
    import shutil

    if how == "missing":
        return folder / "nowhere"
    if how == "data folder":
        return world["data"]
    shutil.copytree(adapter, folder, ignore=shutil.ignore_patterns("checkpoints", "cache"))
    if how == "corrupt weights":
        (folder / ADAPTER_WEIGHTS).write_bytes(b"\x00garbage" * 10)
    elif how == "bad json":
        (folder / ADAPTER_CONFIG).write_text("{not json")
    elif how == "not lora":
        cfg = json.loads((folder / ADAPTER_CONFIG).read_text())
        (folder / ADAPTER_CONFIG).write_text(json.dumps({**cfg, "peft_type": "PREFIX_TUNING"}))
    return folder


@pytest.mark.parametrize(
    "how, words",
    [
        ("missing", "does not exist"),
        ("data folder", "no adapter_config.json"),
        ("corrupt weights", "not a readable safetensors"),
        ("bad json", "not valid JSON"),
        ("not lora", "peft_type"),
    ],
)
def test_bad_adapter_folders(
    world: dict[str, Path], adapter: Path, tmp_path: Path, how: str, words: str
) -> None:
    bad = _corrupt(tmp_path / "bad", how, adapter, world)
    module = AudioDenoiser.from_pretrained(world["base"] / "denoiser")
    before = {k: v.clone() for k, v in module.state_dict().items()}
    with pytest.raises(AvgenError, match=words):
        apply_lora(module, bad)
    assert all(torch.equal(v, before[k]) for k, v in module.state_dict().items())


def test_adapter_for_another_base_is_refused(world: dict[str, Path], adapter: Path) -> None:
    other = tiny_avgen_model(world["root"] / "other_weights", seed=1)  # same shapes
    with pytest.raises(AvgenError, match="other base weights"):
        apply_lora(AudioDenoiser.from_pretrained(other / "denoiser"), adapter)
    wider = tiny_avgen_model(world["root"] / "other_arch", dim=48)
    with pytest.raises(AvgenError, match="architecture"):
        apply_lora(AudioDenoiser.from_pretrained(wider / "denoiser"), adapter)


def test_cli_lora_errors_cleanly(
    world: dict[str, Path], adapter: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    bad = _corrupt(tmp_path / "bad", "corrupt weights", adapter, world)
    out = tmp_path / "out" / "a.wav"
    with pytest.raises(SystemExit) as exc:
        cli.main(["audio", "sitar raga Yaman", "--model", str(world["base"]), "--lora", str(bad),
                  "-o", str(out), "--quiet"])  # fmt: skip
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("avgen: ") and err.count("\n") == 1 and "safetensors" in err
    assert not out.exists() and not list(out.parent.glob("*"))  # nothing half written
    with pytest.raises(SystemExit) as exc:
        cli.main(["finetune", "video", "--data", str(world["data"])])
    assert exc.value.code == 2


def test_api_sidecar_records_the_adapter(
    world: dict[str, Path], adapter: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from avgen import api

    monkeypatch.setattr(api, "_PIPELINES", {})
    monkeypatch.setattr(
        "avgen.pipelines.text_to_audio.shared_text_encoder", lambda device="cpu": HashEncoder()
    )
    kw = {"model": str(world["base"]), "audio_length_in_s": 1.0, "quiet": True}
    plain = api.text_to_audio("sitar raga Yaman", tmp_path / "p.wav", **kw)[0]
    tuned = api.text_to_audio("sitar raga Yaman", tmp_path / "t.wav", lora=str(adapter), **kw)[0]
    assert len(api._PIPELINES) == 2  # the cache key includes the adapter
    record = json.loads(tuned.with_name(tuned.name + ".json").read_text())
    assert record["settings"]["lora"] == str(adapter)
    assert "lora" not in json.loads(plain.with_name(plain.name + ".json").read_text())["settings"]
    again = api.rerun(tuned.with_name(tuned.name + ".json"), tmp_path / "r.wav")[0]
    assert again.read_bytes() == tuned.read_bytes() != plain.read_bytes()


@pytest.mark.parametrize("family", ["AudioLDMPipeline", "AudioLDM2Pipeline"])
def test_diffusers_unet(
    world: dict[str, Path], tmp_path: Path, one_thread: None, family: str
) -> None:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import diffusers

    base = tiny.AUDIO_BUILDERS[family](tmp_path / "base")
    before = tree_hash(base)
    out = tmp_path / "adapter"
    assert main(common(world, out, "--base", str(base), "--rank", "2", "--steps", "2")) == 0
    assert tree_hash(base) == before
    record = json.loads((out / ADAPTER_RECORD).read_text())
    assert record["base"]["pipeline_class"] == family
    assert record["base"]["prediction_type"] == "epsilon"
    weights = load_file(str(out / ADAPTER_WEIGHTS))
    assert weights and all(".lora_" in k and (".attn" in k or ".ff." in k) for k in weights)
    assert log_steps(out) == [1, 2]

    pipe = getattr(diffusers, family).from_pretrained(base, local_files_only=True)

    def generate() -> np.ndarray:
        gen = torch.Generator().manual_seed(0)
        return pipe("a bell", num_inference_steps=2, audio_length_in_s=0.5, generator=gen).audios

    plain = generate()
    unet_before = {k: v.clone() for k, v in pipe.unet.state_dict().items()}
    apply_lora(pipe.unet, out)
    tuned = generate()
    changed = [k for k, v in pipe.unet.state_dict().items() if not torch.equal(v, unet_before[k])]
    assert changed and all(".attn" in k or ".ff." in k for k in changed)
    assert np.isfinite(tuned).all() and np.abs(tuned - plain).max() > 0
    torch.manual_seed(3)
    stranger = type(pipe.unet).from_config(pipe.unet.config)
    with pytest.raises(AvgenError, match="other base weights"):
        apply_lora(stranger, out)
    with pytest.raises(AvgenError, match="made for the .*UNet2DConditionModel of"):
        apply_lora(AudioDenoiser.from_pretrained(world["base"] / "denoiser"), out)


def test_shipped_ragas_adapter_loads_on_the_shipped_model(one_thread: None) -> None:
    from avgen.pipelines.text_to_audio import default_audio_model_dir

    folder = default_audio_model_dir().parent / "adapters" / "ragas"
    assert all((folder / f).is_file() for f in ADAPTER_FILES)
    assert (folder / ADAPTER_WEIGHTS).stat().st_size < 3_000_000
    record = json.loads((folder / ADAPTER_RECORD).read_text())
    assert record["base"]["kind"] == "avgen" and record["training"]["clips"] <= 200
    assert record["training"]["rank"] == 8

    def run(lora: Path | None) -> np.ndarray:
        pipe = TextToAudioPipeline.from_pretrained(lora=lora)
        gen = torch.Generator().manual_seed(0)
        out = pipe("sitar raga Yaman", audio_length_in_s=1.0, num_inference_steps=2, generator=gen)
        return out.audio

    plain, tuned = run(None), run(folder)
    assert np.isfinite(tuned).all() and not np.allclose(plain, tuned)


def test_adapter_side_imports_no_trainer_and_the_old_entry_point_runs(tmp_path: Path) -> None:
    """``avgen.lora`` (what pipelines import) loads no trainer; ``python -m avgen.train.lora``
    (the trainer's old module path) still runs the trainer."""
    import subprocess

    code = "import sys, avgen.lora; print(sorted(m for m in sys.modules if '.train' in m))"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert proc.returncode == 0 and proc.stdout.strip() == "[]", proc.stdout + proc.stderr
    cmd = [sys.executable, "-m", "avgen.train.lora", "--data", str(tmp_path), "--out", "o"]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=tmp_path)
    assert proc.returncode == 2 and "has no metadata.jsonl" in proc.stderr
