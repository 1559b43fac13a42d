"""Open-vocabulary reader: match phrases outside the worlds' vocabulary to vocabulary phrases.

Words the lexicon does not know ("ruby", "three-sided wedge", "unhurried") are read by the
frozen MiniLM text encoder (``avgen.text``, all-MiniLM-L6-v2 sentence embeddings, as in
Sentence-BERT, arXiv 1908.10084): every n-gram (1 to ``MAX_NGRAM`` words) of a run of unknown
words is embedded and compared by cosine with the embeddings of the vocabulary's phrases and of
the reader's anchor phrases (``ANCHORS``); the best match at or above ``THRESHOLD`` gives the
n-gram that phrase's reading, the longest-scoring matches first and never two over one word.
What stays under the threshold stays unknown. The vocabulary's embeddings are computed on first
use and kept in memory; a prompt that the lexicon reads whole never loads the encoder.

``THRESHOLD`` and ``ANCHORS`` were tuned on the ``tune`` half of
benchmarks/sets/paraphrases.jsonl only (benchmarks/results/prompt_reader.md).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from avgen.prompts.colour_names import read_colour_word
from avgen.prompts.lexicon import LEXICON, Reading, _phrase, _tables

#: Cosine at or above which an unknown n-gram takes its nearest phrase's reading.
THRESHOLD = 0.5
#: Longest n-gram tried (words).
MAX_NGRAM = 4
#: At most this many unknown words of one prompt are read (the rest stay unknown), so a long
#: prompt costs at most MAX_READ x MAX_NGRAM encodings.
MAX_READ = 48
#: Words that only qualify the word before them ("cube-shaped", "rose-coloured"): never read.
FILLERS = frozenset("shaped coloured colored sized looking ish toned tinted like".split())
#: Words the motion planner reads from the prompt itself (avgen/plan/physics.py: two objects
#: colliding, one landing on another): never read, so "colliding" stays a collision and is not
#: taken for a bounce. tests/prompts/test_reader.py keeps this in step with the planner.
PLANNER_WORDS = frozenset(
    """colliding collide collides collision crashing crash crashes hits hit hitting bumping
    bumps into onto lands landing hovering""".split()
)
#: Reading categories the reader never gives: numbers and medium hints are the parser's, and
#: the raga words are a fine-tuning vocabulary (rare words whose embeddings sit near anything).
_SKIP = frozenset({"count", "hint", "raga", "raga_words"})

#: Extra phrases the reader matches against, per (category, key): common English words for the
#: worlds' attributes that the vocabulary (and so the training captions) never lists. They are
#: only read, never written: the rewrite replaces them by the key's vocabulary phrase.
ANCHORS: dict[tuple[str, str], tuple[str, ...]] = {
    ("colour", "red"): ("ruby", "cherry", "vermilion", "cherry red", "blood red"),
    ("colour", "orange"): ("tangerine", "pumpkin", "apricot"),
    ("colour", "yellow"): ("lemon", "canary yellow", "mustard", "lemon yellow"),
    ("colour", "green"): ("lime", "jade", "mint green", "lime green"),
    ("colour", "blue"): ("navy", "azure", "sapphire", "navy blue"),
    ("colour", "purple"): ("lavender", "lilac", "plum"),
    ("colour", "pink"): ("magenta", "fuchsia", "salmon pink"),
    ("colour", "white"): ("milky white", "pearl white", "chalk white", "snow white"),
    ("shape", "circle"): ("orb", "globe", "bubble", "round"),
    ("shape", "square"): ("crate", "brick", "dice", "cubic"),
    ("shape", "triangle"): ("wedge", "three sided shape", "arrowhead", "triangular"),
    ("motion", "bounce"): ("hopping", "jumping", "springing"),
    ("motion", "fall"): ("plunging", "tumbling down", "plummeting"),
    ("motion", "rise"): ("ascending", "climbing upward", "floating upward"),
    ("motion", "spin"): ("twirling", "whirling", "pirouetting"),
    ("motion", "grow"): ("swelling", "enlarging", "inflating", "getting bigger"),
    ("motion", "shrink"): ("contracting", "dwindling", "deflating", "getting smaller"),
    ("motion", "move"): ("travelling", "heading", "cruising"),
    ("motion", "still"): ("motionless", "stationary", "at rest"),
    ("direction", "left"): ("leftward", "leftwards"),
    ("direction", "right"): ("rightward", "rightwards"),
    ("scene", "grass"): ("lawn", "pasture", "prairie"),
    ("scene", "beach"): ("seashore", "sandy shore"),
    ("scene", "city"): ("downtown", "metropolis", "streets"),
    ("scene", "dark"): ("darkness", "pitch blackness"),
    ("instruments", "piano"): ("pianoforte", "ivories"),
    ("instruments", "acoustic guitar"): ("six string guitar", "nylon string guitar"),
    ("instruments", "violin"): ("viola", "bowed string instrument"),
    ("instruments", "cello"): ("violoncello", "bowed bass string"),
    ("instruments", "flute"): ("piccolo", "recorder"),
    ("instruments", "trumpet"): ("bugle", "cornet"),
    ("instruments", "organ"): ("harmonium", "hammond organ"),
    ("instruments", "harp"): ("lyre", "harpist"),
    ("instruments", "marimba"): ("xylophone", "vibraphone"),
    ("instruments", "choir"): ("chorus", "singers"),
    ("register", "low"): ("rumbling", "sub bass", "baritone"),
    ("register", "high"): ("shrill", "treble", "piercing"),
    ("tempo_class", "slow"): ("unhurried", "languid", "sluggish"),
    ("tempo_class", "fast"): ("brisk", "rapid", "frantic"),
    ("mode", "major"): ("uplifting", "sunny", "merry"),
    ("mode", "minor"): ("gloomy", "mournful", "sorrowful"),
    ("patterns", "melody"): ("melodic line", "theme"),
    ("patterns", "chords"): ("harmonies", "triads"),
    ("patterns", "staccato"): ("short plucked notes", "choppy notes"),
}


@dataclass(frozen=True)
class ReadPhrase:
    """An unknown n-gram the reader matched: tokens [start, start + length) of the prompt."""

    phrase: str  # the prompt's words
    start: int
    length: int
    match: str  # the vocabulary or anchor phrase it is nearest to
    score: float  # cosine of the two sentence embeddings
    readings: tuple[Reading, ...]
    replacement: str  # the vocabulary phrase the rewrite writes

    def to_dict(self) -> dict[str, Any]:
        category, key = self.readings[0]
        return {
            "phrase": self.phrase,
            "match": self.match,
            "score": round(self.score, 4),
            "category": category,
            "key": key,
            "rewrite": self.replacement,
        }


_ANCHOR_WORDS = frozenset(p for phrases in ANCHORS.values() for p in phrases)


def canonical_phrase(category: str, key: object) -> str:
    """The vocabulary phrase the rewrite writes for ``(category, key)``: the table's first."""
    return _tables()[category][key][0]


class _Index:
    """The embedded targets: every vocabulary phrase (its lexicon readings) and anchor."""

    def __init__(self) -> None:
        self.texts: list[str] = []
        self.readings: list[tuple[Reading, ...]] = []
        self.replacements: list[str] = []
        for words, readings in LEXICON.items():
            kept = tuple(r for r in readings if r[0] not in _SKIP)
            if kept:
                self.texts.append(" ".join(words))
                self.readings.append(kept)
                self.replacements.append(" ".join(words))
        for (category, key), phrases in ANCHORS.items():
            for phrase in phrases:
                self.texts.append(" ".join(_phrase(phrase)))
                self.readings.append(((category, key),))
                self.replacements.append(canonical_phrase(category, key))
        self._embeddings: Any = None

    def embeddings(self) -> Any:
        if self._embeddings is None:
            self._embeddings = _encode(self.texts)  # (N, D)
        return self._embeddings


_INDEX: _Index | None = None


def _index() -> _Index:
    global _INDEX
    if _INDEX is None:
        _INDEX = _Index()
    return _INDEX


def _encode(texts: list[str]) -> Any:
    """Unit-norm MiniLM sentence embeddings (B, D) of ``texts``, in batches of 256."""
    import torch

    from avgen.text import shared_text_encoder

    encoder = shared_text_encoder("cpu")
    parts = [
        encoder.encode(texts[i : i + 256], max_length=32)["pooled"]
        for i in range(0, len(texts), 256)
    ]
    return torch.cat(parts)  # (B, D)


def candidates(
    tokens: list[str],
    unknown: list[int],
    stop: frozenset[str],
    skip: frozenset[str] = FILLERS | PLANNER_WORDS,
) -> list[tuple[int, int]]:
    """(start, length) of every n-gram (1..MAX_NGRAM tokens) made of unknown and stop words
    that starts and ends on an unknown word (``unknown``: token indices, sorted); words in
    ``skip`` are left out (the reader's default: fillers and the planner's words)."""
    unknown_set = {i for i in unknown[:MAX_READ] if tokens[i] not in skip}
    out = []
    for i in sorted(unknown_set):
        for n in range(1, MAX_NGRAM + 1):
            j = i + n - 1
            if j >= len(tokens):
                break
            if j not in unknown_set and tokens[j] not in stop:
                break
            if j in unknown_set:
                out.append((i, n))
    return out


def read_unknown(
    tokens: list[str], unknown: list[int], stop: frozenset[str], threshold: float | None = None
) -> list[ReadPhrase]:
    """Match the unknown words' n-grams to the vocabulary (see the module docstring); the
    accepted matches in prompt order. ``threshold`` defaults to ``THRESHOLD``."""
    spans = candidates(tokens, unknown, stop)
    colour_reads = []
    for s, n in spans:  # colour names by their sRGB value, before MiniLM (single words)
        anchored = tokens[s] in _ANCHOR_WORDS  # the curated anchors keep their reading
        hit = read_colour_word(tokens[s]) if n == 1 and not anchored else None
        if hit is not None:
            name, key, dist = hit
            colour_reads.append(
                ReadPhrase(tokens[s], s, 1, name, 1.0 - dist / 100.0, (("colour", key),),
                           canonical_phrase("colour", key))
            )  # fmt: skip
    done = {r.start for r in colour_reads}
    spans = [(s, n) for s, n in spans if not done & set(range(s, s + n))]
    if not spans:
        return colour_reads
    limit = THRESHOLD if threshold is None else threshold
    index = _index()
    texts = [" ".join(tokens[s : s + n]) for s, n in spans]
    sims = _encode(texts) @ index.embeddings().T  # (C, N)
    best, where = sims.max(dim=1)
    scored = sorted(
        ((float(best[c]), spans[c][1], spans[c][0], int(where[c])) for c in range(len(spans))),
        key=lambda x: (-x[0], -x[1], x[2]),
    )
    taken: set[int] = set(done)
    out = list(colour_reads)
    for score, n, s, k in scored:
        if score < limit:
            break
        if taken & set(range(s, s + n)):
            continue
        taken |= set(range(s, s + n))
        out.append(
            ReadPhrase(
                " ".join(tokens[s : s + n]), s, n, index.texts[k], score, index.readings[k],
                index.replacements[k],
            )
        )  # fmt: skip
    merged: list[ReadPhrase] = []
    for r in sorted(out, key=lambda r: r.start):
        last = merged[-1] if merged else None
        if last and last.start + last.length == r.start and last.readings == r.readings:
            phrase = f"{last.phrase} {r.phrase}"  # "three-sided wedge": one triangle
            merged[-1] = replace(last, phrase=phrase, length=last.length + r.length,
                                 score=min(last.score, r.score))  # fmt: skip
        else:
            merged.append(r)
    return merged
