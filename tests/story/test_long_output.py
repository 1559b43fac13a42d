"""Long output: up to 120 s, frames streamed to the encoder window by window, long audio decoded
in blocks; the streamed MP4 is the same file as one written whole."""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import avgen.pipelines.text_to_audio as t2a
from avgen import api
from avgen.errors import AvgenError
from avgen.media import mp4_stream, read_mp4, write_mp4
from avgen.ranges import RANGES, check_range

sys.path.insert(0, str(Path(__file__).parent))
from test_story_api import _audio, _video  # noqa: E402  (the tiny models of the story tests)


def test_ranges_reach_120_seconds() -> None:
    for name in ("video duration", "audio duration"):
        assert check_range(name, 120.0) == 120.0
        with pytest.raises(AvgenError, match="120 seconds, got 121"):
            check_range(name, 121.0)
    assert RANGES["init audio duration"].high == 60.0  # an input to transform: unchanged


def test_frame_sink_gets_every_window_and_keeps_only_the_tail() -> None:
    pipe = _video().to("cpu")
    whole = pipe("a red ball", num_frames=20, generator=torch.Generator().manual_seed(3))
    blocks: list[np.ndarray] = []
    streamed = pipe(
        "a red ball", num_frames=20, generator=torch.Generator().manual_seed(3),
        frame_sink=blocks.append,
    )  # fmt: skip
    assert len(blocks) == len(whole.joins) + 1 >= 3  # one block per window
    assert np.array_equal(np.concatenate(blocks), whole.frames)
    assert streamed.joins == whole.joins and streamed.settings["streamed"] is True
    assert len(streamed.frames) == pipe.context_frames()  # memory: the context only
    assert np.array_equal(streamed.frames, whole.frames[-pipe.context_frames() :])


def test_streamed_video_is_the_file_written_whole(tmp_path: Path) -> None:
    pipe = _video().to("cpu")
    folder = pipe.save_pretrained(tmp_path / "m")
    api._PIPELINES[("video", str(folder.resolve()), "cpu")] = pipe
    try:
        streamed = tmp_path / "s.mp4"
        api.text_to_video("a red ball", streamed, num_frames=20, model=str(folder), quiet=True)
        whole = tmp_path / "w.mp4"  # --preview keeps the frames (gif, sheet): written whole
        api.text_to_video(
            "a red ball", whole, num_frames=20, model=str(folder), quiet=True, preview=True
        )
    finally:
        api._PIPELINES.pop(("video", str(folder.resolve()), "cpu"))
    assert streamed.read_bytes() == whole.read_bytes()
    assert read_mp4(streamed)[0].shape == (20, 256, 256, 3)


def test_mp4_stream_refuses_bad_streams_and_leaves_no_file(tmp_path: Path) -> None:
    frames = np.zeros((4, 16, 16, 3), np.uint8)
    out = tmp_path / "x.mp4"
    with pytest.raises(AvgenError, match="3 frames were written"):
        with mp4_stream(out, 8, audio=np.zeros(8000, np.float32), num_frames=4) as write:
            write(frames[:3])
    with pytest.raises(AvgenError, match="cannot follow frames of 16x16"):
        with mp4_stream(out, 8) as write:
            write(frames)
            write(np.zeros((1, 32, 32, 3), np.uint8))
    with pytest.raises(AvgenError, match="no frames were written"):
        with mp4_stream(out, 8):
            pass
    with pytest.raises(AvgenError, match="needs its frame count"):
        with mp4_stream(out, 8, audio=np.zeros(8000, np.float32)):
            pass
    assert list(tmp_path.iterdir()) == []


def test_mp4_bytes_depend_on_the_frames_alone(tmp_path: Path) -> None:
    """Strided frames (a window's view) and other work in between give the same bytes."""
    rng = np.random.default_rng(0)
    frames = rng.integers(0, 255, (3, 24, 24, 3), dtype=np.uint8)
    strided = np.ascontiguousarray(frames.transpose(3, 0, 1, 2)).transpose(1, 2, 3, 0)
    assert not strided.flags["C_CONTIGUOUS"]
    digests = set()
    for k in range(6):
        _ = torch.randn(200, 200) @ torch.randn(200, 200)  # other work in the process
        write_mp4(tmp_path / f"{k}.mp4", strided if k % 2 else frames, 8)
        digests.add(hashlib.sha256((tmp_path / f"{k}.mp4").read_bytes()).hexdigest())
    assert len(digests) == 1


def test_long_audio_is_decoded_in_blocks(monkeypatch: pytest.MonkeyPatch) -> None:
    pipe = _audio().to("cpu")
    gen = lambda: torch.Generator().manual_seed(2)  # noqa: E731
    one = pipe("a bell", audio_length_in_s=6.0, generator=gen(), vocoder="neural")
    monkeypatch.setattr(t2a, "DECODE_BLOCK_S", 1.5)
    monkeypatch.setattr(t2a, "DECODE_MARGIN_S", 0.5)
    calls: list[int] = []
    decode = pipe.decode
    monkeypatch.setattr(pipe, "decode", lambda z, f: calls.append(z.shape[-1]) or decode(z, f))
    blocks = pipe("a bell", audio_length_in_s=6.0, generator=gen(), vocoder="neural")
    block, margin, longest = pipe.decode_block_frames()
    assert len(calls) == 4 and max(calls) <= longest  # never the whole latent at once
    assert blocks.audio.shape == one.audio.shape == (96000,)
    assert np.isfinite(blocks.audio).all()
    # the same sound: the blocks differ only by the VAE's per-block normalisation
    err = np.sqrt(np.mean((blocks.audio - one.audio) ** 2))
    assert err < 0.2 * np.sqrt(np.mean(one.audio**2))
