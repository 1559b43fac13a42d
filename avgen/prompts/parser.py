"""Prompt parser: map a prompt onto the worlds' vocabulary (docs/CONTRACTS.md section 1).

Parsing is a longest-phrase-first scan over word tokens (``avgen.prompts.lexicon``). A few words
belong to a visual and to an audio table ("dark": scene or minor mode, "fast": object speed or
tempo, "rising": motion or pitch direction, "drone": raga drone or drone shot, "ocean", "rain",
"cinematic", "slow"); each is read on the side its clause (text between commas and words such as
"and", "with") speaks about, else on the side the whole prompt speaks about, else by a fixed
default. The duration, tempo and speed found feed the generation parameters and the checkers.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import asdict, dataclass, field, replace

from avgen import vocab
from avgen.errors import AvgenError
from avgen.prompts.lexicon import (
    _BOUNDARY,
    _DEFAULT_SIDE,
    _HINTS,
    _MAX_PHRASE,
    _PUNCT,
    _STOPWORDS,
    LEXICON,
    _Match,
    _phrase,
    _side,
    _token_spans,
)
from avgen.prompts.reader import ReadPhrase, read_unknown
from avgen.ranges import RANGES

_NUMBER_WORDS = {
    w: float(i)
    for i, w in enumerate(
        "zero one two three four five six seven eight nine ten eleven twelve".split()
    )
} | {"fifteen": 15.0, "twenty": 20.0, "thirty": 30.0, "forty": 40.0, "sixty": 60.0, "ninety": 90.0}
# ASCII digits only (``\d`` would take "١٢٠" and "²"), an optional minus sign right before
# the number ("-3 BPM"; "100-120 BPM" reads 120), possessive spaces (no backtracking on a run
# of blanks).
_NUMBER = r"(?<![\w.])(-?)([0-9]+(?:\.[0-9]+)?)"
_BPM_RE = re.compile(rf"{_NUMBER}\s*+(?:-\s*+)?(?:bpm|beats per minute)\b")
_DURATION_RE = re.compile(
    rf"(?:{_NUMBER}\s*+(?:-\s*+)?(seconds?|secs?|s|minutes?|mins?)"
    rf"|\b({'|'.join(_NUMBER_WORDS)})[\s-]++(seconds?|minutes?))\b"
)
#: Digits a number in a prompt may have before its point (a count, seconds, BPM); a longer one
#: is refused (a tempo or duration) or not read as a count.
MAX_NUMBER_DIGITS = 6


@dataclass
class ParsedObject:
    """One object (or a group of ``count`` alike objects) a video prompt describes."""

    count: int = 1
    colour: str | None = None
    shape: str | None = None
    size: str | None = None
    motion: str | None = None
    direction: str | None = None
    speed: str = "normal"


@dataclass
class ParsedPrompt:
    """What a prompt asks for, in the worlds' vocabulary (docs/CONTRACTS.md section 1)."""

    text: str
    kind: str | None = None
    duration_s: float | None = None
    tempo_bpm: float | None = None
    tempo_class: str | None = None
    time: str = "normal"
    camera: str = "static"
    scene: str | None = None
    particles: list[str] = field(default_factory=list)
    objects: list[ParsedObject] = field(default_factory=list)
    styles: list[str] = field(default_factory=list)
    instruments: list[str] = field(default_factory=list)
    drums: str | None = None
    patterns: list[str] = field(default_factory=list)
    pitch_direction: str | None = None
    mode: str | None = None
    register: str | None = None
    dynamics: str | None = None
    fades: list[str] = field(default_factory=list)
    effects: list[str] = field(default_factory=list)
    sound_effects: list[str] = field(default_factory=list)
    genres: list[str] = field(default_factory=list)
    raga: str | None = None
    raga_words: list[str] = field(default_factory=list)
    unknown_words: list[str] = field(default_factory=list)
    #: Phrases outside the vocabulary that the reader matched (phrase, match, score, ...).
    read_phrases: list[dict] = field(default_factory=list)
    #: Whether any word, duration or tempo was recognised.
    recognised: bool = False
    #: The prompt in the vocabulary's words (the text condition of avgen's own models).
    rewritten: str = ""

    def to_dict(self) -> dict:
        """The contract's plain-JSON dictionary (objects as dicts)."""
        return asdict(self)


def _number(sign: str, digits: str, what: str) -> float:
    """A prompt's number for ``what`` ("tempo", "duration"); AvgenError with the range of
    ``RANGES[what]`` when it is negative or longer than MAX_NUMBER_DIGITS digits."""
    whole = digits.split(".")[0]
    if len(whole) <= MAX_NUMBER_DIGITS and not sign:
        return float(digits)
    shown = sign + (digits if len(digits) <= 12 else f"{digits[:6]}...({len(whole)} digits)")
    raise AvgenError(f"the prompt's {RANGES[what].sentence(None, shown=shown)}")


def _extract_numbers(text: str) -> tuple[str, float | None, float | None]:
    """Remove "120 BPM" and "10 seconds"-like spans; return (rest, duration_s, tempo_bpm).

    A negative or overlong number (more than MAX_NUMBER_DIGITS digits) raises AvgenError naming
    the range; a value inside that limit is checked where it is used (generation, the linter).
    """
    bpm = duration = None
    m = _BPM_RE.search(text)
    if m:
        bpm = _number(m.group(1), m.group(2), "tempo")
        text = text[: m.start()] + " " * (m.end() - m.start()) + text[m.end() :]
    m = _DURATION_RE.search(text)
    if m:
        if m.group(2):
            number, unit = m.group(2), m.group(3)
            value = _number(m.group(1), number, "duration")
        else:
            number, unit = m.group(4), m.group(5)
            value = _NUMBER_WORDS[number]
        duration = value * (60.0 if unit.startswith("m") else 1.0)
        text = text[: m.start()] + " " * (m.end() - m.start()) + text[m.end() :]
    return text, duration, bpm


def _is_count(tok: str) -> bool:
    """A count word ("four") or ASCII digits of at most MAX_NUMBER_DIGITS ("4"; not "²")."""
    if tok in _NUMBER_WORDS:
        return True
    return tok.isascii() and tok.isdigit() and len(tok) <= MAX_NUMBER_DIGITS


def _scan(text: str) -> tuple[list[_Match], list[int], list[tuple[str, int, int]]]:
    """Longest-phrase-first scan; return the matches, the token indices of the unknown content
    words and the tokens with their character spans. A count word joined by a hyphen to the
    next word ("three-sided", "six-string") is part of that word, not a count."""
    spans = _token_spans(text)
    tokens = [t for t, _, _ in spans]
    matches: list[_Match] = []
    unknown: list[int] = []
    chunk, i = 0, 0
    while i < len(tokens):
        tok = tokens[i]
        hyphened = i + 1 < len(tokens) and text[spans[i][2] : spans[i + 1][1]] == "-"
        for n in range(min(_MAX_PHRASE, len(tokens) - i), 0, -1):
            readings = LEXICON.get(tuple(tokens[i : i + n]))
            if readings and n == 1 and hyphened and {c for c, _ in readings} == {"count"}:
                readings = None  # "three-sided": a word of its own, not a count
            if readings:
                matches.append(_Match(tuple(tokens[i : i + n]), readings, i, chunk))
                i += n
                break
        else:
            i += 1
            hint = next((side for side, ws in _HINTS.items() if tok in ws), None)
            if tok in _PUNCT or tok in _BOUNDARY:
                chunk += 1
            elif _is_count(tok) and not hyphened:  # "4 balls", "four balls"
                n = int(_NUMBER_WORDS[tok]) if tok in _NUMBER_WORDS else int(tok)
                if n > 0:
                    matches.append(_Match((tok,), (("count", n),), i - 1, chunk))
            elif hint:  # "sound", "footage": no attribute, but they name the medium
                matches.append(_Match((tok,), (("hint", hint),), i - 1, chunk))
            elif (tok not in _STOPWORDS or hyphened) and not re.fullmatch(r"[\d.]+", tok):
                unknown.append(i - 1)
    return matches, unknown, spans


def _chunk_at(spans: list[tuple[str, int, int]], index: int) -> int:
    """The clause index of token ``index`` (clauses are cut by punctuation and _BOUNDARY)."""
    return sum(1 for t, _, _ in spans[:index] if t in _PUNCT or t in _BOUNDARY)


@dataclass
class _Clause:
    """The one-sided matches of a clause, in prompt order, and the sides they name."""

    starts: list[int] = field(default_factory=list)
    matches: list[_Match] = field(default_factory=list)
    sides: set[str] = field(default_factory=set)


def _pick_side(
    m: _Match, clause: _Clause, everywhere: set[str], has_audio: bool, has_objects: bool
) -> str:
    """Which side ("video"/"audio") an ambiguous word is read on (see the module docstring).

    ``clause``: the one-sided words of ``m``'s clause; ``everywhere``: the sides the whole
    prompt names (computed once per prompt, so a long prompt parses in linear time)."""
    if len(clause.sides) == 1:
        return next(iter(clause.sides))
    if len(clause.sides) == 2:  # both sides in the clause: the nearest word decides (ties: next)
        i = bisect.bisect_left(clause.starts, m.start)
        around = clause.matches[max(i - 1, 0) : i + 1]
        nearest = min(around, key=lambda n: (abs(n.start - m.start), n.start < m.start))
        return next(iter(nearest.sides))
    words = m.stands_for or m.words
    if words in (("rising",), ("falling",)):  # motions only with a visual object
        return "video" if has_objects or not has_audio else "audio"
    if len(everywhere) == 1:
        return next(iter(everywhere))
    return _DEFAULT_SIDE.get(words, "audio")


def _resolve(matches: list[_Match], has_bpm: bool) -> list[_Match]:
    """Keep, for each word shared by both sides, only the readings of its side."""
    has_audio = has_bpm or any(n.sides == {"audio"} for n in matches)
    has_objects = any(r[0] in ("shape", "colour") for n in matches for r in n.readings)
    clauses: dict[int, _Clause] = {}
    for n in matches:
        if len(n.sides) == 1:
            clause = clauses.setdefault(n.chunk, _Clause())
            clause.starts.append(n.start)
            clause.matches.append(n)
            clause.sides |= n.sides
    everywhere = {s for c in clauses.values() for s in c.sides}
    everywhere |= {"audio"} if has_audio else set()
    out = []
    for m in matches:
        if len(m.sides) > 1:
            clause = clauses.get(m.chunk, _Clause())
            side = _pick_side(m, clause, everywhere, has_audio, has_objects)
            m = replace(m, readings=tuple(r for r in m.readings if _side(r) in (side, None)))
        out.append(m)
    return out


def _build_objects(matches: list[_Match]) -> list[ParsedObject]:
    """Group count/size/colour/shape/motion words into objects.

    Count, size and colour open an object that the next shape word closes (an object with a
    colour but no known shape keeps shape None). A motion after the shapes goes to every object
    that has none yet ("a red ball and a blue square bouncing": both bounce); a direction or
    speed goes to the objects the last motion went to. A direction without a motion means
    "move". At most vocab.MAX_OBJECTS objects are kept.
    """
    objects: list[ParsedObject] = []
    targets: list[ParsedObject] = []
    pending: dict | None = None
    # the objects with no motion / no size yet (kept as lists, so a long prompt stays linear)
    unmoved: list[ParsedObject] = []
    unsized: list[ParsedObject] = []

    def add(obj: ParsedObject) -> None:
        nonlocal targets
        objects.append(obj)
        targets = [obj]
        unmoved.extend([obj] if obj.motion is None else [])
        unsized.extend([obj] if obj.size is None else [])

    def attach(attrs: dict) -> None:  # words after the noun
        nonlocal targets
        if "motion" in attrs:
            targets = unmoved.copy()
            for o in targets:
                o.motion = attrs["motion"]
            unmoved.clear()
        elif not targets and objects:
            targets = [objects[-1]]
        for name in ("direction", "speed"):
            for o in targets if name in attrs else ():
                setattr(o, name, attrs[name])
        if "size" in attrs:
            for o in unsized:
                o.size = attrs["size"]
            unsized.clear()

    def flush() -> None:
        nonlocal pending
        if pending is not None and "colour" in pending:
            add(ParsedObject(**pending))
        elif pending is not None:
            attach(pending)
        pending = None

    previous: _Match | None = None
    for m in matches:
        for category, key in m.readings:
            if category == "shape":
                if pending is None and previous is not None and previous.chunk == m.chunk:
                    if any(c == "shape" for c, _ in previous.readings):
                        continue  # "a cube block", "a three-sided wedge": one object named twice
                add(ParsedObject(**(pending or {}), shape=key))
                pending = None
            elif category == "count":
                if pending is not None and ("count" in pending or "colour" in pending):
                    flush()
                pending = {**(pending or {}), "count": key}
            elif category in ("colour", "size"):
                if pending is not None and category in pending:
                    flush()
                pending = {**(pending or {}), category: key}
            elif category in ("motion", "direction", "speed"):
                if pending is not None:
                    pending.setdefault(category, key)
                else:
                    attach({category: key})
        previous = m
    flush()
    for o in objects:
        if o.direction and o.motion is None:
            o.motion = "move"
    return objects[: vocab.MAX_OBJECTS]


def tempo_class_of(bpm: float) -> str:
    """The nearest class of vocab.TEMPO_CLASS_RANGES (distance 0 inside a range).

    The one BPM -> class rule: the parser reads "175 BPM" with it and the audio checker
    classifies a measured tempo with it ("fast" from about 115 BPM up, "slow" below 85).
    """
    ranges = vocab.TEMPO_CLASS_RANGES
    return min(ranges, key=lambda c: max(ranges[c][0] - bpm, bpm - ranges[c][1], 0))


def _adjacent(a: _Match, b: _Match) -> bool:
    """``b`` follows ``a`` directly in the same clause."""
    return a.chunk == b.chunk and a.start + len(a.words) == b.start


def _verbs(matches: list[_Match]) -> list[_Match]:
    """Read finite motion verbs in context: "A big red square circles.", "Two balls drop."

    A verb form of ``_MOTION_VERBS`` right after an object noun or a speed word (same clause)
    is the motion; elsewhere it is dropped ("a drum roll", "a beat drop"), and so is a direction
    right after it ("as snowfall drifts down" gives no object a direction). A bare
    "circle"/"circles" right after an object noun (or noun and adverb) is the motion too;
    elsewhere it stays a shape ("a square and a blue circle" keeps two objects).
    """
    out: list[_Match] = []
    dropped: list[_Match] = []
    for m in matches:
        prev = out[-1] if out else None
        after = {c for c, _ in prev.readings} if prev and _adjacent(prev, m) else set()
        verb = next((k for c, k in m.readings if c == "verb"), None)
        if verb is not None:
            if after & {"shape", "speed"}:
                out.append(replace(m, readings=(("motion", verb),)))
            else:
                dropped.append(m)
            continue
        if dropped and _adjacent(dropped[-1], m) and {c for c, _ in m.readings} == {"direction"}:
            dropped.append(m)  # "as snowfall drifts down": the snow's direction, not an object's
            continue
        noun_adverb = "speed" in after and len(out) > 1 and _adjacent(out[-2], out[-1])
        noun_adverb = noun_adverb and any(c == "shape" for c, _ in out[-2].readings)
        if m.words in (("circle",), ("circles",)) and ("shape" in after or noun_adverb):
            m = replace(m, readings=(("motion", "circle"),))
        out.append(m)
    return out


def _recognised(matches: list[_Match], p: ParsedPrompt) -> bool:
    """Whether the prompt holds anything the worlds' vocabulary reads (beyond counts, medium
    hints and stop words): a word, a duration or a tempo."""
    content = any(c not in ("count", "hint") for m in matches for c, _ in m.readings)
    return content or p.duration_s is not None or p.tempo_bpm is not None


def _rewrite(
    text: str,
    spans: list[tuple[str, int, int]],
    matches: list[_Match],
    read: list[ReadPhrase],
    unknown: list[int],
) -> str:
    """The prompt in the vocabulary's words: each read phrase replaced by its vocabulary
    phrase, the words still unknown dropped with the stop words that only led up to them;
    everything else (vocabulary words, numbers, punctuation) kept in place."""
    base = text if len(text.lower()) == len(text) else text.lower()
    counts = {m.start for m in matches if {c for c, _ in m.readings} == {"count"}}
    kept_tokens = {m.start + k for m in matches for k in range(len(m.words))} - counts
    kept_tokens |= {r.start + k for r in read for k in range(r.length)}
    drop = set(unknown) - kept_tokens
    # A stop word (or count) stays before a kept word, a staying stop word or a number span
    # ("at 70 BPM"), and past dropped words before a kept word: "a sage round disk" -> "a
    # circle", but "A cat chasing a laser pointer for 10 seconds in slow motion" -> "for 10
    # seconds in slow motion".
    stays: set[int] = set()
    for i in range(len(spans) - 1, -1, -1):
        tok = spans[i][0]
        if not ((tok in _STOPWORDS or i in counts) and i not in kept_tokens):
            continue
        j = i + 1
        while j < len(spans) and j in drop:
            j += 1
        if j == i + 1:  # nothing dropped in between: a kept word, a staying one or a number
            follows = _gap(base, spans, i) or j in kept_tokens or j in stays
        else:  # past dropped words only a kept word keeps it
            follows = j in kept_tokens
        (stays if follows else drop).add(i)
    edits = [(spans[r.start][1], spans[r.start + r.length - 1][2], r.replacement) for r in read]
    edits += [(spans[i][1], spans[i][2], "") for i in drop]
    out, cursor = [], 0
    for a, b, new in sorted(edits):
        out.append(base[cursor:a] + new)
        cursor = b
    out.append(base[cursor:])
    result = "".join(out)
    result = re.sub(r"(?<![\w])-+|-+(?![\w])", " ", result)  # hyphens left without a word
    result = re.sub(r"\s+", " ", result)
    result = re.sub(r"\s+([,;:.!?])", r"\1", result)
    result = re.sub(r"([,;:])(?:\s*[,;:])+", r"\1", result)
    result = re.sub(r"^[\s,;:.!?]+|[\s,;:]+$", "", result)
    result = re.sub(r"\(\s*\)", "", result).strip()
    return result or text.strip()


def _gap(text: str, spans: list[tuple[str, int, int]], i: int) -> bool:
    """Whether a number span ("10 seconds", "120 BPM": no tokens) follows token ``i``."""
    end = spans[i + 1][1] if i + 1 < len(spans) else len(text)
    return bool(re.search(r"\w", text[spans[i][2] : end]))


def _drums(p: ParsedPrompt) -> str:
    """The drum pattern a bare "drums" means: the genre's, else a rock beat."""
    for genre in p.genres:
        drums = vocab.GENRE_DEFAULTS.get(genre, {}).get("drums")
        if drums:
            return str(drums)
    return "rock beat"


def _analyse(
    text: str, read: bool = True
) -> tuple[ParsedPrompt, list[_Match], tuple[list[str], list[int]]]:
    """The parse, its vocabulary matches, and (tokens, indices of the words the lexicon does
    not list, read or not)."""
    if not isinstance(text, str):
        raise AvgenError(f"a prompt must be a string, got {type(text).__name__}")
    rest, duration, bpm = _extract_numbers(text.lower())
    raw, unknown, spans = _scan(rest)
    tokens = [t for t, _, _ in spans]
    found: list[ReadPhrase] = []
    if read and unknown:
        found = read_unknown(tokens, unknown, _STOPWORDS)
        for r in found:
            words = tuple(tokens[r.start : r.start + r.length])
            raw.append(_Match(words, r.readings, r.start, _chunk_at(spans, r.start),
                              _phrase(r.match)))  # fmt: skip
        raw.sort(key=lambda m: m.start)
    covered = {r.start + k for r in found for k in range(r.length)}
    still_unknown = [i for i in unknown if i not in covered]
    matches = _resolve(_verbs(raw), bpm is not None)
    p = ParsedPrompt(
        text=text,
        duration_s=duration,
        tempo_bpm=bpm,
        unknown_words=list(dict.fromkeys(tokens[i] for i in still_unknown)),
        read_phrases=[r.to_dict() for r in found],
    )
    # "soft music in the background": the loudness of a background layer, not of the clip
    background = {m.chunk for m in matches if m.words == ("background",)}
    for m in matches:
        for category, key in m.readings:
            if category == "dynamics" and m.chunk in background:
                continue
            current = getattr(p, category, 0)  # 0: an object attribute or a hint
            if isinstance(current, list) and key not in current:
                current.append(key)
            elif current in (None, "normal", "static", "*"):  # the first one wins
                setattr(p, category, key)
            if category == "patterns" and p.pitch_direction is None:
                p.pitch_direction = vocab.PATTERN_DIRECTION.get(str(key))
    if p.drums == "*":
        p.drums = _drums(p)
    if bpm is not None:
        p.tempo_class = tempo_class_of(bpm)
    p.objects = _build_objects(matches)
    # Style words alone make a video prompt, but do not turn an audio prompt into an AV one.
    sides = {s for m in matches for r in m.readings if r[0] != "styles" and (s := _side(r))}
    sides |= {"audio"} if bpm is not None else set()
    sides = sides or ({"video"} if p.styles else set())
    p.kind = "av" if len(sides) == 2 else (sides.pop() if sides else None)
    p.recognised = _recognised(matches, p)
    changed = p.recognised and (found or still_unknown)
    p.rewritten = _rewrite(text, spans, matches, found, still_unknown) if changed else text
    return p, matches, (tokens, unknown)


def parse_prompt(text: str, *, read: bool = True) -> ParsedPrompt:
    """Parse a prompt into the worlds' vocabulary (docs/CONTRACTS.md section 1).

    With ``read`` (the default) the words outside the vocabulary are read by the frozen text
    encoder (``avgen.prompts.reader``; loaded only when the prompt has such words); with
    ``read=False`` only the vocabulary's own words count.

    >>> parse_prompt("two yellow balls bouncing for 10 seconds").objects[0].count
    2
    """
    return _analyse(text, read)[0]
