"""Tests for avgen.worlds.dataset: world data sets in the AudioFolder / VideoFolder layout."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from avgen.errors import AvgenError
from avgen.worlds import dataset
from avgen.worlds.dataset import MANIFEST, PARTIAL, clip_seed, write_world_dataset
from avgen.worlds.loader import WorldDataset


def _rows(folder: Path) -> list[dict]:
    return [json.loads(line) for line in (folder / "metadata.jsonl").read_text().splitlines()]


@pytest.mark.parametrize(
    ("kind", "ext", "world"),
    [("audio", ".wav", "sound"), ("video", ".mp4", "motion"), ("av", ".mp4", "av")],
)
def test_each_kind_writes_media_and_metadata(
    tmp_path: Path, kind: str, ext: str, world: str
) -> None:
    out = write_world_dataset(
        kind, 3, tmp_path / kind, seed=4, workers=1, quiet=True, duration_s=1.5
    )
    rows = _rows(out)
    assert [r["file_name"] for r in rows] == [f"clip_{i:06d}{ext}" for i in range(3)]
    for i, r in enumerate(rows):
        assert (out / r["file_name"]).stat().st_size > 0
        assert r["text"] in r["captions"] and len(r["captions"]) >= 3
        assert r["world"] == world and r["seed"] == clip_seed(4, i)
    assert (out / MANIFEST).is_file() and not (out / PARTIAL).exists()
    assert not [p for p in out.iterdir() if ".tmp-" in p.name]
    if kind == "av":
        assert all("events" in r for r in rows)
        ds = WorldDataset(out, "av", size=32, fps=8, num_frames=12)
        item = ds[0]
        assert item["video"].shape == (3, 12, 32, 32) and item["audio"].shape == (24000,)


def test_parallel_equals_serial_and_clip_seeds(tmp_path: Path) -> None:
    a = write_world_dataset(
        "audio", 4, tmp_path / "a", seed=9, workers=1, quiet=True, duration_s=1.0
    )
    b = write_world_dataset(
        "audio", 4, tmp_path / "b", seed=9, workers=2, quiet=True, duration_s=1.0
    )
    assert (a / "metadata.jsonl").read_bytes() == (b / "metadata.jsonl").read_bytes()
    for r in _rows(a):
        assert (a / r["file_name"]).read_bytes() == (b / r["file_name"]).read_bytes()
    seeds = {clip_seed(9, i) for i in range(1000)}
    assert len(seeds) == 1000 and clip_seed(9, 3) == clip_seed(9, 3) != clip_seed(10, 3)


def test_resume_renders_only_what_is_missing(tmp_path: Path, monkeypatch) -> None:
    out = write_world_dataset(
        "audio", 4, tmp_path / "d", seed=2, workers=1, quiet=True, duration_s=1.0
    )
    full = (out / "metadata.jsonl").read_text()
    lines = full.splitlines()
    # a crash after clips 0, 1 and 3: their rows in the partial file, clip 2 never written
    (out / "metadata.jsonl").unlink()
    (out / "clip_000002.wav").unlink()
    (out / PARTIAL).write_text("\n".join([lines[0], lines[1], lines[3]]) + "\n" + lines[2][:20])
    rendered = []
    real = dataset.render_record
    monkeypatch.setattr(
        dataset, "render_record", lambda req, i, o: rendered.append(i) or real(req, i, o)
    )
    write_world_dataset("audio", 4, out, seed=2, workers=1, quiet=True, duration_s=1.0)
    assert rendered == [2]
    assert (out / "metadata.jsonl").read_text() == full
    # complete: nothing to do
    write_world_dataset("audio", 4, out, seed=2, workers=1, quiet=True, duration_s=1.0)
    assert rendered == [2]


def test_other_data_in_the_folder_is_refused(tmp_path: Path) -> None:
    out = write_world_dataset(
        "audio", 1, tmp_path / "d", seed=2, workers=1, quiet=True, duration_s=1.0
    )
    with pytest.raises(AvgenError, match="different data set"):
        write_world_dataset("audio", 1, out, seed=3, workers=1, quiet=True, duration_s=1.0)
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "song.wav").write_bytes(b"RIFF")
    with pytest.raises(AvgenError, match="not empty"):
        write_world_dataset("audio", 1, mine, workers=1, quiet=True)


def test_raga_set_and_default_exclusion(tmp_path: Path) -> None:
    out = write_world_dataset(
        "audio", 2, tmp_path / "raga", instruments=["sitar", "shanai"], workers=1, quiet=True
    )
    assert {r["instrument"] for r in _rows(out)} <= {"sitar", "shanai"}
    request = json.loads((out / MANIFEST).read_text())["request"]
    assert request["instruments"] == ["sitar", "shanai"] and request["exclude"] is None
    base = dataset._request("audio", 1, 0, 64, 8, None, None, "exclude", None)
    assert base["exclude"] == ["sitar", "shanai"]


@pytest.mark.parametrize(
    ("args", "kwargs", "match"),
    [
        (("audio", 0), {}, "count"),
        (("audio", -3), {}, "count"),
        (("smell", 2), {}, "kind"),
        (("audio", 2), {"instruments": ["kazoo"]}, "kazoo"),
        (("audio", 2), {"exclude": ["theremin"]}, "theremin"),
        (("video", 2), {"heldout": "maybe"}, "heldout"),
        (("video", 2), {"size": 4}, "size"),
        (("video", 2), {"workers": 0}, "workers"),
        (("av", 2), {"duration_s": 60.0}, "duration_s"),
    ],
)
def test_bad_input(tmp_path: Path, args, kwargs, match) -> None:
    with pytest.raises(AvgenError, match=match):
        write_world_dataset(*args, tmp_path / "x", quiet=True, **kwargs)
    assert not (tmp_path / "x").exists() or not os.listdir(tmp_path / "x")
