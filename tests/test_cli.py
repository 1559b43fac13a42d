"""The avgen command: one set of flags, one-sentence errors with exit code 2, no partial files."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from avgen import cli


def run_cli(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exc:
        cli.main(argv)
    out, err = capsys.readouterr()
    return int(exc.value.code), out, err


def assert_one_sentence(err: str) -> None:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith("avgen: ")
    assert "Traceback" not in err


@pytest.mark.parametrize("command", ["audio", "video"])
def test_unknown_option(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run_cli([command, "a red ball", "--no-such-flag"], capsys)
    assert code == 2
    assert_one_sentence(err)
    assert "--no-such-flag" in err


@pytest.mark.parametrize("command", ["audio", "video"])
@pytest.mark.parametrize("prompt", ["", "   "])
def test_empty_prompt(command: str, prompt: str, tmp_path: Path, capsys) -> None:
    out = tmp_path / ("x.wav" if command == "audio" else "x.mp4")
    code, _, err = run_cli([command, prompt, "-o", str(out)], capsys)
    assert code == 2
    assert_one_sentence(err)
    assert "prompt is empty" in err
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("duration", ["0", "-3", "601", "1e9", "nan"])
def test_duration_out_of_shared_range(duration: str, tmp_path: Path, capsys) -> None:
    out = tmp_path / "x.wav"
    code, _, err = run_cli(
        ["audio", "a piano melody", "--duration", duration, "-o", str(out)], capsys
    )
    assert code == 2
    assert_one_sentence(err)
    assert "600" in err
    assert list(tmp_path.iterdir()) == []


def test_prompt_duration_out_of_range(tmp_path: Path, capsys) -> None:
    code, _, err = run_cli(["audio", "piano for 20 minutes", "-o", str(tmp_path / "x.wav")], capsys)
    assert code == 2
    assert "600" in err


def test_generator_names_its_own_range(tmp_path: Path, capsys) -> None:
    code, _, err = run_cli(
        ["audio", "piano", "--duration", "150", "-o", str(tmp_path / "a.wav")], capsys
    )
    assert code == 2
    assert "between 1 and 120 seconds" in err
    code, _, err = run_cli(
        ["video", "a ball", "--duration", "130", "-o", str(tmp_path / "v.mp4")], capsys
    )
    assert code == 2
    assert "120 seconds" in err


def test_unwritable_output(tmp_path: Path, capsys) -> None:
    blocker = tmp_path / "file.txt"
    blocker.write_text("not a folder")
    code, _, err = run_cli(["audio", "piano", "-o", str(blocker / "x.wav")], capsys)
    assert code == 2
    assert_one_sentence(err)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file.txt"]


def test_wrong_output_extension(tmp_path: Path, capsys) -> None:
    code, _, err = run_cli(["audio", "piano", "-o", str(tmp_path / "x.mp4")], capsys)
    assert code == 2
    assert ".wav" in err


@pytest.mark.parametrize(
    "flags, word",
    [(["--steps", "0"], "steps"), (["--guidance", "-1"], "guidance"), (["--batch", "0"], "batch")],
)
def test_bad_generation_flags(flags: list[str], word: str, tmp_path: Path, capsys) -> None:
    code, _, err = run_cli(["audio", "piano", "-o", str(tmp_path / "x.wav"), *flags], capsys)
    assert code == 2
    assert_one_sentence(err)
    assert word in err


def test_prompts_file_errors(tmp_path: Path, capsys) -> None:
    empty = tmp_path / "prompts.txt"
    empty.write_text("\n# only a comment\n")
    code, _, err = run_cli(
        ["audio", "--prompts-file", str(empty), "-o", str(tmp_path / "a.wav")], capsys
    )
    assert code == 2
    assert "no prompts" in err
    code, _, err = run_cli(["audio", "--prompts-file", str(tmp_path / "missing.txt")], capsys)
    assert code == 2
    assert "cannot read" in err


def test_every_generator_shares_the_flags() -> None:
    parser = cli.build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    wanted = {
        "--output", "--seed", "--steps", "--guidance", "--negative-prompt", "--duration",
        "--batch", "--prompts-file", "--preview", "--device", "--dtype", "--quiet",
    }  # fmt: skip
    for name in ("audio", "video"):
        flags = {s for a in sub.choices[name]._actions for s in a.option_strings}
        assert wanted <= flags, name


def test_console_script_is_installed(tmp_path: Path) -> None:
    exe = shutil.which("avgen") or str(Path(sys.executable).with_name("avgen"))
    assert os.path.exists(exe)
    result = subprocess.run([exe, "--version"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0
    assert result.stdout.startswith("avgen ")
    result = subprocess.run([exe, "audio", ""], capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert "prompt is empty" in result.stderr


@pytest.mark.parametrize("device", ["tpu", "cuda:99"])
def test_bad_device(device: str, tmp_path: Path, capsys) -> None:
    out = tmp_path / "x.wav"
    code, _, err = run_cli(["audio", "piano", "--device", device, "-o", str(out)], capsys)
    assert code == 2
    assert_one_sentence(err)
    assert "device" in err
    assert list(tmp_path.iterdir()) == []
