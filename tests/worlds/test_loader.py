"""Tests for avgen.worlds.loader: a captioned folder decoded once into a tensor cache."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from avgen import media
from avgen.errors import AvgenError
from avgen.worlds import loader
from avgen.worlds.loader import WorldDataset, make_loader


def _write_rows(folder: Path, rows: list[dict]) -> None:
    (folder / "metadata.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))


@pytest.fixture()
def audio_folder(tmp_path: Path) -> Path:
    """A user's own audio folder: 22.05 kHz wav and flac files of different lengths."""
    rows = []
    for i, (ext, seconds) in enumerate([(".wav", 0.5), (".flac", 1.5), (".wav", 1.0)]):
        t = np.arange(int(22050 * seconds)) / 22050
        media.write_audio(tmp_path / f"a{i}{ext}", 0.3 * np.sin(2 * np.pi * 440 * t), 22050)
        rows.append({"file_name": f"a{i}{ext}", "text": f"tone {i}"})
    rows[1]["captions"] = ["tone 1", "a sine tone", "a 440 Hz beep"]
    _write_rows(tmp_path, rows)
    return tmp_path


@pytest.fixture()
def video_folder(tmp_path: Path) -> Path:
    """Two 16 fps 48x32 mp4 clips with a soundtrack; frame k has brightness 10 k."""
    rows = []
    for i in range(2):
        frames = np.zeros((12, 32, 48, 3), np.uint8)
        for k in range(12):
            frames[k] = 10 * k + 5 * i
        audio = 0.2 * np.sin(2 * np.pi * 300 * np.arange(12 * 1000) / 16000)
        media.write_mp4(tmp_path / f"v{i}.mp4", frames, 16, audio=audio, sr=16000)
        rows.append({"file_name": f"v{i}.mp4", "text": f"clip {i}", "captions": [f"clip {i}"]})
    _write_rows(tmp_path, rows)
    return tmp_path


def test_audio_items_resampled_and_padded(audio_folder: Path) -> None:
    ds = WorldDataset(audio_folder, "audio", sr=16000, seconds=1.0)
    assert len(ds) == 3
    item = ds[0]
    assert item["audio"].shape == (16000,) and item["audio"].dtype == torch.float32
    assert item["audio_length"] == 8000  # 0.5 s of real audio, then zeros
    assert item["audio"][9000:].abs().max() == 0
    assert 0.25 < item["audio"][:8000].abs().max() < 0.35
    assert ds[1]["audio_length"] == 16000  # 1.5 s cropped to 1 s


def test_cache_reused_then_rebuilt_when_a_file_changes(audio_folder: Path, monkeypatch) -> None:
    WorldDataset(audio_folder, "audio", seconds=1.0)
    data_path, index_path = WorldDataset(audio_folder, "audio", seconds=1.0).cache_paths()
    assert data_path.is_file() and index_path.is_file()
    calls = []
    real = media.read_audio
    monkeypatch.setattr(media, "read_audio", lambda *a, **k: calls.append(a) or real(*a, **k))
    ds = WorldDataset(audio_folder, "audio", seconds=1.0)
    dl = make_loader(audio_folder, "audio", seconds=1.0, batch_size=2, seed=0)
    for _epoch in range(2):
        for batch in dl:
            assert batch["audio"].shape[1] == 16000
    _ = [ds[i] for i in range(len(ds))]
    assert calls == []  # second dataset and both epochs read the cache only
    # other options: another cache file
    WorldDataset(audio_folder, "audio", seconds=0.5)
    assert len(calls) == 3
    # a changed file invalidates the cache
    media.write_audio(audio_folder / "a0.wav", np.zeros(22050), 22050)
    ds2 = WorldDataset(audio_folder, "audio", seconds=1.0)
    assert len(calls) == 6
    assert ds2[0]["audio"].abs().max() == 0


def test_random_caption_per_item(audio_folder: Path) -> None:
    ds = WorldDataset(audio_folder, "audio", seconds=0.5)
    torch.manual_seed(0)
    seen = {ds[1]["text"] for _ in range(40)}
    assert seen == {"tone 1", "a sine tone", "a 440 Hz beep"}
    assert {ds[0]["text"] for _ in range(5)} == {"tone 0"}


def test_video_and_av_items(video_folder: Path) -> None:
    ds = WorldDataset(video_folder, "video", size=16, fps=8, num_frames=8)
    item = ds[0]
    assert item["video"].shape == (3, 8, 16, 16)
    assert item["video_length"] == 6  # 12 frames at 16 fps = 0.75 s = 6 frames at 8 fps
    # frame k at 8 fps is source frame 2k, of brightness 20 k; then the last
    levels = (item["video"][:, :, 4:12, 4:12].mean(dim=(0, 2, 3)) + 1) * 127.5
    assert np.allclose(levels[:6].numpy(), 20 * np.arange(6), atol=3)
    assert abs(float(levels[7]) - 110) < 3  # the last source frame
    av_ds = WorldDataset(video_folder, "av", size=16, fps=8, num_frames=6)
    av_item = av_ds[1]
    assert av_item["audio"].shape == (12000,)  # seconds default to the frames' 0.75 s
    assert av_item["audio"].abs().max() > 0.1
    assert av_item["video"].shape == (3, 6, 16, 16)
    batch = next(iter(make_loader(video_folder, "av", batch_size=2, size=16, num_frames=6)))
    assert batch["video"].shape == (2, 3, 6, 16, 16) and len(batch["text"]) == 2


def test_missing_metadata_and_media_name_the_file(tmp_path: Path, audio_folder: Path) -> None:
    with pytest.raises(AvgenError, match="nowhere does not exist"):
        WorldDataset(tmp_path / "nowhere", "audio")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(AvgenError, match="metadata.jsonl"):
        WorldDataset(empty, "audio")
    (audio_folder / "a2.wav").unlink()
    with pytest.raises(AvgenError, match="a2.wav"):
        WorldDataset(audio_folder, "audio")


def test_bad_options(audio_folder: Path) -> None:
    with pytest.raises(AvgenError, match="kind"):
        WorldDataset(audio_folder, "smell")
    with pytest.raises(AvgenError, match="seconds"):
        WorldDataset(audio_folder, "audio", seconds=-1)
    with pytest.raises(AvgenError, match="not video media"):
        WorldDataset(audio_folder, "video")
    with pytest.raises(AvgenError, match="batch_size"):
        make_loader(audio_folder, "audio", batch_size=0)
    bad = audio_folder / "metadata.jsonl"
    bad.write_text('{"file_name": "a0.wav"}\n')
    with pytest.raises(AvgenError, match="caption"):
        WorldDataset(audio_folder, "audio")
    assert loader.read_metadata.__doc__
