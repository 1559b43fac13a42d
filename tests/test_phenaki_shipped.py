"""The shipped Phenaki folder (``avgen/models/phenaki``): its files, its size budget, and
``avgen video --engine phenaki`` end to end with and without a motion plan."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from avgen import cli
from avgen.media import read_mp4
from avgen.pipelines.phenaki import default_phenaki_model_dir

SHIPPED = default_phenaki_model_dir()
pytestmark = pytest.mark.skipif(
    not (SHIPPED / "pipeline.json").is_file(), reason="no shipped Phenaki model"
)


def run(argv: list[str], capsys) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as info:
        cli.main(argv)
    out, err = capsys.readouterr()
    return int(info.value.code), out, err


def test_shipped_folder_is_complete_and_within_budget() -> None:
    files = sorted(p.relative_to(SHIPPED).as_posix() for p in SHIPPED.rglob("*") if p.is_file())
    for name in ("pipeline.json", "MODEL_CARD.md", "tokenizer/config.json", "maskgit/config.json"):
        assert name in files
    assert not [f for f in files if f.endswith((".pt", ".pth", ".bin", ".pkl", ".ckpt"))]
    assert sum((SHIPPED / f).stat().st_size for f in files) <= 12 * 2**20
    cfg = json.loads((SHIPPED / "pipeline.json").read_text())
    assert cfg["engine"] == "phenaki"
    card = (SHIPPED / "MODEL_CARD.md").read_text()
    assert "avgen train phenaki" in card or "avgen.train.phenaki" in card
    maskgit = json.loads((SHIPPED / "maskgit" / "config.json").read_text())
    assert maskgit.get("layout_dim", 0) > 0  # the shipped MaskGIT reads motion plans


def test_engine_phenaki_generates_with_and_without_a_plan(tmp_path: Path, capsys) -> None:
    fast = ["--engine", "phenaki", "--duration", "1", "--steps", "2", "--quiet", "--upscale", "0"]
    prompt = "a red ball falling"
    planned, plain = tmp_path / "planned.mp4", tmp_path / "plain.mp4"
    code, _, err = run(["video", prompt, "-o", str(planned), *fast], capsys)
    assert code == 0, err
    code, _, err = run(["video", prompt, "-o", str(plain), "--no-plan", *fast], capsys)
    assert code == 0, err
    a, b = read_mp4(planned)[0], read_mp4(plain)[0]
    assert a.shape == b.shape == (8, 64, 64, 3)
    assert not np.array_equal(a, b)  # the plan changed the picture
    side = json.loads(Path(str(planned) + ".json").read_text())
    assert side["engine"] == "phenaki" and side["plan_source"] == "planner"
    assert json.loads(Path(str(plain) + ".json").read_text())["plan_source"] == "off"
