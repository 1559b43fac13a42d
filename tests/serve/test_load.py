"""50 concurrent submissions: each completes or gets 429, none lost or mixed up, health answers
throughout (benchmarks/serve_load.py; its recorded numbers are in benchmarks/results/serve.md)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "benchmarks"))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from helpers import LiveServer, tiny_audio_model, tiny_video_model  # noqa: E402
from serve_load import check, run_load, warm_up  # noqa: E402


@pytest.mark.slow
def test_fifty_concurrent_submissions(tmp_path: Path, one_thread) -> None:
    models = [
        f"tiny={tiny_audio_model(tmp_path / 'a')}",
        f"tinyv={tiny_video_model(tmp_path / 'v')}",
    ]
    with LiveServer(tmp_path / "results", models, max_queue=8) as server:
        warm_up(server.url, ("tiny", "tinyv"))
        findings = run_load(server.url, 50, ("tiny", "tinyv"))
    assert check(findings) == []
    assert findings["accepted"] >= 8 and findings["rejected_429"] >= 1
    assert findings["done"] == findings["accepted"] == findings["distinct_files"]
