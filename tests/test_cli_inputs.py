"""Hostile input to the avgen command: one sentence, exit code 2, nothing written (issue 18)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from avgen import cli


def run_cli(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exc:
        cli.main(argv)
    out, err = capsys.readouterr()
    return int(exc.value.code), out, err


def one_sentence(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("avgen: ") and "Traceback" not in err, err
    return lines[0]


def test_prompt_parse_reads_a_superscript_as_a_word(capsys) -> None:
    code, out, _ = run_cli(["prompt", "parse", "² balls"], capsys)
    assert code == 0
    assert json.loads(out)["objects"][0]["count"] == 1


@pytest.mark.parametrize(
    "text, words",
    [("piano at " + "1" * 400 + " BPM", "300 BPM"), ("drums at -3 BPM", "got -3")],
)
def test_prompt_parse_refuses_absurd_tempos(text: str, words: str, capsys) -> None:
    code, out, err = run_cli(["prompt", "parse", text], capsys)
    assert code == 2 and out == "" and words in one_sentence(err)


def test_prompt_build_refuses_an_absurd_bpm(capsys) -> None:
    code, _, err = run_cli(["prompt", "build", "audio", "jazz", "--bpm", "inf"], capsys)
    assert code == 2 and "tempo_bpm must be more than 0" in one_sentence(err)


def test_a_binary_prompts_file_is_one_sentence(tmp_path: Path, capsys) -> None:
    prompts = tmp_path / "p.txt"
    prompts.write_bytes(b"piano\n\xff\xfe\x00\x81 rain\n")
    out = tmp_path / "o" / "a.wav"
    code, _, err = run_cli(["audio", "--prompts-file", str(prompts), "-o", str(out)], capsys)
    assert code == 2 and "not UTF-8 text" in one_sentence(err)
    assert not out.parent.exists()


def test_a_prompts_file_has_at_most_1000_prompts(tmp_path: Path, capsys) -> None:
    prompts = tmp_path / "p.txt"
    prompts.write_text("piano\n" * (cli.MAX_PROMPTS_FILE + 1))
    code, _, err = run_cli(
        ["audio", "--prompts-file", str(prompts), "-o", str(tmp_path / "a.wav")], capsys
    )
    assert code == 2 and "the limit is 1000" in one_sentence(err)
    assert [p.name for p in tmp_path.iterdir()] == ["p.txt"]


@pytest.mark.parametrize(
    "bad, words",
    [
        ("piano for 150 seconds", "prompt 4: audio duration must be between 1 and 120 seconds"),
        ("piano at -3 BPM", "prompt 4: the prompt's tempo must be"),
        ("x" * 2001, "prompt 4: the prompt is 2001 characters long"),
    ],
)
def test_a_bad_fourth_prompt_leaves_no_file(bad: str, words: str, tmp_path: Path, capsys) -> None:
    """Before: the first three prompts were generated, then the fourth failed (exit 2)."""
    prompts = tmp_path / "p.txt"
    prompts.write_text(f"piano\nrain\nbells\n{bad}\n")
    out = tmp_path / "out" / "a.wav"
    argv = ["audio", "--prompts-file", str(prompts), "-o", str(out), "--steps", "2", "--quiet"]
    code, _, err = run_cli(argv, capsys)
    assert code == 2 and words in one_sentence(err)
    assert not out.parent.exists() or list(out.parent.iterdir()) == []


def test_a_model_card_that_is_not_utf8_is_one_sentence(tmp_path: Path, capsys) -> None:
    (tmp_path / "MODEL_CARD.md").write_bytes(b"## Vocabulary\n\xff\xfe piano\n")
    code, _, err = run_cli(["prompt", "lint", "piano", "--model", str(tmp_path)], capsys)
    assert code == 2 and "is not readable UTF-8 text" in one_sentence(err)


@pytest.mark.parametrize(
    "name, words", [("a\x00b.wav", "NUL character"), ("x" * 250 + ".wav", "bytes long")]
)
def test_output_names_no_file_can_have(name: str, words: str, tmp_path: Path, capsys) -> None:
    """Before: generated first, then crashed (ValueError, OSError) when writing."""
    argv = ["audio", "piano", "--steps", "1", "--quiet", "-o", str(tmp_path / name)]
    code, _, err = run_cli(argv, capsys)
    assert code == 2 and words in one_sentence(err)
    assert list(tmp_path.iterdir()) == []


def test_plan_output_that_cannot_be_written(tmp_path: Path, capsys, monkeypatch) -> None:
    from avgen.plan import schema

    def refuse(*args: object, **kwargs: object) -> None:
        raise FileNotFoundError(2, "No such file or directory")

    monkeypatch.setattr(schema, "write_json", refuse)
    code, _, err = run_cli(["plan", "audio", "piano", "-o", str(tmp_path / "p.json")], capsys)
    assert code == 2 and "cannot write" in one_sentence(err)
    (tmp_path / "file").write_text("")
    code, _, err = run_cli(["plan", "audio", "piano", "-o", str(tmp_path / "file/p.json")], capsys)
    assert code == 2 and "is not a folder" in one_sentence(err)
