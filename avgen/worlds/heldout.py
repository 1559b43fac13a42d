"""The held-out attribute combinations: never in a training set, used by benchmarks.

About a tenth of colour x shape x motion and of instrument x pattern is held out. The choice is
fixed by a seeded shuffle of the sorted product, so it is the same on every machine and only
changes with ``WORLD_VERSION``. Every world sampler takes ``heldout="exclude" | "only" | "any"``.
"""

from __future__ import annotations

import itertools
import random
from functools import cache

from avgen.vocab import COLOURS, INSTRUMENTS, MOTIONS, PATTERNS, SHAPES, WORLD_VERSION

HELDOUT_FRACTION = 0.1


def _pick(items: list[tuple[str, ...]], salt: str) -> frozenset[tuple[str, ...]]:
    rng = random.Random(f"avgen-heldout-{WORLD_VERSION}-{salt}")
    shuffled = sorted(items)
    rng.shuffle(shuffled)
    n = max(1, round(len(shuffled) * HELDOUT_FRACTION))
    return frozenset(shuffled[:n])


@cache
def heldout_visual() -> frozenset[tuple[str, str, str]]:
    """Held-out (colour, shape, motion) triples."""
    items = list(itertools.product(sorted(COLOURS), sorted(SHAPES), sorted(MOTIONS)))
    return _pick(items, "visual")  # type: ignore[return-value]


@cache
def heldout_audio() -> frozenset[tuple[str, str]]:
    """Held-out (instrument, pattern) pairs (base instruments only)."""
    items = list(itertools.product(sorted(INSTRUMENTS), sorted(PATTERNS)))
    return _pick(items, "audio")  # type: ignore[return-value]


def is_heldout_visual(colour: str, shape: str, motion: str) -> bool:
    return (colour, shape, motion) in heldout_visual()


def is_heldout_audio(instrument: str, pattern: str) -> bool:
    return (instrument, pattern) in heldout_audio()


def allowed(is_heldout: bool, heldout: str) -> bool:
    """Whether a combination may be drawn under the sampler's ``heldout`` mode."""
    if heldout == "exclude":
        return not is_heldout
    if heldout == "only":
        return is_heldout
    if heldout == "any":
        return True
    raise ValueError(f"heldout must be 'exclude', 'only' or 'any', not {heldout!r}")
