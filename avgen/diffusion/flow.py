"""Rectified-flow training loss and Euler/Heun samplers (SD3, arXiv 2403.03206).

The time convention is in ``avgen/diffusion/__init__.py``. Own code: diffusers'
``FlowMatchEulerDiscreteScheduler`` does the same Euler step, but owning the loop lets one
function handle batched classifier-free guidance, guidance limited to an interval of t
(arXiv 2404.07724), SDEdit-style starts (``x_init`` + ``t_start``) and RePaint-style
inpainting for every avgen denoiser.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import torch

from avgen.errors import AvgenError

Cond = Mapping[str, Any]
Denoiser = Callable[[torch.Tensor, torch.Tensor, Cond], torch.Tensor]


def _randn(
    shape: tuple[int, ...],
    generator: torch.Generator | None,
    device: torch.device | str | None,
    dtype: torch.dtype = torch.float32,
) -> torch.Tensor:
    """Gaussian noise drawn on the generator's device (so seeds agree across devices)."""
    gen_device = generator.device if generator is not None else device
    noise = torch.randn(shape, generator=generator, device=gen_device, dtype=dtype)
    return noise.to(device) if device is not None else noise


def sample_timesteps(
    batch: int,
    generator: torch.Generator | None = None,
    device: torch.device | str | None = None,
    scheme: str = "logit_normal",
    *,
    mean: float = 0.0,
    std: float = 1.0,
) -> torch.Tensor:
    """Training timesteps (B,) in (0, 1): ``logit_normal`` (SD3's best; sigmoid of N(mean, std))
    or ``uniform``."""
    gen_device = generator.device if generator is not None else device
    if scheme == "logit_normal":
        u = torch.randn(batch, generator=generator, device=gen_device) * std + mean
        t = torch.sigmoid(u)
    elif scheme == "uniform":
        t = torch.rand(batch, generator=generator, device=gen_device)
    else:
        raise AvgenError(f"timestep scheme {scheme!r} is unknown; use 'logit_normal' or 'uniform'.")
    return t.to(device) if device is not None else t


def flow_matching_loss(
    model: Denoiser,
    x0: torch.Tensor,
    cond: Cond,
    generator: torch.Generator | None = None,
    mask: torch.Tensor | None = None,
    *,
    weights: torch.Tensor | None = None,
    t: torch.Tensor | None = None,
    scheme: str = "logit_normal",
) -> torch.Tensor:
    """Mean squared error between ``model(x_t, t, cond)`` and the velocity ``noise - x0``.

    ``mask`` (broadcastable to x0; 1 = counts) averages only over real elements (padded frames
    of variable-length batches). ``weights`` (B,) scales each sample's mean loss (e.g. min-SNR
    weighting, arXiv 2303.09556); the result is normalised by their sum. ``t`` overrides the
    sampled timesteps (B,).
    """
    b = x0.shape[0]
    if t is None:
        t = sample_timesteps(b, generator, x0.device, scheme)
    t = t.to(device=x0.device, dtype=x0.dtype)
    noise = _randn(tuple(x0.shape), generator, x0.device, x0.dtype)
    tb = t.view(b, *([1] * (x0.ndim - 1)))  # (B, 1, ...)
    x_t = (1 - tb) * x0 + tb * noise
    v = model(x_t, t, cond)
    err = (v.float() - (noise - x0).float()) ** 2  # (B, ...)
    if mask is None:
        per_sample = err.flatten(1).mean(1)  # (B,)
    else:
        m = mask.to(err.dtype).expand_as(err)
        per_sample = (err * m).flatten(1).sum(1) / m.flatten(1).sum(1).clamp_min(1.0)
    if weights is None:
        return per_sample.mean()
    w = weights.to(per_sample)
    return (per_sample * w).sum() / w.sum().clamp_min(1e-12)


def timestep_schedule(num_steps: int, shift: float = 1.0) -> torch.Tensor:
    """Sampling times (num_steps + 1,) from 1 to 0, shifted: t' = shift*t / (1 + (shift-1)*t).

    shift > 1 spends more steps at high noise (SD3 / diffusers ``FlowMatchEulerDiscreteScheduler``
    ``shift``); shift = 1 is a uniform grid.
    """
    if num_steps < 1:
        raise AvgenError(f"num_inference_steps={num_steps} is invalid; use 1 or more.")
    if shift <= 0:
        raise AvgenError(f"shift={shift} is invalid; use a positive number (1 = no shift).")
    t = torch.linspace(1.0, 0.0, num_steps + 1, dtype=torch.float64)
    t = shift * t / (1 + (shift - 1) * t)
    return t.float()


def concat_conditions(cond: Cond, uncond: Cond) -> dict[str, Any]:
    """Stack two condition dicts along the batch for one CFG forward call.

    Keys missing from ``uncond`` are copied from ``cond``; an ``uncond`` of batch 1 is expanded;
    tensors whose dim 1 differs (token sequences and their masks) are zero/False-padded.
    """
    out: dict[str, Any] = {}
    for key, a in cond.items():
        b = uncond.get(key, a)
        if not isinstance(a, torch.Tensor):
            out[key] = a
            continue
        if not isinstance(b, torch.Tensor):
            raise AvgenError(f"uncond[{key!r}] is not a tensor like cond[{key!r}].")
        b = b.to(a.device)
        if b.shape[0] == 1 and a.shape[0] > 1:
            b = b.expand(a.shape[0], *b.shape[1:])
        if a.ndim >= 2 and a.shape[1] != b.shape[1]:
            n = max(a.shape[1], b.shape[1])
            a, b = _pad_dim1(a, n), _pad_dim1(b, n)
        out[key] = torch.cat([a, b.to(a.dtype)], dim=0)
    return out


def _pad_dim1(x: torch.Tensor, n: int) -> torch.Tensor:
    if x.shape[1] == n:
        return x
    pad = torch.zeros(x.shape[0], n - x.shape[1], *x.shape[2:], dtype=x.dtype, device=x.device)
    return torch.cat([x, pad], dim=1)


def _velocity(
    model: Denoiser,
    x: torch.Tensor,
    t: float,
    cond: Cond,
    both: Cond | None,
    guidance_scale: float,
    guided: bool,
) -> torch.Tensor:
    """One (possibly guided) velocity evaluation; ``both`` = cond and uncond in one batch."""
    b = x.shape[0]
    if not guided:
        return model(x, torch.full((b,), t, device=x.device, dtype=x.dtype), cond)
    assert both is not None
    tt = torch.full((2 * b,), t, device=x.device, dtype=x.dtype)
    v_c, v_u = model(torch.cat([x, x]), tt, both).chunk(2)
    return v_u + guidance_scale * (v_c - v_u)


@torch.no_grad()
def sample(
    model: Denoiser,
    shape: tuple[int, ...],
    cond: Cond,
    uncond: Cond | None = None,
    *,
    num_inference_steps: int = 25,
    guidance_scale: float = 1.0,
    generator: torch.Generator | None = None,
    x_init: torch.Tensor | None = None,
    t_start: float = 1.0,
    inpaint: tuple[torch.Tensor, torch.Tensor] | None = None,
    callback: Callable[[int, int], None] | None = None,
    method: str = "euler",
    shift: float = 1.0,
    guidance_interval: tuple[float, float] = (0.0, 1.0),
    device: torch.device | str | None = None,
    dtype: torch.dtype = torch.float32,
) -> torch.Tensor:
    """Integrate the flow ODE from t = t_start down to 0 and return x0 of ``shape``.

    - ``guidance_scale`` != 1 needs ``uncond``: v = v_u + g * (v_c - v_u), both in one call.
    - ``guidance_interval=(lo, hi)``: guidance only while lo <= t <= hi; outside it only the
      conditional pass runs (hi < 1 skips guidance at the highest noise, arXiv 2404.07724).
    - ``x_init`` with ``t_start`` < 1: start from x_init noised to t_start (SDEdit; strength =
      t_start); the shifted schedule is scaled to span [t_start, 0].
    - ``inpaint=(known_x0, keep_mask)``: after every step the kept region (mask 1) is replaced
      by known_x0 noised to the new t with the run's initial noise, so at t = 0 it equals
      known_x0 exactly.
    - ``method``: ``euler`` (one call per step) or ``heun`` (two, except the last step).
    - ``callback(step, total)`` after each step (1-based). Deterministic given ``generator``.
    """
    if method not in ("euler", "heun"):
        raise AvgenError(f"sampler method {method!r} is unknown; use 'euler' or 'heun'.")
    if not 0.0 < t_start <= 1.0:
        raise AvgenError(f"t_start={t_start} is outside (0, 1]; 1 starts from pure noise.")
    if t_start < 1.0 and x_init is None:
        raise AvgenError(f"t_start={t_start} needs x_init (the latent to start from).")
    if guidance_scale != 1.0 and uncond is None:
        raise AvgenError(f"guidance_scale={guidance_scale} needs an unconditional condition.")
    if device is None:
        device = x_init.device if x_init is not None else torch.device("cpu")
    noise = _randn(tuple(shape), generator, device, dtype)
    times = timestep_schedule(num_inference_steps, shift) * t_start
    if x_init is not None and t_start < 1.0:
        if tuple(x_init.shape) != tuple(shape):
            raise AvgenError(f"x_init has shape {tuple(x_init.shape)}, expected {tuple(shape)}.")
        x = (1 - t_start) * x_init.to(device, dtype) + t_start * noise
    else:
        x = noise.clone()
    if inpaint is not None:
        known, keep = inpaint
        known = known.to(device, dtype)
        keep = keep.to(device=device, dtype=dtype).expand(shape)

        def replace(x: torch.Tensor, t: float) -> torch.Tensor:
            return keep * ((1 - t) * known + t * noise) + (1 - keep) * x

        x = replace(x, float(times[0]))
    both = concat_conditions(cond, uncond) if uncond is not None else None
    lo, hi = guidance_interval
    total = len(times) - 1
    for i in range(total):
        t, t_next = float(times[i]), float(times[i + 1])
        guided = guidance_scale != 1.0 and lo <= t <= hi
        v = _velocity(model, x, t, cond, both, guidance_scale, guided)
        x_next = x + (t_next - t) * v
        if method == "heun" and t_next > 0:
            g2 = guidance_scale != 1.0 and lo <= t_next <= hi
            v2 = _velocity(model, x_next, t_next, cond, both, guidance_scale, g2)
            x_next = x + (t_next - t) * 0.5 * (v + v2)
        x = x_next
        if inpaint is not None:
            x = replace(x, t_next)
        if callback is not None:
            callback(i + 1, total)
    return x
