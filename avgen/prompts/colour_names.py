"""Colour names read through their sRGB value (the CSS Color Module named colours, from the
``webcolors`` package): a name is mapped to the nearest of the world's 8 object colours
(``avgen.vocab.COLOURS``) in CIELAB, or refused when it is too far from all of them or has
too little chroma (gray, black and brown names stay unknown; near-white names read as white).

``MAX_DISTANCE`` and ``MIN_CHROMA`` are CIELAB distances (Delta E 1976)."""

from __future__ import annotations

import math
from functools import cache

from avgen import vocab

#: A name farther than this from every world colour is refused (largest value with the tune
#: half's colours all right: 15, 30 give 100 %, 45, 60 give 95.8 %).
MAX_DISTANCE = 30.0
#: A name with less chroma than this is refused unless it is near white.
MIN_CHROMA = 20.0
#: Lightness a low-chroma name needs to read as white.
MIN_WHITE_L = 90.0
SUFFIXES = ("coloured", "colored", "ish", "y")


def _linear(c: float) -> float:
    c = c / 255.0
    return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4


def _f(t: float) -> float:
    return t ** (1 / 3) if t > (6 / 29) ** 3 else t / (3 * (6 / 29) ** 2) + 4 / 29


def lab(rgb: tuple[int, int, int]) -> tuple[float, float, float]:
    """CIELAB (D65) of an sRGB triple 0..255."""
    r, g, b = (_linear(v) for v in rgb)
    x = (0.4124 * r + 0.3576 * g + 0.1805 * b) / 0.95047
    y = 0.2126 * r + 0.7152 * g + 0.0722 * b
    z = (0.0193 * r + 0.1192 * g + 0.9505 * b) / 1.08883
    fx, fy, fz = _f(x), _f(y), _f(z)
    return 116 * fy - 16, 500 * (fx - fy), 200 * (fy - fz)


@cache
def _table() -> dict[str, tuple[int, int, int]]:
    import webcolors

    return {n: tuple(webcolors.name_to_rgb(n, "css3")) for n in webcolors.names("css3")}


def nearest(rgb: tuple[int, int, int]) -> tuple[str, float] | None:
    """(world colour key, CIELAB distance) for ``rgb``, or None when refused."""
    lv, av, bv = lab(rgb)
    chroma = math.hypot(av, bv)
    dists = {k: math.dist((lv, av, bv), lab(c.rgb)) for k, c in vocab.COLOURS.items()}
    key = min(dists, key=dists.__getitem__)
    if chroma < MIN_CHROMA and not (lv >= MIN_WHITE_L and key == "white"):
        return None
    hue = math.degrees(math.atan2(bv, av)) % 360
    if lv < 45 and 20 <= hue <= 100:  # brown and dark olive names
        return None
    if dists[key] > MAX_DISTANCE:
        return None
    return key, dists[key]


def read_colour_word(word: str) -> tuple[str, str, float] | None:
    """(table name, world colour key, distance) for a colour name or its "-coloured"/"-ish"
    form ("tomato", "tomato-coloured", "scarletish"), or None."""
    word = word.lower().strip("-")
    forms = [word]
    for suffix in SUFFIXES:
        if word.endswith(suffix) and len(word) > len(suffix) + 2:
            forms.append(word[: -len(suffix)].rstrip("-"))
    table = _table()
    for form in forms:
        name = form.replace("-", "").replace(" ", "")
        if name in table:
            hit = nearest(table[name])
            return (name, *hit) if hit else None
    return None
