"""Tests for avgen.audio.denoiser: the text-conditioned latent DiT (tiny configs)."""

from __future__ import annotations

import math

import pytest
import torch

from avgen.audio.denoiser import AudioDenoiser, beat_grid
from avgen.audio.vae import MelVAE
from avgen.diffusion import concat_conditions, flow_matching_loss, sample
from avgen.errors import AvgenError

pytestmark = pytest.mark.usefixtures("one_thread")


TINY = {"latent_channels": 4, "hidden_size": 32, "num_layers": 2, "num_heads": 2, "text_dim": 24}


def tiny(**kw) -> AudioDenoiser:
    """A tiny denoiser with its zero-initialised (adaLN-Zero) layers made non-zero."""
    torch.manual_seed(0)
    model = AudioDenoiser(**{**TINY, **kw}).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.05)
    return model


def make_cond(b: int, length: int = 5, seed: int = 1, **extra) -> dict:
    g = torch.Generator().manual_seed(seed)
    mask = torch.ones(b, length, dtype=torch.bool)
    mask[0, 3:] = False
    return {
        "tokens": torch.randn(b, length, 24, generator=g) * mask[..., None],
        "mask": mask,
        "pooled": torch.randn(b, 24, generator=g),
        **extra,
    }


@pytest.mark.parametrize("frames", [1, 7, 25, 150])
@pytest.mark.parametrize("patch", [1, 2])
def test_shapes_for_several_lengths(frames, patch):
    model = tiny(patch=patch)
    x = torch.randn(2, 4, 16, frames)
    with torch.no_grad():
        v = model(x, torch.rand(2), make_cond(2, tempo=torch.tensor([120.0, float("nan")])))
    assert v.shape == x.shape and torch.isfinite(v).all()


def test_zero_init_and_determinism():
    x = torch.randn(2, 4, 16, 10)
    fresh = AudioDenoiser(**TINY)
    with torch.no_grad():
        assert torch.equal(fresh(x, torch.rand(2), make_cond(2)), torch.zeros_like(x))
    model = tiny()
    with torch.no_grad():
        a = model(x, torch.full((2,), 0.3), make_cond(2))
        b = model(x, torch.full((2,), 0.3), make_cond(2))
        c = model(x, torch.full((2,), 0.7), make_cond(2))
    assert torch.equal(a, b) and not torch.allclose(a, c)


def test_conditions_change_the_output():
    model = tiny()
    x, t = torch.randn(2, 4, 16, 12), torch.full((2,), 0.5)
    with torch.no_grad():
        base = model(x, t, make_cond(2))
        for extra in (
            {"tempo": torch.tensor([90.0, 150.0])},
            {"seconds": torch.tensor([4.0, 10.0])},
            {"beat": torch.rand(2, 12, 4)},
        ):
            assert not torch.allclose(base, model(x, t, make_cond(2, **extra)), atol=1e-5)
        other_text = model(x, t, make_cond(2, seed=7))
    assert not torch.allclose(base, other_text, atol=1e-5)


def test_padding_invariance_for_cfg_batching():
    """cond and null rows batched together (padded tokens) give the per-row results."""
    model = tiny()
    x, t = torch.randn(1, 4, 16, 9), torch.full((1,), 0.4)
    cond = make_cond(1, length=6)
    cond["mask"][:] = True
    null = model.null_condition(1)
    with torch.no_grad():
        v_c = model(x, t, cond)
        v_u = model(x, t, null)
        both = model(torch.cat([x, x]), torch.cat([t, t]), concat_conditions(cond, null))
    assert torch.isfinite(v_u).all()
    assert torch.allclose(both[:1], v_c, atol=1e-5) and torch.allclose(both[1:], v_u, atol=1e-5)
    zeroed = {"tokens": cond["tokens"] * 0, "mask": cond["mask"] & False, "pooled": null["pooled"]}
    with torch.no_grad():
        assert torch.allclose(model(x, t, zeroed), v_u, atol=1e-5)


def test_frame_mask_hides_padding():
    model = tiny(patch=1)
    x, t = torch.randn(1, 4, 16, 8), torch.full((1,), 0.5)
    fm = torch.tensor([[True] * 5 + [False] * 3])
    y = x.clone()
    y[..., 5:] = 7.0  # different padding content
    with torch.no_grad():
        a = model(x, t, make_cond(1, frame_mask=fm))
        b = model(y, t, make_cond(1, frame_mask=fm))
    assert torch.allclose(a[..., :5], b[..., :5], atol=1e-5)


def test_beat_grid_period():
    grid = beat_grid(torch.tensor([120.0, float("nan")]), 50, 0.04)
    assert grid.shape == (2, 50, 4)
    assert torch.all(grid[1] == 0)
    # 120 BPM: one beat per 0.5 s = 12.5 frames of 40 ms; the beat phase repeats every 25 frames
    assert torch.allclose(grid[0, :25, :2], grid[0, 25:50, :2], atol=1e-4)
    phase = torch.atan2(grid[0, 0, 0], grid[0, 0, 1])
    assert float(phase) == pytest.approx(2 * math.pi * 0.02 * 2, abs=1e-5)


def test_round_trip_foreign_and_bad_inputs(tmp_path):
    model = tiny()
    model.save_pretrained(tmp_path / "den")
    loaded = AudioDenoiser.from_pretrained(tmp_path / "den")
    x, t = torch.randn(2, 4, 16, 11), torch.rand(2)
    cond = make_cond(2, tempo=torch.tensor([100.0, 80.0]), seconds=torch.tensor([3.0, 5.0]))
    with torch.no_grad():
        assert torch.equal(loaded(x, t, cond), model(x, t, cond))
    MelVAE(block_out_channels=(4, 4, 4)).save_pretrained(tmp_path / "vae")
    with pytest.raises(AvgenError):
        AudioDenoiser.from_pretrained(tmp_path / "vae")
    with pytest.raises(AvgenError):
        model(torch.randn(2, 8, 16, 11), t, cond)
    with pytest.raises(AvgenError):
        model(x, t, make_cond(2, beat=torch.zeros(2, 10, 4)))


def test_trains_and_samples_with_guidance():
    model = AudioDenoiser(**TINY)
    g = torch.Generator().manual_seed(0)
    x0 = torch.randn(4, 4, 16, 8, generator=g)
    cond = make_cond(4)
    opt = torch.optim.Adam(model.parameters(), lr=2e-3)
    losses = []
    for step in range(30):
        loss = flow_matching_loss(model, x0, cond, torch.Generator().manual_seed(step % 3))
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert sum(losses[-3:]) < 0.8 * sum(losses[:3])
    model.eval()
    null = model.null_condition(4)
    out1 = sample(
        model,
        (4, 4, 16, 8),
        cond,
        null,
        num_inference_steps=4,
        guidance_scale=1.0,
        generator=torch.Generator().manual_seed(1),
    )
    out3 = sample(
        model,
        (4, 4, 16, 8),
        cond,
        null,
        num_inference_steps=4,
        guidance_scale=3.0,
        generator=torch.Generator().manual_seed(1),
    )
    assert out1.shape == (4, 4, 16, 8) and torch.isfinite(out3).all()
    assert not torch.allclose(out1, out3)
