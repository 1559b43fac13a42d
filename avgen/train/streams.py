"""Random streams of avgen's trainers that depend on the step number alone.

A resumed run must continue the random stream of the run it resumes, bit for bit. Saving and
restoring a generator's state is not enough: anything that draws random numbers between the
save and the next step (building the export copy of a model, a checkpoint write, logging) would
shift the stream of an uninterrupted run but not of a resumed one. So nothing is carried over:

- ``reseed_step``: at the start of every step the loop's ``torch.Generator`` and the global
  torch (every device), NumPy and Python ``random`` generators are reseeded from (run seed,
  component, step, process index), hashed with NumPy's ``SeedSequence``;
- ``seed_init``: the global generators are reseeded from (run seed, component) before a model
  or its LoRA layers are built, so a fresh and a resumed process build the same initial weights;
- ``batch_at``: the data order is a permutation per epoch seeded by (run seed, epoch), and the
  batch of step ``k`` is a pure function of (run seed, k) (each process of a DDP run takes its
  own share, ``order[rank::world]``).

A resumed run therefore needs only the step number of its checkpoint.
"""

from __future__ import annotations

import random
import zlib

import numpy as np
import torch

_INIT = 0  # the stream kind of model construction
_STEP = 1  # the stream kind of a training step
_ORDER = 2  # the stream kind of the data order


def _words(*parts: int | str) -> list[int]:
    """Non-negative integers for ``SeedSequence`` (strings by CRC-32, negatives folded)."""
    out = []
    for p in parts:
        if isinstance(p, str):
            out.append(zlib.crc32(p.encode("utf-8")))
        else:
            out.append(int(p) % (1 << 64))
    return out


def derive(*parts: int | str, n: int = 1) -> list[int]:
    """``n`` 63-bit seeds hashed from ``parts`` (integers and strings)."""
    state = np.random.SeedSequence(_words(*parts)).generate_state(n, dtype=np.uint64)
    return [int(s) >> 1 for s in state]


def _reseed_globals(seeds: list[int]) -> None:
    torch.manual_seed(seeds[0])  # also every CUDA device
    np.random.seed(seeds[1] % (1 << 32))
    random.seed(seeds[2])


def reseed_step(
    gen: torch.Generator, seed: int, component: str, step: int, process: int = 0
) -> None:
    """Reseed ``gen`` and the global generators for step ``step`` (0-based) of ``component``."""
    seeds = derive(_STEP, seed, component, step, process, n=4)
    gen.manual_seed(seeds[3])
    _reseed_globals(seeds)


def seed_init(seed: int, component: str) -> None:
    """Reseed the global generators before building ``component``'s model (every process the
    same, so DDP replicas start equal)."""
    _reseed_globals(derive(_INIT, seed, component, n=3))


def epoch_order(n: int, seed: int, epoch: int) -> torch.Tensor:
    """The data order of ``epoch``: a permutation of ``n`` items seeded by (seed, epoch)."""
    gen = torch.Generator().manual_seed(derive(_ORDER, seed, epoch)[0])
    return torch.randperm(n, generator=gen)


def batch_at(
    n: int, batch: int, seed: int, step: int, rank: int = 0, world: int = 1
) -> torch.Tensor:
    """The (B,) item indices of step ``step`` (0-based) for process ``rank`` of ``world``.

    Each epoch is a fresh permutation; every process takes ``n // world`` items of it
    (``order[rank::world]``, the rest dropped, so all processes walk epochs in step) in batches
    of ``batch``, dropping the incomplete last batch (a share smaller than one batch is one
    whole batch). With fewer items than processes every process walks the whole order. The
    result depends on nothing but the arguments.
    """
    share = n // world
    if share == 0:
        rank, world, share = 0, 1, n
    per_epoch = max(1, share // batch)
    epoch, k = divmod(step, per_epoch)
    mine = epoch_order(n, seed, epoch)[rank::world][:share]
    return mine[k * batch : min((k + 1) * batch, share)]
