"""TextToAudioPipeline with tiny random components (diffusers' get_dummy_components habit)."""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from avgen.audio import CLAP, AudioDenoiser, MelVAE, Vocoder
from avgen.errors import AvgenError
from avgen.pipelines.text_to_audio import (
    TextToAudioPipeline,
    default_audio_model_dir,
    prompt_tempo,
)


class FakeEncoder:
    """Deterministic stand-in for MiniLM: token states from a hash of each word."""

    dim = 384

    def encode(self, prompts: list[str], max_length: int = 64) -> dict[str, torch.Tensor]:
        words = [p.split()[:max_length] or [""] for p in prompts]
        length = max(len(w) for w in words)
        tokens = torch.zeros(len(prompts), length, self.dim)
        mask = torch.zeros(len(prompts), length, dtype=torch.bool)
        for i, ws in enumerate(words):
            for j, w in enumerate(ws):
                seed = int(hashlib.sha256(w.encode()).hexdigest()[:8], 16)
                tokens[i, j] = torch.randn(self.dim, generator=torch.Generator().manual_seed(seed))
                mask[i, j] = True
        pooled = torch.nn.functional.normalize(tokens.sum(1), dim=-1)
        return {"tokens": tokens, "mask": mask, "pooled": pooled}


def dummy_pipeline(**config) -> TextToAudioPipeline:
    torch.manual_seed(0)
    vae = MelVAE(latent_channels=4, channels=(4, 8, 8))
    vocoder = Vocoder(dim=16, depth=1, mlp_mult=2)
    denoiser = AudioDenoiser(latent_channels=4, dim=32, depth=1, heads=2, mlp_ratio=2.0)
    clap = CLAP(channels=(4, 8), embed_dim=16)
    cfg = {"num_inference_steps": 2, "guidance_scale": 2.0, "window_s": 2.0, "overlap_s": 0.5}
    cfg.update(config)
    return TextToAudioPipeline(vae, vocoder, denoiser, clap, FakeEncoder(), cfg)


def test_shapes_and_finite() -> None:
    pipe = dummy_pipeline()
    out = pipe(
        "a slow piano arpeggio", audio_length_in_s=1.5, generator=torch.Generator().manual_seed(0)
    )
    assert out.audio.shape == (24000,)
    assert out.audio.dtype == np.float32 and np.isfinite(out.audio).all()
    assert out.sample_rate == 16000
    assert out.settings["tempo_bpm"] == 70.0  # "slow" -> the class midpoint


def test_duration_from_prompt_and_griffin_lim() -> None:
    pipe = dummy_pipeline()
    gen = torch.Generator().manual_seed(1)
    out = pipe("rain for 2 seconds", generator=gen, vocoder="griffin-lim")
    assert out.audio.shape == (32000,)


def test_seeded_determinism() -> None:
    pipe = dummy_pipeline()
    a = pipe("drums at 120 BPM", audio_length_in_s=1.0, generator=torch.Generator().manual_seed(3))
    b = pipe("drums at 120 BPM", audio_length_in_s=1.0, generator=torch.Generator().manual_seed(3))
    c = pipe("drums at 120 BPM", audio_length_in_s=1.0, generator=torch.Generator().manual_seed(4))
    assert np.array_equal(a.audio, b.audio)
    assert not np.array_equal(a.audio, c.audio)


def test_candidates_ranked_by_clap() -> None:
    pipe = dummy_pipeline()
    out = pipe("a flute melody", audio_length_in_s=1.0, num_candidates=3,
               generator=torch.Generator().manual_seed(0))  # fmt: skip
    assert len(out.clap_scores) == 3
    assert out.clap_scores == sorted(out.clap_scores, reverse=True)
    # the kept audio is the candidate CLAP scores highest
    with torch.no_grad():
        emb = pipe.clap.encode_audio(pipe.front_end(torch.from_numpy(out.audio)[None]))
        text = pipe.clap.encode_text(FakeEncoder().encode(["a flute melody"])["pooled"])
    assert math.isclose(float(pipe.clap.score(emb, text)[0, 0]), out.clap_scores[0], abs_tol=1e-4)


def test_continuation_beyond_one_window() -> None:
    pipe = dummy_pipeline()
    assert pipe.window_plan(1.0) == [(0, 50)]  # one full window, cropped after decoding
    plan = pipe.window_plan(5.0)  # 2 s windows (50 latent frames), 0.5 s overlap
    assert plan == [(0, 50), (38, 50), (75, 50)]  # the last window ends exactly at the end
    assert plan[-1][0] + plan[-1][1] == math.ceil(500 / 4)
    calls = []
    out = pipe("a long drone", audio_length_in_s=5.0, generator=torch.Generator().manual_seed(0),
               callback=lambda i, n: calls.append((i, n)))  # fmt: skip
    assert out.audio.shape == (80000,) and np.isfinite(out.audio).all()
    assert out.settings["windows"] == 3
    assert calls[-1] == (6, 6) and len(calls) == 6


@pytest.mark.parametrize(
    "kwargs, words",
    [
        ({"num_inference_steps": 0}, "steps"),
        ({"num_inference_steps": 1001}, "steps"),
        ({"guidance_scale": -1.0}, "guidance"),
        ({"guidance_scale": 51.0}, "guidance"),
        ({"audio_length_in_s": 0.5}, "duration"),
        ({"audio_length_in_s": 121.0}, "duration"),
        ({"num_candidates": 0}, "candidates"),
        ({"vocoder": "wavenet"}, "vocoder"),
    ],
)
def test_bad_inputs(kwargs: dict, words: str) -> None:
    with pytest.raises(AvgenError, match=words):
        dummy_pipeline()("a bell", **kwargs)


def test_empty_prompt() -> None:
    with pytest.raises(AvgenError, match="empty"):
        dummy_pipeline()("   ")


def test_wrong_folder(tmp_path: Path) -> None:
    with pytest.raises(AvgenError, match="not an avgen audio model"):
        TextToAudioPipeline.from_pretrained(tmp_path)
    (tmp_path / "pipeline.json").write_text(json.dumps({"_class": "VideoPipeline"}))
    with pytest.raises(AvgenError, match="not an avgen audio model"):
        TextToAudioPipeline.from_pretrained(tmp_path)


def test_save_load_round_trip(tmp_path: Path) -> None:
    pipe = dummy_pipeline()
    pipe.save_pretrained(tmp_path / "m")
    loaded = TextToAudioPipeline.from_pretrained(tmp_path / "m", text_encoder=FakeEncoder())
    assert loaded.config["window_s"] == 2.0
    gen = lambda: torch.Generator().manual_seed(5)  # noqa: E731
    a = pipe("a bell", audio_length_in_s=1.0, generator=gen())
    b = loaded("a bell", audio_length_in_s=1.0, generator=gen())
    assert np.allclose(a.audio, b.audio, atol=1e-6)


def test_prompt_tempo() -> None:
    assert prompt_tempo("jazz at 132 BPM") == 132.0
    assert prompt_tempo("an upbeat tune") == 140.0
    assert math.isnan(prompt_tempo("a bell"))


@pytest.mark.skipif(
    not (default_audio_model_dir() / "pipeline.json").is_file(), reason="no shipped audio model"
)
def test_shipped_model_cli_one_second(tmp_path: Path) -> None:
    """The shipped model, through the API: 1 s, 3 steps -> a finite WAV of the right length."""
    from avgen import api
    from avgen.media import read_audio

    out = tmp_path / "bell.wav"
    paths = api.text_to_audio("a piano arpeggio", out, audio_length_in_s=1.0,
                              num_inference_steps=3, seed=2, quiet=True)  # fmt: skip
    assert paths == [out]
    audio, sr = read_audio(out)
    assert sr == 16000 and audio.shape[-1] == 16000 and np.isfinite(audio).all()
    record = json.loads((tmp_path / "bell.wav.json").read_text())
    assert record["command"] == "audio" and record["seed"] == 2
    assert record["settings"]["num_inference_steps"] == 3


@pytest.mark.skipif(
    not (default_audio_model_dir() / "pipeline.json").is_file(), reason="no shipped audio model"
)
def test_cli_vocoder_choice(tmp_path: Path) -> None:
    """--vocoder neural uses the trained vocoder (recorded, rerun exactly); a bad name exits 2."""
    from avgen import api, cli
    from avgen.media import read_audio

    base = ["audio", "a piano arpeggio", "--duration", "1", "--steps", "2", "--quiet"]
    assert cli.run([*base, "-o", str(tmp_path / "n.wav"), "--vocoder", "neural"]) == 0
    assert cli.run([*base, "-o", str(tmp_path / "g.wav"), "--vocoder", "griffin-lim"]) == 0
    record = json.loads((tmp_path / "n.wav.json").read_text())
    assert record["settings"]["vocoder"] == "neural"
    neural, _ = read_audio(tmp_path / "n.wav")
    griffin, _ = read_audio(tmp_path / "g.wav")
    assert neural.shape == griffin.shape and not np.allclose(neural, griffin)
    again = api.rerun(tmp_path / "n.wav.json", tmp_path / "again.wav")
    assert np.array_equal(read_audio(again[0])[0], neural)
    with pytest.raises(SystemExit) as exc:
        cli.main([*base, "-o", str(tmp_path / "x.wav"), "--vocoder", "hifigan"])
    assert exc.value.code == 2 and not (tmp_path / "x.wav").exists()


def test_api_batch_sidecar_preview_and_rerun(tmp_path: Path, monkeypatch) -> None:
    """api.text_to_audio with a tiny model folder: files, sidecars, preview, exact rerun."""
    from avgen import api
    from avgen.media import read_audio

    folder = tmp_path / "tiny"
    dummy_pipeline().save_pretrained(folder)
    pipe = TextToAudioPipeline.from_pretrained(folder, text_encoder=FakeEncoder())
    monkeypatch.setitem(api._PIPELINES, ("audio", str(folder.resolve()), "cpu"), pipe)
    out = tmp_path / "out" / "bell.wav"
    paths = api.text_to_audio("a bell for 1 second", out, model=str(folder), batch=2, seed=7,
                              preview=True, candidates=2, quiet=True)  # fmt: skip
    assert [p.name for p in paths] == ["bell_0.wav", "bell_1.wav"]
    for p in paths:
        assert p.with_name(p.name + ".json").is_file() and p.with_name(p.name + ".png").is_file()
    record = json.loads((tmp_path / "out" / "bell_1.wav.json").read_text())
    assert record["seed"] == 8 and record["settings"]["batch"] == 1
    assert record["settings"]["candidates"] == 2 and record["settings"]["audio_length_in_s"] == 1.0
    again = api.rerun(tmp_path / "out" / "bell_1.wav.json", tmp_path / "again.wav")
    a, _ = read_audio(paths[1])
    b, _ = read_audio(again[0])
    assert np.array_equal(a, b)
    with pytest.raises(AvgenError, match="candidates"):
        api.text_to_audio("a bell", out, model=str(folder), candidates=40)
    with pytest.raises(AvgenError, match="not an avgen audio model"):
        api.text_to_audio("a bell", out, model=str(tmp_path / "out"))
    assert not out.exists()


def _tone(seconds: float) -> np.ndarray:
    t = np.arange(int(seconds * 16000)) / 16000
    return (0.5 * np.sin(2 * np.pi * 440 * t) * (1 + np.sin(2 * np.pi * 3 * t)) / 2).astype(
        np.float32
    )


def test_init_audio_strength_length_determinism_and_closeness() -> None:
    """AudioLDM style transfer: input length kept (two windows), seeded, strength orders L1."""
    pipe = dummy_pipeline()
    x = _tone(2.5)
    mel_x = pipe.front_end(torch.as_tensor(x)[None])

    def run(strength: float) -> np.ndarray:
        gen = torch.Generator().manual_seed(0)
        return pipe("a bell", generator=gen, init_audio=x, strength=strength).audio

    a = run(0.1)
    assert a.shape == x.shape and np.isfinite(a).all()
    assert np.array_equal(a, run(0.1))
    l1 = [(pipe.front_end(torch.as_tensor(run(s))[None]) - mel_x).abs().mean() for s in (0.1, 1)]
    assert l1[0] < l1[1]


def test_init_audio_inpaint_keeps_outside_range() -> None:
    pipe = dummy_pipeline()
    x = _tone(2.5)
    out = pipe("a bell", generator=torch.Generator().manual_seed(0), init_audio=x,
               inpaint=(1.0, 1.5))  # fmt: skip
    assert out.audio.shape == x.shape and out.settings["inpaint"] == [1.0, 1.5]
    diff = pipe.front_end(torch.as_tensor(out.audio)[None]) - pipe.front_end(
        torch.as_tensor(x)[None]
    )
    per_frame = diff.abs().mean(dim=(0, 1, 2))  # (F,) mel frames of 10 ms
    outside = torch.cat([per_frame[:90], per_frame[160:]]).mean()
    inside = per_frame[100:150].mean()
    assert outside < inside


@pytest.mark.parametrize(
    "kwargs, words",
    [
        ({"strength": 0.0}, "strength"),
        ({"strength": 1.5}, "strength"),
        ({"inpaint": (1.0, 3.0)}, "inpaint"),
        ({"inpaint": (1.5, 1.0)}, "inpaint"),
    ],
)
def test_init_audio_bad_inputs(kwargs: dict, words: str) -> None:
    with pytest.raises(AvgenError, match=words):
        dummy_pipeline()("a bell", init_audio=_tone(2.5), **kwargs)


def test_api_init_audio_errors_and_rerun(tmp_path: Path, monkeypatch) -> None:
    from avgen import api
    from avgen.media import read_audio, write_audio

    folder = tmp_path / "tiny"
    dummy_pipeline().save_pretrained(folder)
    pipe = TextToAudioPipeline.from_pretrained(folder, text_encoder=FakeEncoder())
    monkeypatch.setitem(api._PIPELINES, ("audio", str(folder.resolve()), "cpu"), pipe)
    src = tmp_path / "in.wav"
    write_audio(src, _tone(1.5), 16000)
    junk = tmp_path / "junk.wav"
    junk.write_text("not audio at all")
    out = tmp_path / "out.wav"
    with pytest.raises(AvgenError):
        api.text_to_audio("a bell", out, model=str(folder), init_audio=junk, quiet=True)
    for bad in ({"strength": 0.0}, {"strength": 1.5}, {"inpaint": (0.5, 2.0)}):
        with pytest.raises(AvgenError, match="strength|inpaint"):
            api.text_to_audio("a bell", out, model=str(folder), init_audio=src, quiet=True, **bad)
    assert not out.exists()
    paths = api.text_to_audio("a bell", out, model=str(folder), init_audio=src, inpaint=(0.5, 1.0),
                              seed=3, quiet=True)  # fmt: skip
    a, _ = read_audio(paths[0])
    assert a.shape == (24000,)
    record = json.loads(out.with_name("out.wav.json").read_text())
    assert record["settings"]["inpaint"] == [0.5, 1.0]
    assert record["settings"]["init_audio"] == str(src.resolve())
    again = api.rerun(out.with_name("out.wav.json"), tmp_path / "again.wav")
    assert np.array_equal(a, read_audio(again[0])[0])
