"""The page in headless Chromium: layered prompt, generate with tiny models, media that play."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from browser import INSTALL, chromium_path, drive  # noqa: E402
from helpers import LiveServer, tiny_audio_model, tiny_video_model  # noqa: E402


@pytest.mark.slow
def test_page_builds_generates_and_plays(tmp_path: Path, one_thread) -> None:
    executable = chromium_path()
    if executable is None:
        pytest.skip(INSTALL)
    models = [
        f"tiny={tiny_audio_model(tmp_path / 'a')}",
        f"tinyv={tiny_video_model(tmp_path / 'v')}",
    ]
    with LiveServer(tmp_path / "results", models) as server:
        seen = drive(server.url + "/", executable, tmp_path / "page.png")
    assert seen["audio_prompt"] == "calm ambient soft piano with reverb, 2 seconds"
    assert "Suggestion" in str(seen["audio_lint"])
    assert seen["video_prompt"] == "a red ball on a grass field, bouncing, in slow motion"
    audio, video = seen["audio"], seen["video"]
    assert audio["error"] is None and abs(audio["duration"] - 2.0) < 0.1 and audio["time"] > 0
    assert video["error"] is None and video["width"] == 256 and video["time"] > 0
    assert seen["spectrogram_width"] > 0
    assert "notes" in seen["plan_text"] and "piano" in seen["plan_text"]
    assert "red circle bounce" in seen["video_plan_text"]
    assert seen["history_rows"] == 2
    assert seen["again"] == ("calm ambient soft piano with reverb, 2 seconds", "11")
    assert seen["again_kind"] == "true"
    assert seen["video_shown"] and seen["audio_reopened"]
    assert seen["errors"] == []
    assert (tmp_path / "page.png").stat().st_size > 10_000
