"""The canonical rewrite as the text condition: api ``rewrite=``, ``--no-rewrite``, sidecars,
rerun, ``avgen prompt parse`` and diffusers folders (issue 14)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from avgen import api, cli
from avgen.errors import AvgenError
from avgen.pipelines.text_to_audio import default_audio_model_dir
from avgen.pipelines.text_to_video import default_video_model_dir

HAS_VIDEO_MODEL = (default_video_model_dir() / "pipeline.json").is_file()
HAS_AUDIO_MODEL = (default_audio_model_dir() / "pipeline.json").is_file()
FAST_VIDEO = dict(num_frames=8, num_inference_steps=2, quiet=True, upscale=64)
PARAPHRASE = "a ruby orb hopping"


def run_cli(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exc:
        cli.main(argv)
    out, err = capsys.readouterr()
    return int(exc.value.code), out, err


def sidecar(path: Path) -> dict:
    return json.loads(Path(str(path) + ".json").read_text(encoding="utf-8"))


class _FakeDiffusers:
    """Stands for a diffusers adapter: only its module name matters to ``text_condition``."""


_FakeDiffusers.__module__ = "avgen.pipelines.diffusers_video"


class _FakeOwn:
    pass


def test_text_condition_rules() -> None:
    own, wrapped = _FakeOwn(), _FakeDiffusers()
    assert api.own_model(own) and not api.own_model(wrapped)
    text, record = api.text_condition(own, PARAPHRASE, True)
    assert text == "a red circle bouncing along"
    assert record["rewritten_prompt"] == text and record["prompt_recognised"] is True
    text, record = api.text_condition(own, PARAPHRASE, False)
    assert text == PARAPHRASE and record["rewritten_prompt"] is None
    text, record = api.text_condition(wrapped, PARAPHRASE, True)
    assert text == PARAPHRASE and record["rewritten_prompt"] is None
    assert "diffusers" in record["prompt_note"]
    text, record = api.text_condition(own, "qwerty zzz", True)
    assert text == "qwerty zzz" and record["prompt_recognised"] is False
    assert "nothing in the prompt was recognised" in record["prompt_note"]
    with pytest.raises(AvgenError, match="rewrite must be True or False"):
        api.text_condition(own, PARAPHRASE, "no")  # type: ignore[arg-type]


@pytest.mark.skipif(not HAS_VIDEO_MODEL, reason="no shipped video model")
def test_video_sidecar_records_both_prompts_and_rerun_replays(tmp_path: Path) -> None:
    on = api.text_to_video(PARAPHRASE, tmp_path / "on.mp4", **FAST_VIDEO)[0]
    off = api.text_to_video(PARAPHRASE, tmp_path / "off.mp4", rewrite=False, **FAST_VIDEO)[0]
    a, b = sidecar(on), sidecar(off)
    assert a["prompt"] == b["prompt"] == PARAPHRASE
    assert "red" in a["rewritten_prompt"] and "ruby" not in a["rewritten_prompt"]
    assert a["text_condition"] == a["rewritten_prompt"] and a["settings"]["rewrite"] is True
    assert b["rewritten_prompt"] is None and b["text_condition"] == PARAPHRASE
    assert b["settings"]["rewrite"] is False
    assert a["parsed_prompt"]["objects"][0]["colour"] == "red"
    assert on.read_bytes() != off.read_bytes()  # the text condition differs
    again = api.rerun(Path(str(off) + ".json"), tmp_path / "again.mp4")[0]
    assert again.read_bytes() == off.read_bytes()
    assert sidecar(again)["settings"]["rewrite"] is False
    again = api.rerun(Path(str(on) + ".json"), tmp_path / "again_on.mp4")[0]
    assert again.read_bytes() == on.read_bytes()
    # a sidecar from before the rewrite (no settings.rewrite) replays the prompt as written
    old = dict(b, settings={k: v for k, v in b["settings"].items() if k != "rewrite"})
    old_sidecar = tmp_path / "old.mp4.json"
    old_sidecar.write_text(json.dumps(old), encoding="utf-8")
    replay = api.rerun(old_sidecar, tmp_path / "replay.mp4")[0]
    assert replay.read_bytes() == off.read_bytes()


@pytest.mark.skipif(not HAS_VIDEO_MODEL, reason="no shipped video model")
def test_nothing_recognised_still_generates_text_only(tmp_path: Path) -> None:
    out = api.text_to_video("qwerty zzz", tmp_path / "q.mp4", **FAST_VIDEO)[0]
    record = sidecar(out)
    assert out.is_file() and record["prompt_recognised"] is False
    assert record["text_condition"] == "qwerty zzz" and record["rewritten_prompt"] is None
    assert "nothing in the prompt was recognised" in record["prompt_note"]
    with pytest.raises(AvgenError, match="rewrite must be True or False"):
        api.text_to_video("a ball", tmp_path / "x.mp4", rewrite=1, **FAST_VIDEO)
    assert not (tmp_path / "x.mp4").exists()


@pytest.mark.skipif(not HAS_AUDIO_MODEL, reason="no shipped audio model")
def test_cli_no_rewrite_flag_on_audio(tmp_path: Path, capsys) -> None:
    fast = ["--duration", "1", "--steps", "1", "--quiet"]
    prompt = "gloomy violoncello melody"
    code, _, err = run_cli(["audio", prompt, "-o", str(tmp_path / "a.wav"), *fast], capsys)
    assert code == 0, err
    record = sidecar(tmp_path / "a.wav")
    assert record["rewritten_prompt"] == "sad cello melody" and record["settings"]["rewrite"]
    argv = ["audio", prompt, "-o", str(tmp_path / "b.wav"), "--no-rewrite", *fast]
    code, _, err = run_cli(argv, capsys)
    assert code == 0, err
    record = sidecar(tmp_path / "b.wav")
    assert record["rewritten_prompt"] is None and record["text_condition"] == prompt
    assert record["settings"]["rewrite"] is False


def test_cli_prompt_parse_shows_both(capsys) -> None:
    code, out, err = run_cli(["prompt", "parse", PARAPHRASE], capsys)
    assert code == 0, err
    d = json.loads(out)
    assert d["text"] == PARAPHRASE and "red" in d["rewritten"] and d["read_phrases"]
    code, out, err = run_cli(["prompt", "parse", "--no-read", PARAPHRASE], capsys)
    d = json.loads(out)
    assert code == 0 and d["read_phrases"] == [] and d["rewritten"] == PARAPHRASE
    code, out, err = run_cli(["prompt", "parse", "  "], capsys)
    assert code == 2 and "empty" in err and "Traceback" not in err


def test_cli_lint_lesson_example_and_model_card(capsys) -> None:
    lesson = (
        "Aerial drone shot of Tokyo at dusk, bustling streets with neon lights flickering, "
        "cinematic 4K"
    )
    code, out, err = run_cli(["prompt", "lint", lesson, "--json"], capsys)
    assert code == 0, err
    assert json.loads(out)["missing"] == []
    if HAS_VIDEO_MODEL:
        argv = ["prompt", "lint", "a ruby ball bouncing", "--model", str(default_video_model_dir())]
        code, out, err = run_cli([*argv, "--json"], capsys)
        report = json.loads(out)
        assert code == 0 and report["model_card"].endswith("MODEL_CARD.md")
        assert "ball" not in report["ignored_words"]
