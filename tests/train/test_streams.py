"""The trainers' step-indexed random streams and data order (avgen.train.streams)."""

from __future__ import annotations

import random

import numpy as np
import torch

from avgen.train.streams import batch_at, derive, epoch_order, reseed_step, seed_init


def _draws(gen: torch.Generator) -> tuple:
    return (
        torch.rand(3, generator=gen).tolist(),
        torch.rand(3).tolist(),
        np.random.rand(3).tolist(),
        [random.random() for _ in range(3)],
    )


def test_a_step_draws_the_same_numbers_whatever_came_before() -> None:
    gen = torch.Generator()
    reseed_step(gen, 0, "dit", 7)
    first = _draws(gen)
    torch.randn(1000), np.random.rand(50), random.random()  # an export copy, a log line...
    reseed_step(gen, 0, "dit", 7)
    assert _draws(gen) == first
    others = [(1, "dit", 7, 0), (0, "vae", 7, 0), (0, "dit", 8, 0), (0, "dit", 7, 1)]
    for seed, name, step, process in others:
        reseed_step(gen, seed, name, step, process)
        assert all(a != b for a, b in zip(_draws(gen), first))


def test_model_construction_is_seeded_by_run_and_component() -> None:
    seed_init(3, "denoiser")
    a = torch.nn.Linear(4, 4).weight.clone()
    torch.randn(100)
    seed_init(3, "denoiser")
    assert torch.equal(torch.nn.Linear(4, 4).weight, a)
    seed_init(3, "vae")
    assert not torch.equal(torch.nn.Linear(4, 4).weight, a)


def test_derive_takes_negative_and_huge_seeds() -> None:
    assert derive(-1, "x") != derive(1, "x")
    assert 0 <= derive(10**30, "x", n=2)[1] < 2**63


def test_batches_walk_each_epochs_permutation() -> None:
    n, batch = 10, 3  # three batches an epoch, the tenth item dropped
    for epoch in range(3):
        order = epoch_order(n, 5, epoch)
        got = torch.cat([batch_at(n, batch, 5, 3 * epoch + k) for k in range(3)])
        assert torch.equal(got, order[:9])
    assert not torch.equal(epoch_order(n, 5, 0), epoch_order(n, 5, 1))
    assert torch.equal(batch_at(n, batch, 5, 4), batch_at(n, batch, 5, 4))
    assert len(batch_at(2, 8, 0, 0)) == 2  # a data set smaller than a batch: all of it


def test_processes_take_disjoint_shares() -> None:
    n, batch, world = 17, 2, 3
    for step in range(8):
        parts = [batch_at(n, batch, 1, step, rank, world) for rank in range(world)]
        flat = torch.cat(parts).tolist()
        assert len(flat) == len(set(flat)) == batch * world
    assert len(batch_at(2, 4, 0, 0, rank=3, world=4)) == 2  # more processes than items
