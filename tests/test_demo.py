"""The main job's demo clip: an MP4 with h264 + aac of matching duration, reproducible by rerun."""

from __future__ import annotations

import hashlib
from pathlib import Path

from avgen import api, cli
from avgen.media import probe, read_mp4
from avgen.sidecar import read_sidecar


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_demo_mp4_has_h264_and_aac_of_matching_duration(tmp_path: Path, capsys) -> None:
    out = tmp_path / "demo.mp4"
    try:
        cli.main(["demo", "-o", str(out)])
    except SystemExit as exc:
        assert exc.code == 0
    assert capsys.readouterr().out.strip() == str(out)
    info = probe(out)
    streams = {s["type"]: s for s in info["streams"]}
    assert streams["video"]["codec"] == "h264"
    assert streams["audio"]["codec"] == "aac"
    assert streams["video"]["pix_fmt"] == "yuv420p"
    assert min(streams["video"]["width"], streams["video"]["height"]) >= 256
    assert abs(streams["video"]["duration_s"] - streams["audio"]["duration_s"]) < 0.05
    frames, fps, audio, sr = read_mp4(out)
    assert audio is not None and abs(audio.size / sr - frames.shape[0] / fps) < 0.05
    record = read_sidecar(out.with_name("demo.mp4.json"))
    assert record["command"] == "demo"
    assert record["prompt"]


def test_rerun_regenerates_the_same_bytes(tmp_path: Path) -> None:
    first = api.render_demo(tmp_path / "a.mp4", seed=3)
    again = api.rerun(tmp_path / "a.mp4.json", tmp_path / "b.mp4")
    assert again == [tmp_path / "b.mp4"]
    assert _sha(first) == _sha(tmp_path / "b.mp4")
    assert not list(tmp_path.glob(".*tmp*"))
