"""Tests for avgen.text: the bundled frozen MiniLM text encoder (offline)."""

from __future__ import annotations

import warnings

import pytest
import torch

from avgen.errors import AvgenError
from avgen.text import TextEncoder

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def encoder() -> TextEncoder:
    return TextEncoder.from_default()


def test_shapes_mask_and_norm(encoder):
    out = encoder.encode(["a slow piano melody", "rain", ""])
    assert encoder.dim == 384
    b, length, d = out["tokens"].shape
    assert (b, d) == (3, 384)
    assert out["mask"].shape == (3, length) and out["mask"].dtype == torch.bool
    assert out["mask"][1].sum() < out["mask"][0].sum()
    assert out["mask"][2].sum() == 2  # the empty prompt is [CLS] [SEP]
    assert torch.all(out["tokens"][~out["mask"]] == 0)
    assert torch.allclose(out["pooled"].norm(dim=-1), torch.ones(3), atol=1e-5)
    assert torch.isfinite(out["tokens"]).all() and torch.isfinite(out["pooled"]).all()


def test_synonyms_closer_than_unrelated(encoder):
    p = encoder.encode(["sax solo", "saxophone solo", "a red ball bouncing on grass"])["pooled"]
    assert float(p[0] @ p[1]) > float(p[0] @ p[2]) + 0.3
    assert float(p[0] @ p[1]) > float(p[1] @ p[2]) + 0.3


def test_cache_is_consistent_across_batches(encoder):
    alone = encoder.encode(["gentle flute over soft drums"])
    batch = encoder.encode(["x", "gentle flute over soft drums", "a much longer prompt " * 3])
    n = int(alone["mask"].sum())
    assert torch.equal(alone["pooled"][0], batch["pooled"][1])
    assert torch.equal(alone["tokens"][0, :n], batch["tokens"][1, :n])
    assert encoder.encode("gentle flute over soft drums")["pooled"].shape == (1, 384)


def test_truncation_warns_once(encoder):
    long = "a violin and a cello playing together " * 20
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = encoder.encode([long], max_length=32)
        encoder.encode([long], max_length=32)
    assert out["tokens"].shape[1] == 32
    assert sum("truncated" in str(w.message) for w in caught) == 1


def test_bad_inputs(encoder):
    with pytest.raises(AvgenError):
        encoder.encode([])
    with pytest.raises(AvgenError):
        TextEncoder("/nonexistent/folder")
