"""The parser's lexicon: every phrase of the worlds' vocabulary and what it can mean.

Each phrase of ``avgen/vocab.py`` (hyphens split words, so "slow-motion" and "slow motion" read
alike) maps to its readings ``(category, canonical key)``; a word shared by a visual and an audio
table ("dark", "fast", "rising", "drone", ...) keeps both readings, and the parser picks one by
context. ``LEXICON`` is also what the trainers read to list a model card's vocabulary.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from avgen import vocab

_TOKEN_RE = re.compile(r"\d+\.\d+|[^\W_]+|[,;:.!?]")
_PUNCT = frozenset(",;:.!?")
_BOUNDARY = frozenset({"and", "with", "over", "while", "plus", "then", "but", "against"})
_STOPWORDS = frozenset(
    """a an the and or but nor of in on at to for with without by from into onto over under
    above below across through around along about against between among near next beside behind
    before after during while then than as is are was were be been being it its this that these
    those there here which who what when where how very so too just also each both all any some
    such their them they his her he she we you your our my me i us not no only more most much
    many other another same like plus out off get gets""".split()
)
# Words that carry no attribute but say which medium the prompt is about (never "unknown").
_HINTS = {
    "audio": frozenset(
        "sound sounds audio music musical song track ambience soundscape recording noise beat "
        "beats playing plays instrumental note notes".split()
    ),
    "video": frozenset(
        "video footage shot shots camera scene frame frames animation background view film".split()
    ),
    "": frozenset(
        "clip sample piece loop style mood feel vibe version second seconds minute minutes sec "
        "secs min mins".split()
    ),
}
_VIDEO_CATS = frozenset(
    "colour shape size scene particles motion direction speed camera time styles".split()
)
# Extra readings of words shared by a visual and an audio table (resolved by context).
_EXTRA_READINGS: dict[str, tuple[str, str]] = {
    "ocean": ("sound_effects", "ocean waves"),
    "sea": ("sound_effects", "ocean waves"),
    "rain": ("particles", "rain"),
    "drone": ("styles", "drone shot"),
    "cinematic": ("genres", "cinematic"),
    "slow": ("speed", "slow"),
    "rising": ("pitch_direction", "rising"),
    "falling": ("pitch_direction", "falling"),
    "gently drifting": ("motion", "move"),  # a speed phrase that also names the motion
    "descending": ("pitch_direction", "falling"),
    "ascending": ("pitch_direction", "rising"),
}
# Words no table lists that the parser reads directly (added with the reader, issue 14): bare
# "floating" (only "floating up" was listed), "downward", "descending", "drums" (the drum
# pattern the genre implies, else a rock beat: ``parser._drums``).
_MORE_WORDS: dict[str, tuple[str, object]] = {
    "floating": ("motion", "rise"),
    "floats": ("verb", "rise"),
    "descending": ("motion", "fall"),
    "ascending": ("motion", "rise"),
    "downward": ("direction", "down"),
    "downwards": ("direction", "down"),
    "upward": ("direction", "up"),
    "upwards": ("direction", "up"),
    "drums": ("drums", "*"),
    "drum kit": ("drums", "*"),
}
# Finite verb forms of the motions (3rd person singular and plural, as MotionWorld's layered
# captions write them: "A red square circles.", "Two balls slowly float up."). Several are also
# nouns or music words ("a drum roll", "a beat drop", "rests"), so they are read as the motion
# only right after an object noun or a speed adverb (``_verbs``); "circle(s)" there too.
_MOTION_VERBS: dict[str, tuple[str, ...]] = {
    "move": tuple("moves move slides slide glides glide drifts drift rolls roll".split()),
    "bounce": ("bounces", "bounce"),
    "fall": ("falls", "fall", "drops", "drop"),
    "rise": ("rises", "rise", "floats up", "float up"),
    "spin": ("spins", "spin", "rotates", "rotate"),
    "grow": ("grows", "grow", "expands", "expand"),
    "shrink": ("shrinks", "shrink"),
    "circle": ("orbits", "orbit"),
    "still": ("rests", "rest", "sits still", "sit still", "stands still", "stand still"),
}
# Phrases that only restate a motion ("bouncing up and down" is the bounce, not a direction):
# read as a video hint, so they set no direction.
_RESTATED = ("up and down",)
# Side chosen when neither the clause nor the prompt tells ("scene only with a video context").
_DEFAULT_SIDE = {(w,): "video" for w in ("dark", "ocean", "sea", "cinematic")}

Reading = tuple[str, object]  # (category, canonical key)


def _tokens(text: str) -> list[str]:
    return _TOKEN_RE.findall(text.lower().replace("'", "").replace("\u2019", ""))


def _token_spans(text: str) -> list[tuple[str, int, int]]:
    """The tokens of ``_tokens(text)`` with their (start, end) character offsets in ``text``
    (an apostrophe inside a word is dropped from the token but kept in its span)."""
    kept = [(i, c) for i, c in enumerate(text) if c not in "'\u2019"]
    clean = "".join(c for _, c in kept)
    return [
        (m.group(), kept[m.start()][0], kept[m.end() - 1][0] + 1) for m in _TOKEN_RE.finditer(clean)
    ]


def _phrase(words: str) -> tuple[str, ...]:
    return tuple(t for t in _tokens(words) if t not in _PUNCT)


def _plural(word: str) -> str:
    return word + ("es" if word.endswith(("s", "x", "sh", "ch")) else "s")


def _tables() -> dict[str, Mapping[object, tuple[str, ...]]]:
    """Category (a ParsedPrompt field or an object attribute) -> {key: words}, every table."""
    raga_instruments = {k: i.words for k, i in vocab.RAGA_INSTRUMENTS.items()}
    counts = vocab.COUNT_WORDS.items()
    return {
        "colour": {k: c.words for k, c in vocab.COLOURS.items()},
        "shape": {k: ws + tuple(map(_plural, ws)) for k, ws in vocab.SHAPES.items()},
        "size": vocab.SIZE_WORDS,
        "scene": {k: s.words for k, s in vocab.SCENES.items()},
        "particles": vocab.PARTICLES,
        "motion": {k: m.words for k, m in vocab.MOTIONS.items()},
        "direction": {d: (d,) for d in vocab.DIRECTIONS},
        "speed": vocab.SPEED_WORDS,
        "camera": vocab.CAMERA,
        "time": vocab.TIME_WORDS,
        "styles": {w: (w,) for w in vocab.STYLE_WORDS},
        "count": {n: tuple(w for w, m in counts if m == n) for n in dict(counts).values()},
        "instruments": {k: i.words for k, i in vocab.INSTRUMENTS.items()} | raga_instruments,
        "drums": vocab.DRUM_PATTERNS,
        "patterns": vocab.PATTERNS,
        "mode": vocab.MODES,
        "register": vocab.REGISTERS,
        "tempo_class": vocab.TEMPO_WORDS,
        "dynamics": vocab.DYNAMICS,
        "fades": vocab.FADES,
        "effects": vocab.EFFECTS,
        "sound_effects": vocab.SOUND_EFFECTS,
        "genres": vocab.GENRES,
        "raga": {k: (k,) for k in vocab.RAGAS},
        "raga_words": {w: (w,) + raga_instruments.get(w, ()) for w in vocab.RAGA_WORDS},
    }


def _build_lexicon() -> dict[tuple[str, ...], tuple[Reading, ...]]:
    lexicon: dict[tuple[str, ...], list[Reading]] = {}
    for category, table in _tables().items():
        for key, words in table.items():
            for w in words:
                lexicon.setdefault(_phrase(w), []).append((category, key))
    for w, reading in _MORE_WORDS.items():
        lexicon.setdefault(_phrase(w), []).append(reading)
    for w, reading in _EXTRA_READINGS.items():
        lexicon[_phrase(w)].append(reading)
    for key, verbs in _MOTION_VERBS.items():
        for w in verbs:  # only where no table has the phrase already
            lexicon.setdefault(_phrase(w), [("verb", key)])
    for w in _RESTATED:
        lexicon.setdefault(_phrase(w), [("hint", "video")])
    return {p: tuple(dict.fromkeys(rs)) for p, rs in lexicon.items()}


LEXICON = _build_lexicon()
_MAX_PHRASE = max(map(len, LEXICON))


def _side(reading: Reading) -> str | None:
    category, key = reading
    if category == "count":
        return None
    if category == "hint":
        return str(key)
    return "video" if category in _VIDEO_CATS else "audio"


@dataclass(frozen=True)
class _Match:
    words: tuple[str, ...]
    readings: tuple[Reading, ...]
    start: int  # token index
    chunk: int  # clause index
    stands_for: tuple[str, ...] = ()  # a read phrase: the vocabulary phrase it matched

    @property
    def sides(self) -> set[str]:
        return {s for s in map(_side, self.readings) if s}
