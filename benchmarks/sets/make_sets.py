"""Write the prompt-reader benchmark sets (benchmarks/sets/*.jsonl); deterministic.

``paraphrases.jsonl``: video and audio prompts worded with words the worlds' vocabulary never
lists, each with its canonical wording (the same prompt in the vocabulary's words) and the
attributes a reader should find. The paraphrase words are split in two disjoint halves: prompts
of the ``tune`` split use only the first half of each word list, prompts of the ``report`` split
only the second, so a threshold tuned on ``tune`` never saw a ``report`` word.
``open_prompts.jsonl`` is written by hand (the prompt guide's examples among them).

Usage: ``python benchmarks/sets/make_sets.py`` (rewrites paraphrases.jsonl).
"""

from __future__ import annotations

import json
import random
from pathlib import Path

# canonical key -> (canonical word, paraphrases: first half tune, second half report)
COLOURS = {
    "red": ("red", ["ruby", "cherry", "vermilion", "tomato", "blood-coloured", "scarlet-ish"]),
    "orange": ("orange", ["tangerine", "pumpkin", "apricot", "carrot-coloured", "peach", "rust"]),
    "yellow": ("yellow", ["lemon", "canary", "mustard", "sunflower", "butter", "banana"]),
    "green": ("green", ["lime", "jade", "mint", "olive", "sage", "pea-coloured"]),
    "blue": ("blue", ["navy", "azure", "sapphire", "cerulean", "ultramarine", "denim"]),
    "purple": ("purple", ["lavender", "lilac", "plum", "mauve", "amethyst", "grape"]),
    "pink": ("pink", ["magenta", "fuchsia", "salmon", "bubblegum", "blush", "flamingo"]),
    "white": ("white", ["milky", "pearl", "chalk", "cream", "alabaster", "porcelain"]),
}
SHAPES = {
    "circle": ("ball", ["orb", "globe", "bubble", "marble", "round disk", "dot"]),
    "square": ("square", ["crate", "brick", "dice", "cuboid", "tile", "four-sided block"]),
    "triangle": (
        "triangle",
        ["wedge", "three-sided shape", "arrowhead", "tri-shape", "cone", "three-cornered shape"],
    ),
}
MOTIONS = {  # (canonical phrase, paraphrases, direction the phrase implies or None)
    "bounce": ("bouncing", ["hopping", "jumping", "springing", "leaping", "boinging", "skipping"]),
    "fall": (
        "falling",
        ["plunging", "tumbling", "plummeting", "dropping down", "crashing down", "toppling"],
    ),
    "rise": (
        "rising",
        ["ascending", "climbing", "floating", "lifting off", "levitating", "soaring upward"],
    ),
    "spin": (
        "spinning",
        ["twirling", "whirling", "pirouetting", "twisting", "revolving in place", "turning round"],
    ),
    "grow": (
        "growing",
        ["swelling", "enlarging", "inflating", "getting bigger", "ballooning", "widening"],
    ),
    "shrink": (
        "shrinking",
        [
            "contracting",
            "dwindling",
            "deflating",
            "getting smaller",
            "shriveling",
            "collapsing inward",
        ],
    ),
    "move": (
        "moving",
        ["travelling", "heading", "cruising", "wandering", "coasting", "making its way"],
    ),
    "still": (
        "still",
        ["motionless", "stationary", "at rest", "unmoving", "frozen in place", "idle"],
    ),
}
DIRECTIONS = {
    "left": ("left", ["leftward", "towards the left edge", "westward", "to the left side"]),
    "right": ("right", ["rightward", "towards the right edge", "eastward", "to the right side"]),
}
SIZES = {
    "small": ("small", ["little", "miniature", "petite", "wee"]),
    "large": ("large", ["huge", "giant", "enormous", "massive"]),
}
SCENES = {
    "grass": ("on a grass field", ["on a lawn", "in a pasture", "over a prairie", "on green turf"]),
    "beach": (
        "on a beach",
        ["on the seashore", "on a sandy shore", "by the coast", "on a sandy coastline"],
    ),
    "city": (
        "in a city",
        ["downtown", "in a metropolis", "over urban streets", "against a skyline"],
    ),
    "dark": (
        "on a dark background",
        ["in darkness", "in pitch blackness", "in the void", "in a lightless room"],
    ),
}
INSTRUMENTS = {
    "piano": ("piano", ["pianoforte", "ivories", "upright keyboard", "concert grand"]),
    "acoustic guitar": (
        "acoustic guitar",
        ["six-string", "nylon-string", "classical strummer", "folk six-string"],
    ),
    "violin": ("violin", ["viola", "bowed string instrument", "stradivarius", "fiddler"]),
    "cello": ("cello", ["violoncello", "bowed bass string", "low bowed strings", "cellist"]),
    "flute": ("flute", ["piccolo", "recorder", "woodwind", "fife"]),
    "trumpet": ("trumpet", ["bugle", "cornet", "brass fanfare", "flugelhorn"]),
    "organ": ("organ", ["harmonium", "hammond", "wurlitzer", "accordion"]),
    "harp": ("harp", ["lyre", "harpist", "plucked harp strings", "zither"]),
    "marimba": ("marimba", ["xylophone", "vibraphone", "glockenspiel", "mallet percussion"]),
    "choir": ("choir", ["chorus", "singers", "vocal ensemble", "chanting monks"]),
}
REGISTERS = {
    "low": (
        "low",
        ["rumbling", "sub-bass", "baritone", "booming bottom end", "gravelly", "bottom-heavy"],
    ),
    "high": ("high", ["shrill", "treble", "piercing", "sky-high", "squeaky", "tinkly"]),
}
TEMPOS = {
    "slow": ("slow", ["unhurried", "languid", "sluggish", "adagio", "relaxed-paced", "crawling"]),
    "fast": ("fast", ["brisk", "rapid", "frantic", "allegro", "racing", "breakneck"]),
}
MODES = {
    "major": ("happy", ["uplifting", "sunny", "merry", "jolly", "carefree", "triumphant"]),
    "minor": ("sad", ["gloomy", "mournful", "sorrowful", "brooding", "tearful", "bleak"]),
}
PATTERNS = {
    "melody": ("melody", ["melodic line", "theme", "motif", "refrain"]),
    "chords": ("chords", ["harmonies", "triads", "strummed progression", "stabs"]),
    "staccato": ("staccato", ["short plucked notes", "choppy notes", "clipped notes", "pizzicato"]),
}


def _half(words: list[str], split: str) -> list[str]:
    k = (len(words) + 1) // 2
    return words[:k] if split == "tune" else words[k:]


def _pick(rng: random.Random, table: dict, split: str) -> tuple[str, str, str]:
    key = rng.choice(sorted(table))
    canonical, words = table[key][0], table[key][1]
    return key, canonical, rng.choice(_half(words, split))


def _article(word: str) -> str:
    return "an" if word[0] in "aeiou" else "a"


def video_prompt(rng: random.Random, split: str, idx: int) -> dict:
    expected: dict[str, str] = {}
    canon: list[str] = []
    para: list[str] = []
    if rng.random() < 0.5:
        expected["size"], c, p = _pick(rng, SIZES, split)
        canon.append(c)
        para.append(p)
    expected["colour"], c, p = _pick(rng, COLOURS, split)
    canon.append(c)
    para.append(p)
    expected["shape"], c, p = _pick(rng, SHAPES, split)
    canon.append(c)
    para.append(p)
    motion, c, p = _pick(rng, MOTIONS, split)
    expected["motion"] = motion
    canon.append(c)
    para.append(p)
    if motion == "move":
        expected["direction"], c, p = _pick(rng, DIRECTIONS, split)
        canon.append(c)
        para.append(p)
    if rng.random() < 0.5:
        expected["scene"], c, p = _pick(rng, SCENES, split)
        canon.append(c)
        para.append(p)
    c_text = " ".join(canon)
    p_text = " ".join(para)
    return {
        "id": f"v{idx:03d}",
        "kind": "video",
        "split": split,
        "prompt": f"{_article(p_text)} {p_text}",
        "canonical": f"{_article(c_text)} {c_text}",
        "expected": expected,
    }


def audio_prompt(rng: random.Random, split: str, idx: int) -> dict:
    expected: dict[str, str] = {}
    mode, c_mode, p_mode = _pick(rng, MODES, split)
    inst, c_inst, p_inst = _pick(rng, INSTRUMENTS, split)
    pat, c_pat, p_pat = _pick(rng, PATTERNS, split)
    reg, c_reg, p_reg = _pick(rng, REGISTERS, split)
    tempo, c_tempo, p_tempo = _pick(rng, TEMPOS, split)
    expected.update(mode=mode, instrument=inst, pattern=pat, register=reg, tempo_class=tempo)
    canonical = f"{c_mode} {c_inst} {c_pat}, {c_reg} and {c_tempo}"
    para = f"{p_mode} {p_inst} {p_pat}, {p_reg} and {p_tempo}"
    return {
        "id": f"a{idx:03d}",
        "kind": "audio",
        "split": split,
        "prompt": para,
        "canonical": canonical,
        "expected": expected,
    }


def main() -> None:
    rng = random.Random(14)
    rows = []
    for i in range(96):
        rows.append(video_prompt(rng, "tune" if i % 2 == 0 else "report", i))
    for i in range(96):
        rows.append(audio_prompt(rng, "tune" if i % 2 == 0 else "report", i))
    out = Path(__file__).with_name("paraphrases.jsonl")
    out.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    print(f"wrote {len(rows)} prompts to {out}")


if __name__ == "__main__":
    main()
