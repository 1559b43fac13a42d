"""The training loop's pieces (avgen.train.common) and recipe flags (avgen.train.options)."""

from __future__ import annotations

import argparse
import math
import time

import pytest
import torch

from avgen.errors import AvgenError
from avgen.train.common import TimeBudget, make_optimizer, scheduled_lr, warmup_lr
from avgen.train.options import LoopOptions, add_loop_options, loop_options


def _parse(*argv: str) -> argparse.Namespace:
    p = argparse.ArgumentParser()
    add_loop_options(p)
    return p.parse_args(list(argv))


def test_constant_schedule_is_the_warm_up_alone() -> None:
    for step in (0, 5, 9, 10, 500):
        assert scheduled_lr(1e-3, step, 10) == warmup_lr(step, 1e-3, 10)
    assert scheduled_lr(1e-3, 0, 10) == pytest.approx(1e-4)
    assert scheduled_lr(1e-3, 50, 10, "constant", 0.9) == 1e-3


def test_cosine_schedule_is_the_gpu_tools_recipe() -> None:
    """Warm-up times a cosine from 1 to ``min_ratio`` over the progress (the time budget)."""
    lr, warmup = 5e-4, 300
    for step, frac in ((0, 0.0), (150, 0.1), (299, 0.3), (1000, 0.5), (3000, 0.99), (4000, 1.0)):
        warm = min(1.0, (step + 1) / warmup)
        want = lr * warm * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * frac)))
        assert scheduled_lr(lr, step, warmup, "cosine", frac, 0.1) == want
    assert scheduled_lr(lr, 10_000, warmup, "cosine", 2.0, 0.1) == pytest.approx(0.1 * lr)


def test_time_budget() -> None:
    assert TimeBudget(None).fraction() == 0.0 and not TimeBudget(None).spent()
    budget = TimeBudget(1.0)
    assert 0.0 <= budget.fraction() < 0.01 and not budget.spent()
    budget.started = time.time() - 61.0
    assert budget.spent() and budget.fraction() > 1.0


def test_loop_options_defaults_are_the_cpu_recipe() -> None:
    opts = loop_options(_parse())
    assert opts == LoopOptions()
    assert opts.mixed_precision is None and opts.schedule == "constant"
    assert opts.ema_max_decay == 0.999
    assert opts.warmup_steps(100) == 10 and opts.warmup_steps(20_000) == 200
    gpu = loop_options(_parse("--mixed-precision", "bf16", "--lr-schedule", "cosine",
                              "--warmup", "300"))  # fmt: skip
    assert (gpu.mixed_precision, gpu.schedule, gpu.warmup_steps(100)) == ("bf16", "cosine", 300)
    opt = make_optimizer([torch.nn.Parameter(torch.zeros(2))], 1e-3)
    assert opt.defaults["betas"] == (0.9, 0.99) and opt.defaults["weight_decay"] == 0.0


def test_bad_loop_options() -> None:
    with pytest.raises(AvgenError, match="--warmup"):
        loop_options(_parse("--warmup", "-1"))
    with pytest.raises(AvgenError, match="--min-lr-ratio"):
        loop_options(_parse("--min-lr-ratio", "1.5"))
    with pytest.raises(AvgenError, match="--ema-max-decay"):
        loop_options(_parse("--ema-max-decay", "1"))
