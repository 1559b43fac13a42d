"""Tests for avgen.diffusion.flow: the rectified-flow loss, schedule and samplers."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from avgen.diffusion import (
    concat_conditions,
    flow_matching_loss,
    sample,
    sample_timesteps,
    timestep_schedule,
)
from avgen.errors import AvgenError

pytestmark = pytest.mark.usefixtures("one_thread")


class PointModel(nn.Module):
    """The exact velocity for data that is one point c = cond["c"]: v = (x - c) / t."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[int] = []

    def forward(self, x, t, cond):
        self.calls.append(x.shape[0])
        c = cond["c"]
        return (x - c) / t.view(-1, *([1] * (x.ndim - 1)))


def test_timestep_schedule_endpoints_and_shift():
    t = timestep_schedule(10)
    assert t.shape == (11,)
    assert t[0] == 1.0 and t[-1] == 0.0
    assert torch.all(t[1:] < t[:-1])
    s = timestep_schedule(10, shift=3.0)
    u = torch.linspace(1, 0, 11)
    assert torch.allclose(s, 3 * u / (1 + 2 * u), atol=1e-6)
    assert torch.all(s[1:-1] > t[1:-1])  # shift > 1 stays at high noise longer
    with pytest.raises(AvgenError):
        timestep_schedule(0)


def test_sample_timesteps_range_and_seed():
    a = sample_timesteps(1000, torch.Generator().manual_seed(0))
    b = sample_timesteps(1000, torch.Generator().manual_seed(0))
    assert torch.equal(a, b)
    assert a.min() > 0 and a.max() < 1
    assert abs(float(a.mean()) - 0.5) < 0.03  # logit-normal(0, 1) is symmetric about 0.5
    u = sample_timesteps(1000, torch.Generator().manual_seed(0), scheme="uniform")
    assert float(u.std()) > float(a.std())  # logit-normal concentrates mid-range
    with pytest.raises(AvgenError):
        sample_timesteps(4, scheme="cosine")


def test_flow_loss_decreases_on_toy_problem():
    torch.manual_seed(0)
    centres = torch.tensor([[2.0, -1.0], [-2.0, 1.0]])

    class MLP(nn.Module):
        def __init__(self):
            super().__init__()
            self.net = nn.Sequential(nn.Linear(3, 64), nn.SiLU(), nn.Linear(64, 2))

        def forward(self, x, t, cond):
            return self.net(torch.cat([x, t[:, None]], dim=1))

    model = MLP()
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)

    def eval_loss() -> float:
        g = torch.Generator().manual_seed(123)
        x0 = centres[torch.arange(256) % 2]
        with torch.no_grad():
            return float(flow_matching_loss(model, x0, {}, g))

    before = eval_loss()
    g = torch.Generator().manual_seed(1)
    for _ in range(40):
        x0 = centres[torch.randint(0, 2, (64,), generator=g)]
        loss = flow_matching_loss(model, x0, {}, g)
        opt.zero_grad()
        loss.backward()
        opt.step()
    after = eval_loss()
    assert after < 0.6 * before, (before, after)


def test_flow_loss_mask_weights_and_determinism():
    x0 = torch.randn(2, 3, 8)
    model = lambda x, t, c: torch.zeros_like(x)  # noqa: E731
    g = lambda: torch.Generator().manual_seed(5)  # noqa: E731
    a = flow_matching_loss(model, x0, {}, g())
    assert torch.equal(a, flow_matching_loss(model, x0, {}, g()))
    # masking half the frames averages only over the kept ones
    big = x0.clone()
    big[..., 4:] = 1e3
    mask = torch.zeros(2, 1, 8)
    mask[..., :4] = 1
    masked = flow_matching_loss(model, big, {}, g(), mask=mask)
    assert masked < 20
    # weights: a zero weight removes a sample (whatever it holds)
    w10 = torch.tensor([1.0, 0.0])
    other = x0.clone()
    other[1] = -50.0
    a = flow_matching_loss(model, x0, {}, g(), weights=w10)
    assert torch.allclose(a, flow_matching_loss(model, other, {}, g(), weights=w10))
    assert not torch.allclose(a, flow_matching_loss(model, other, {}, g()))


def test_sampler_exact_velocity_recovers_point_euler_and_heun():
    c = torch.randn(2, 4, 6)
    for method, calls in (("euler", 5), ("heun", 9)):
        m = PointModel()
        out = sample(
            m,
            (2, 4, 6),
            {"c": c},
            num_inference_steps=5,
            method=method,
            generator=torch.Generator().manual_seed(0),
        )
        assert torch.allclose(out, c, atol=1e-5)
        assert len(m.calls) == calls


def test_guidance_batches_and_extrapolates():
    c1, c0 = torch.ones(3, 5), torch.zeros(1, 5)
    m = PointModel()
    g1 = sample(
        m,
        (3, 5),
        {"c": c1},
        {"c": c0},
        num_inference_steps=4,
        guidance_scale=1.0,
        generator=torch.Generator().manual_seed(0),
    )
    assert m.calls == [3] * 4  # guidance 1: conditional pass only
    assert torch.allclose(g1, c1, atol=1e-5)
    m = PointModel()
    g3 = sample(
        m,
        (3, 5),
        {"c": c1},
        {"c": c0},
        num_inference_steps=4,
        guidance_scale=3.0,
        generator=torch.Generator().manual_seed(0),
    )
    assert m.calls == [6] * 4  # cond and uncond in one call
    assert float(g3.mean()) > 1.5  # pushed beyond c1, away from c0
    m = PointModel()
    sample(
        m,
        (3, 5),
        {"c": c1},
        {"c": c0},
        num_inference_steps=4,
        guidance_scale=3.0,
        guidance_interval=(0.0, 0.6),
        generator=torch.Generator().manual_seed(0),
    )
    assert m.calls == [3, 3, 6, 6]  # t = 1, 0.75 skip guidance
    with pytest.raises(AvgenError):
        sample(m, (3, 5), {"c": c1}, num_inference_steps=2, guidance_scale=2.0)


def test_sampler_seeded_determinism_and_callback():
    net = nn.Linear(6, 6)
    model = lambda x, t, c: net(x) * t[:, None]  # noqa: E731
    steps: list[tuple[int, int]] = []
    a = sample(
        model,
        (2, 6),
        {},
        num_inference_steps=7,
        shift=3.0,
        generator=torch.Generator().manual_seed(3),
        callback=lambda i, n: steps.append((i, n)),
    )
    b = sample(
        model,
        (2, 6),
        {},
        num_inference_steps=7,
        shift=3.0,
        generator=torch.Generator().manual_seed(3),
    )
    c = sample(
        model,
        (2, 6),
        {},
        num_inference_steps=7,
        shift=3.0,
        generator=torch.Generator().manual_seed(4),
    )
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert steps == [(i, 7) for i in range(1, 8)]


def test_inpaint_keeps_known_region():
    net = nn.Linear(8, 8)
    model = lambda x, t, c: net(x)  # noqa: E731
    known = torch.randn(2, 3, 8)
    keep = torch.zeros(1, 1, 8)
    keep[..., :3] = 1
    out = sample(
        model,
        (2, 3, 8),
        {},
        num_inference_steps=6,
        inpaint=(known, keep),
        generator=torch.Generator().manual_seed(0),
    )
    assert torch.allclose(out[..., :3], known[..., :3], atol=1e-6)
    assert not torch.allclose(out[..., 3:], known[..., 3:], atol=1e-2)


def test_sdedit_start_from_x_init():
    x_init = torch.randn(2, 4)
    zero = lambda x, t, c: torch.zeros_like(x)  # noqa: E731
    g = torch.Generator().manual_seed(9)
    out = sample(zero, (2, 4), {}, num_inference_steps=3, x_init=x_init, t_start=0.2, generator=g)
    noise = torch.randn((2, 4), generator=torch.Generator().manual_seed(9))
    assert torch.allclose(out, 0.8 * x_init + 0.2 * noise, atol=1e-6)
    m = PointModel()
    c = torch.randn(2, 4)
    out = sample(m, (2, 4), {"c": c}, num_inference_steps=3, x_init=x_init, t_start=0.5)
    assert torch.allclose(out, c, atol=1e-5)
    with pytest.raises(AvgenError):
        sample(zero, (2, 4), {}, num_inference_steps=3, x_init=x_init, t_start=1.5)
    with pytest.raises(AvgenError):
        sample(zero, (2, 4), {}, num_inference_steps=3, t_start=0.5)


def test_concat_conditions_pads_and_copies_missing_keys():
    cond = {
        "tokens": torch.ones(2, 5, 3),
        "mask": torch.ones(2, 5, dtype=torch.bool),
        "pooled": torch.ones(2, 3),
        "tempo": torch.tensor([100.0, 120.0]),
    }
    uncond = {
        "tokens": torch.zeros(1, 2, 3),
        "mask": torch.zeros(1, 2, dtype=torch.bool),
        "pooled": torch.zeros(1, 3),
    }
    both = concat_conditions(cond, uncond)
    assert both["tokens"].shape == (4, 5, 3)
    assert both["mask"].dtype == torch.bool and both["mask"][2:].sum() == 0
    assert both["mask"][:2].all()
    assert torch.equal(both["tempo"], torch.tensor([100.0, 120.0, 100.0, 120.0]))
