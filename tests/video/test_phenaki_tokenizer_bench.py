"""benchmarks/phenaki_tokenizer.py with a tiny random tokenizer on a few held-out clips."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "benchmarks"))

from phenaki_tokenizer import codebook_stats, errors, main, run  # noqa: E402

from avgen.errors import AvgenError  # noqa: E402
from avgen.video.cvivit import CViViT  # noqa: E402


def test_codebook_stats_and_errors():
    even = codebook_stats(torch.tensor([5, 5, 5, 5, 0, 0, 0, 0]))
    assert even["used"] == 4 and even["usage"] == 0.5
    assert even["perplexity"] == pytest.approx(4.0)
    assert codebook_stats(torch.tensor([9, 0, 0]))["perplexity"] == pytest.approx(1.0)
    truth = np.full((5, 16, 16, 3), 100, np.uint8)
    truth[:, 4:8, 4:8] = 250  # a still square: no moving pixels
    same = errors(truth, truth)
    assert same["mse"] == 0 and same["moving_share"] == 0 and "mse_moving" not in same
    moving = truth.copy()
    for f in range(5):
        moving[f, 10:13, f : f + 3] = 0
    off = errors(truth, moving)  # the reconstruction lost the moving object
    assert off["mse_moving"] > off["mse"] > 0


def test_run_writes_the_report(tmp_path: Path):
    torch.manual_seed(0)
    tok = CViViT(stem_channels=(4, 8, 16), hidden_size=16, num_layers=1, num_heads=2)
    tok.save_pretrained(tmp_path / "model" / "tokenizer")  # a Phenaki folder's layout
    out = tmp_path / "report"
    r = run(tmp_path / "model", 2, out, duration=1.0)
    assert r["clips"] == 2 and r["token_grid"] == [5, 8, 8] and r["frames"] == 8
    assert 0 < r["codebook"]["usage"] <= 1 and 1 <= r["codebook"]["perplexity"] <= 1000
    assert 0 < r["tokenizer"]["mse"] < 4 and np.isfinite(r["tokenizer"]["psnr"])
    assert r["pass_truth"]["colour"] == 100.0  # the checkers pass the rendered clips
    text = out.read_text()
    assert "Codebook usage" in text and "| colour |" in text
    assert json.loads(out.with_suffix(".json").read_text())["clips"] == 2
    with pytest.raises(AvgenError, match="no C-ViViT"):
        main(["--model", str(tmp_path), "--count", "1", "--out", str(tmp_path / "x")])
