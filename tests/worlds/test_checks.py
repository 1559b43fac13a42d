"""Tests for avgen.worlds.checks: check_file dispatches a media file to the right checkers."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from avgen import media
from avgen.errors import AvgenError
from avgen.worlds.av import render_av_clip
from avgen.worlds.checks import check_file
from avgen.worlds.sound import render_sound_clip


def test_wav_goes_to_the_audio_checker(tmp_path: Path) -> None:
    clip = render_sound_clip(2, duration_s=2.0)
    path = media.write_audio(tmp_path / "a.wav", clip.audio, clip.sr)
    out = check_file(path, clip.captions[-1])
    assert set(out) == {"file", "prompt", "parsed", "audio", "video", "av"}
    assert out["prompt"] == clip.captions[-1] and out["parsed"]["text"] == clip.captions[-1]
    assert out["audio"] and out["video"] == {} and out["av"] == {}
    for result in out["audio"].values():
        assert {"expected", "measured", "match", "measurable"} <= set(result)
    json.dumps(out)


def test_mp4_with_sound_goes_to_all_three(tmp_path: Path) -> None:
    seed = next(s for s in range(40) if render_av_clip(s, duration_s=3.0).truth["events"])
    clip = render_av_clip(seed, duration_s=3.0)
    path = media.write_mp4(tmp_path / "c.mp4", clip.frames, clip.fps, clip.audio, clip.sr)
    out = check_file(str(path), clip.captions[1])
    assert out["video"] and out["audio"] and out["av"]
    assert out["av"]["sync"]["match"] is True
    assert out["parsed"]["objects"]
    json.dumps(out)
    silent = media.write_mp4(tmp_path / "s.mp4", clip.frames, clip.fps)
    out = check_file(silent, "a red ball bouncing")
    assert out["video"] and out["audio"] == {} and out["av"] == {}


def test_unreadable_or_unknown_files(tmp_path: Path) -> None:
    with pytest.raises(AvgenError, match="does not exist"):
        check_file(tmp_path / "none.wav", "rain")
    bad = tmp_path / "bad.wav"
    bad.write_bytes(np.random.default_rng(0).bytes(300))
    with pytest.raises(AvgenError):
        check_file(bad, "rain")
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"not a video at all")
    with pytest.raises(AvgenError):
        check_file(broken, "a red ball")
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    with pytest.raises(AvgenError, match="extension"):
        check_file(text, "rain")
