"""Note plans through the denoiser, the pipeline, the API and the CLI (tiny random models)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from avgen.audio import CLAP, AudioDenoiser, MelVAE, Vocoder
from avgen.errors import AvgenError
from avgen.pipelines.text_to_audio import TextToAudioPipeline
from avgen.plan import NotePlan
from avgen.plan.notes import FEATURES, PlannedNote

sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_text_to_audio import FakeEncoder  # noqa: E402


def _denoiser(note_dim: int = FEATURES) -> AudioDenoiser:
    torch.manual_seed(0)
    return AudioDenoiser(
        latent_channels=4, hidden_size=32, num_layers=1, num_heads=2, mlp_ratio=2.0,
        note_dim=note_dim,
    )  # fmt: skip


def _wake(model: AudioDenoiser, notes: bool = True) -> None:
    """Give every zero-initialised weight some value, as training would (the note input's
    output layer only when ``notes``)."""
    torch.manual_seed(1)
    keep = {"notes_in.2.weight", "notes_in.2.bias"} if not notes else set()
    for name, p in model.named_parameters():
        if name not in keep:
            p.data.normal_(0.0, 0.2)


def _plan(duration: float = 2.0, step: int = 2) -> NotePlan:
    notes = [PlannedNote(0.25 * i, 0.2, 60 + step * i) for i in range(int(duration * 4))]
    return NotePlan(duration, notes, 120.0, [0.5 * i for i in range(int(duration * 2))])


def _cond(b: int, frames: int) -> dict:
    return {
        "tokens": torch.randn(b, 3, 384),
        "mask": torch.ones(b, 3, dtype=torch.bool),
        "pooled": torch.randn(b, 384),
    }


def test_denoiser_note_input_starts_silent_then_matters() -> None:
    model = _denoiser()
    _wake(model, notes=False)
    x, t = torch.randn(2, 4, 16, 25), torch.tensor([0.3, 0.7])
    cond = _cond(2, 25)
    notes = torch.from_numpy(_plan().features(25, 0.04))[None].expand(2, -1, -1)
    plain = model(x, t, cond)
    assert torch.equal(plain, model(x, t, {**cond, "notes": notes}))  # zero init
    with torch.no_grad():
        model.notes_in[2].weight.normal_(0.0, 0.2)
    assert not torch.allclose(plain, model(x, t, {**cond, "notes": notes}))
    assert torch.equal(plain, model(x, t, cond))  # no plan: the text-only path is unchanged
    with pytest.raises(AvgenError, match="note condition has shape"):
        model(x, t, {**cond, "notes": notes[:, :10]})
    # a text-only model ignores the key and has no note weights (old checkpoints load)
    old = _denoiser(note_dim=0)
    _wake(old)
    assert not any("notes_in" in k for k in old.state_dict())
    assert torch.equal(old(x, t, cond), old(x, t, {**cond, "notes": notes}))


def _pipeline(note_dim: int = FEATURES) -> TextToAudioPipeline:
    torch.manual_seed(0)
    vae = MelVAE(latent_channels=4, channels=(4, 8, 8))
    vocoder = Vocoder(dim=16, depth=1, mlp_mult=2)
    denoiser = _denoiser(note_dim)
    if note_dim:
        _wake(denoiser)
    clap = CLAP(channels=(4, 8), embed_dim=16)
    cfg = {"num_inference_steps": 2, "guidance_scale": 2.0, "window_s": 2.0, "overlap_s": 0.5}
    return TextToAudioPipeline(vae, vocoder, denoiser, clap, FakeEncoder(), cfg)


def test_pipeline_follows_the_plan_window_by_window() -> None:
    pipe = _pipeline()
    assert pipe.follows_plans
    gen = lambda: torch.Generator().manual_seed(3)  # noqa: E731
    up = pipe("a piano", note_plan=_plan(3.0, 2), generator=gen())
    down = pipe("a piano", note_plan=_plan(3.0, -2), generator=gen())
    plain = pipe("a piano", audio_length_in_s=3.0, generator=gen())
    assert up.audio.shape == (48000,)  # the plan's duration is the default duration
    assert up.settings["windows"] == 2 and up.settings["note_plan"]
    assert up.settings["tempo_bpm"] == 120.0  # the plan's tempo sets the beat grid
    assert not np.array_equal(up.audio, down.audio)
    assert not np.array_equal(up.audio, plain.audio)
    # the second window gets its own part of the plan: plans equal up to 1.5 s differ after
    half = NotePlan(3.0, [n for n in _plan(3.0, 2).notes if n.onset_s < 1.0], 120.0)
    part = pipe("a piano", note_plan=half, generator=gen())
    assert not np.array_equal(part.audio[-8000:], up.audio[-8000:])


def test_text_only_model_refuses_a_plan() -> None:
    pipe = _pipeline(note_dim=0)
    assert not pipe.follows_plans
    with pytest.raises(AvgenError, match="does not follow note plans"):
        pipe("a piano", note_plan=_plan(), audio_length_in_s=2.0)


@pytest.fixture()
def tiny_folder(tmp_path: Path, monkeypatch) -> Path:
    from avgen import api

    folder = tmp_path / "tiny"
    _pipeline().save_pretrained(folder)
    pipe = TextToAudioPipeline.from_pretrained(folder, text_encoder=FakeEncoder())
    assert pipe.follows_plans
    monkeypatch.setitem(api._PIPELINES, ("audio", str(folder.resolve()), "cpu"), pipe)
    return folder


def _read(path: Path) -> dict:
    return json.loads(path.with_name(path.name + ".json").read_text())


def test_api_composes_records_and_reruns(tiny_folder: Path, tmp_path: Path) -> None:
    from avgen import api
    from avgen.media import read_audio

    out = tmp_path / "out" / "harp.wav"
    paths = api.text_to_audio("a rising arpeggio on a harp for 2 seconds", out,
                              model=str(tiny_folder), seed=4, batch=2, quiet=True)  # fmt: skip
    record = _read(paths[1])
    assert record["plan_source"] == "composer"
    plan = NotePlan.from_dict(record["settings"]["plan"])
    assert plan.duration_s == 2.0 and plan.pitch_direction() == "rising"
    assert _read(paths[0])["settings"]["plan"] == record["settings"]["plan"]  # one plan per batch
    again = api.rerun(paths[1].with_name(paths[1].name + ".json"), tmp_path / "again.wav")
    assert np.array_equal(read_audio(paths[1])[0], read_audio(again[0])[0])
    # nothing to play: text only, and the sidecar says why
    rain = api.text_to_audio("heavy rain on a tin roof", tmp_path / "rain.wav",
                             model=str(tiny_folder), quiet=True)  # fmt: skip
    assert _read(rain[0])["settings"]["plan"] is None
    assert _read(rain[0])["plan_note"] == "the prompt names nothing to play"
    off = api.text_to_audio("a harp melody", tmp_path / "off.wav", model=str(tiny_folder),
                            plan=False, quiet=True)  # fmt: skip
    assert _read(off[0])["settings"]["plan"] is False and _read(off[0])["plan_source"] == "off"


def _cli(argv: list[str]) -> int:
    from avgen import cli

    with pytest.raises(SystemExit) as exc:
        cli.main(argv)
    return int(exc.value.code)


def test_cli_plan_melody_and_their_errors(tiny_folder: Path, tmp_path: Path, capsys) -> None:
    import pretty_midi

    from avgen.plan.schema import write_json

    plan_file = tmp_path / "plan.json"
    write_json(_plan(2.0).to_dict(), plan_file)
    base = ["audio", "a cello", "--model", str(tiny_folder), "--quiet"]
    out = tmp_path / "p.wav"
    assert _cli([*base, "--plan", str(plan_file), "-o", str(out), "--preview"]) == 0
    assert _read(out)["settings"]["plan"] == _plan(2.0).to_dict()
    assert _read(out)["plan_source"] == "given"
    assert out.with_name("p.wav.png").is_file()

    tune = tmp_path / "tune.mid"
    pm = pretty_midi.PrettyMIDI(initial_tempo=100)
    inst = pretty_midi.Instrument(program=0)
    for i in range(6):
        note = pretty_midi.Note(velocity=90, pitch=62 + i, start=0.3 * i, end=0.3 * i + 0.25)
        inst.notes.append(note)
    pm.instruments.append(inst)
    pm.write(str(tune))
    mel = tmp_path / "m.wav"
    assert _cli([*base, "--melody", str(tune), "-o", str(mel)]) == 0
    record = _read(mel)
    assert record["plan_source"] == "midi"
    assert [n["pitch"] for n in record["settings"]["plan"]["notes"]] == [62 + i for i in range(6)]

    bad = tmp_path / "bad.mid"
    bad.write_text("hello")
    prompts = tmp_path / "prompts.txt"
    prompts.write_text("a cello\na harp\n")
    cases = [
        (["--plan", str(plan_file), "--melody", str(tune)], "exclude each other"),
        (["--plan", str(plan_file), "--no-plan"], "exclude each other"),
        (["--plan", str(plan_file), "--duration", "3"], "the plan lasts 2 s"),
        (["--melody", str(bad)], "not a readable standard MIDI file"),
        (["--melody", str(tune), "--melody-track", "3"], "melody track"),
        (["--melody-track", "1"], "--melody-track needs --melody"),
        (["--plan", str(tmp_path / "missing.json")], "cannot read plan file"),
    ]
    for flags, words in cases:
        target = tmp_path / "never.wav"
        assert _cli([*base, *flags, "-o", str(target)]) == 2, flags
        err = capsys.readouterr().err
        assert words in err and err.count("\n") == 1, (flags, err)
        assert not target.exists()
    code = _cli(["audio", "--prompts-file", str(prompts), "--plan", str(plan_file),
                    "--model", str(tiny_folder), "-o", str(tmp_path / "pf.wav")])  # fmt: skip
    assert code == 2 and "--prompts-file" in capsys.readouterr().err


def test_init_audio_sets_the_plan_length(tiny_folder: Path, tmp_path: Path) -> None:
    from avgen import api
    from avgen.media import write_audio

    src = tmp_path / "in.wav"
    write_audio(src, np.zeros(int(1.5 * 16000), np.float32) + 0.01, 16000)
    out = api.text_to_audio("a harp melody", tmp_path / "o.wav", model=str(tiny_folder),
                            init_audio=src, strength=0.5, quiet=True)  # fmt: skip
    plan = _read(out[0])["settings"]["plan"]
    assert plan["duration_s"] == 1.5
    with pytest.raises(AvgenError, match="the plan lasts 2 s but 1.5 s"):
        api.text_to_audio("a harp", tmp_path / "x.wav", model=str(tiny_folder),
                          init_audio=src, plan=_plan(2.0).to_dict(), quiet=True)  # fmt: skip
