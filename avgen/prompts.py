"""Layered prompts: build, parse and lint text-to-audio and text-to-video prompts.

The layering is the prompt guide's (course lesson 11, "Prompt Design Strategies"): an audio
prompt gives genre/mood, then details, then length/tempo; a video prompt gives scene, then
motion, then style/camera. The parser maps a prompt onto the worlds' vocabulary
(``avgen/vocab.py``, WORLD.md) in the schema of CONTRACT.md section 1, so the duration, tempo
and speed it finds can feed the generation parameters and the analytic checkers.

Parsing is a longest-phrase-first scan over word tokens (hyphens split words, so "slow-motion"
and "slow motion" read alike). A few words belong to a visual and to an audio table ("dark":
scene or minor mode, "fast": object speed or tempo, "rising": motion or pitch direction,
"drone": raga drone or drone shot, "ocean", "rain", "cinematic", "slow"); each is read on the
side its clause (text between commas and words such as "and", "with") speaks about, else on the
side the whole prompt speaks about, else by a fixed default.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from avgen import vocab
from avgen.errors import AvgenError

MAX_DURATION_S = 600.0
MAX_BPM = 300.0
AUDIO_LAYERS = ("genre/mood", "details", "length/tempo")
VIDEO_LAYERS = ("scene", "motion", "style/camera")

# ----------------------------------------------------------------------------- builders


def _num(x: float) -> str:
    return f"{x:g}"


def build_audio_prompt(
    genre_mood: str,
    details: str = "",
    duration_s: float | None = None,
    tempo_bpm: float | None = None,
) -> str:
    """Layer an audio prompt: genre/mood, then details, then length/tempo (the prompt guide)."""
    head = genre_mood.strip().rstrip(",;")
    if not head:
        raise AvgenError("genre_mood is empty; give a genre or mood, e.g. 'Ethereal ambient synth'")
    text = f"{head} {details.strip()}" if details.strip() else head
    tail = []
    if duration_s is not None:
        tail.append(f"{_num(check_duration(duration_s))} seconds")
    if tempo_bpm is not None:
        if not 0 < tempo_bpm <= MAX_BPM:
            raise AvgenError(f"tempo_bpm must be between 0 and {MAX_BPM:g} BPM, got {tempo_bpm}")
        tail.append(f"at {_num(tempo_bpm)} BPM")
    return f"{text}, {' '.join(tail)}" if tail else text


def build_video_prompt(scene: str, motion: str = "", style: str = "") -> str:
    """Layer a video prompt: scene, then motion, then style/camera (the prompt guide)."""
    if not scene.strip():
        raise AvgenError("scene is empty; describe the scene first, e.g. 'Snowy mountain peak'")
    parts = [p.strip().strip(",;") for p in (scene, motion, style)]
    return ", ".join(p for p in parts if p)


# ----------------------------------------------------------------------------- durations


def check_duration(seconds: float) -> float:
    """Return ``seconds`` as a float if it lies in (0, 600], else raise AvgenError."""
    try:
        value = float(seconds)
    except (TypeError, ValueError):
        raise AvgenError(f"duration must be a number of seconds, got {seconds!r}") from None
    if not (math.isfinite(value) and 0 < value <= MAX_DURATION_S):
        raise AvgenError(f"duration must be between 0 and 600 seconds, got {value:g}")
    return value


def resolve_duration(
    parsed: ParsedPrompt | Mapping | None, flag_duration: float | None, default: float = 4.0
) -> float:
    """The clip length: an explicit flag wins over the prompt, the prompt over ``default``."""
    if flag_duration is not None:
        return check_duration(flag_duration)
    if isinstance(parsed, ParsedPrompt):
        from_prompt = parsed.duration_s
    else:
        from_prompt = parsed.get("duration_s") if isinstance(parsed, Mapping) else None
    return check_duration(from_prompt if from_prompt is not None else default)


# ----------------------------------------------------------------------------- lexicon

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

    @property
    def sides(self) -> set[str]:
        return {s for s in map(_side, self.readings) if s}


# ----------------------------------------------------------------------------- parser

_NUMBER_WORDS = {
    w: float(i)
    for i, w in enumerate(
        "zero one two three four five six seven eight nine ten eleven twelve".split()
    )
} | {"fifteen": 15.0, "twenty": 20.0, "thirty": 30.0, "forty": 40.0, "sixty": 60.0, "ninety": 90.0}
_BPM_RE = re.compile(r"\b(\d+(?:\.\d+)?)\s*-?\s*(?:bpm|beats per minute)\b")
_DURATION_RE = re.compile(
    r"\b(?:(\d+(?:\.\d+)?)\s*-?\s*(seconds?|secs?|s|minutes?|mins?)"
    rf"|({'|'.join(_NUMBER_WORDS)})[\s-]+(seconds?|minutes?))\b"
)


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
    """What a prompt asks for, in the worlds' vocabulary (CONTRACT.md section 1)."""

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

    def to_dict(self) -> dict:
        """The contract's plain-JSON dictionary (objects as dicts)."""
        return asdict(self)


def _extract_numbers(text: str) -> tuple[str, float | None, float | None]:
    """Remove "120 BPM" and "10 seconds"-like spans; return (rest, duration_s, tempo_bpm)."""
    bpm = duration = None
    m = _BPM_RE.search(text)
    if m:
        bpm = float(m.group(1))
        text = text[: m.start()] + " " + text[m.end() :]
    m = _DURATION_RE.search(text)
    if m:
        number, unit = (m.group(1), m.group(2)) if m.group(1) else (m.group(3), m.group(4))
        value = _NUMBER_WORDS[number] if number in _NUMBER_WORDS else float(number)
        duration = value * (60.0 if unit.startswith("m") else 1.0)
        text = text[: m.start()] + " " + text[m.end() :]
    return text, duration, bpm


def _scan(text: str) -> tuple[list[_Match], list[str]]:
    """Longest-phrase-first scan; return the matches and the unknown content words."""
    tokens = _tokens(text)
    matches: list[_Match] = []
    unknown: list[str] = []
    chunk, i = 0, 0
    while i < len(tokens):
        tok = tokens[i]
        for n in range(min(_MAX_PHRASE, len(tokens) - i), 0, -1):
            readings = LEXICON.get(tuple(tokens[i : i + n]))
            if readings:
                matches.append(_Match(tuple(tokens[i : i + n]), readings, i, chunk))
                i += n
                break
        else:
            i += 1
            hint = next((side for side, ws in _HINTS.items() if tok in ws), None)
            if tok in _PUNCT or tok in _BOUNDARY:
                chunk += 1
            elif tok.isdigit() or tok in _NUMBER_WORDS:  # "4 balls", "four balls"
                n = int(_NUMBER_WORDS[tok]) if tok in _NUMBER_WORDS else int(tok)
                if n > 0:
                    matches.append(_Match((tok,), (("count", n),), i - 1, chunk))
            elif hint:  # "sound", "footage": no attribute, but they name the medium
                matches.append(_Match((tok,), (("hint", hint),), i - 1, chunk))
            elif hint is None and tok not in _STOPWORDS and not re.fullmatch(r"[\d.]+", tok):
                unknown.append(tok)
    return matches, list(dict.fromkeys(unknown))


def _pick_side(m: _Match, matches: list[_Match], has_audio: bool, has_objects: bool) -> str:
    """Which side ("video"/"audio") an ambiguous word is read on (see the module docstring)."""
    neighbours = [n for n in matches if n.chunk == m.chunk and len(n.sides) == 1]
    local = {s for n in neighbours for s in n.sides}
    if len(local) == 1:
        return local.pop()
    if len(local) == 2:  # both sides in the clause: the nearest word decides (ties: the next)
        nearest = min(neighbours, key=lambda n: (abs(n.start - m.start), n.start < m.start))
        return next(iter(nearest.sides))
    if m.words in (("rising",), ("falling",)):  # motions only with a visual object
        return "video" if has_objects or not has_audio else "audio"
    everywhere = {s for n in matches if len(n.sides) == 1 for s in n.sides}
    if has_audio:
        everywhere.add("audio")
    if len(everywhere) == 1:
        return everywhere.pop()
    return _DEFAULT_SIDE.get(m.words, "audio")


def _resolve(matches: list[_Match], has_bpm: bool) -> list[_Match]:
    """Keep, for each word shared by both sides, only the readings of its side."""
    has_audio = has_bpm or any(n.sides == {"audio"} for n in matches)
    has_objects = any(r[0] in ("shape", "colour") for n in matches for r in n.readings)
    out = []
    for m in matches:
        if len(m.sides) > 1:
            side = _pick_side(m, matches, has_audio, has_objects)
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

    def attach(attrs: dict) -> None:  # words after the noun
        nonlocal targets
        if "motion" in attrs:
            targets = [o for o in objects if o.motion is None]
            for o in targets:
                o.motion = attrs["motion"]
        elif not targets and objects:
            targets = [objects[-1]]
        for name in ("direction", "speed"):
            for o in targets if name in attrs else ():
                setattr(o, name, attrs[name])
        for o in objects if "size" in attrs else ():
            o.size = o.size or attrs["size"]

    def flush() -> None:
        nonlocal pending, targets
        if pending is not None and "colour" in pending:
            objects.append(ParsedObject(**pending))
            targets = [objects[-1]]
        elif pending is not None:
            attach(pending)
        pending = None

    for m in matches:
        for category, key in m.readings:
            if category == "shape":
                objects.append(ParsedObject(**(pending or {}), shape=key))
                targets, pending = [objects[-1]], None
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


def _analyse(text: str) -> tuple[ParsedPrompt, list[_Match]]:
    if not isinstance(text, str):
        raise AvgenError(f"a prompt must be a string, got {type(text).__name__}")
    rest, duration, bpm = _extract_numbers(text.lower())
    raw, unknown = _scan(rest)
    matches = _resolve(_verbs(raw), bpm is not None)
    p = ParsedPrompt(text=text, duration_s=duration, tempo_bpm=bpm, unknown_words=unknown)
    # "soft music in the background": the loudness of a background layer, not of the clip
    background = {m.chunk for m in matches if m.words == ("background",)}
    for m in matches:
        for category, key in m.readings:
            if category == "dynamics" and m.chunk in background:
                continue
            current = getattr(p, category, 0)  # 0: an object attribute or a hint
            if isinstance(current, list) and key not in current:
                current.append(key)
            elif current in (None, "normal", "static"):  # the first one wins
                setattr(p, category, key)
            if category == "patterns" and p.pitch_direction is None:
                p.pitch_direction = vocab.PATTERN_DIRECTION.get(str(key))
    if bpm is not None:
        p.tempo_class = tempo_class_of(bpm)
    p.objects = _build_objects(matches)
    # Style words alone make a video prompt, but do not turn an audio prompt into an AV one.
    sides = {s for m in matches for r in m.readings if r[0] != "styles" and (s := _side(r))}
    sides |= {"audio"} if bpm is not None else set()
    sides = sides or ({"video"} if p.styles else set())
    p.kind = "av" if len(sides) == 2 else (sides.pop() if sides else None)
    return p, matches


def parse_prompt(text: str) -> ParsedPrompt:
    """Parse a prompt into the worlds' vocabulary (CONTRACT.md section 1).

    >>> parse_prompt("two yellow balls bouncing for 10 seconds").objects[0].count
    2
    """
    return _analyse(text)[0]


# ----------------------------------------------------------------------------- linter


def _vocabulary_section(card: Path) -> set[str]:
    lines = card.read_text(encoding="utf-8").splitlines()
    starts = [i for i, line in enumerate(lines) if line.strip().lower() == "## vocabulary"]
    if not starts:
        raise AvgenError(f"model card {card} has no '## Vocabulary' section listing its words")
    words: set[str] = set()
    for line in lines[starts[0] + 1 :]:
        if re.match(r"#{1,2}\s", line):
            break
        if line.lstrip().startswith("#"):
            continue
        line = re.sub(r"^\s*(?:[-*+]|\d+[.)])\s+", "", line).replace("`", "")
        words.update(" ".join(_phrase(item)) for item in re.split(r"[,;]", line))
    return words - {""}


def find_model_card(model_dir: str | Path) -> Path:
    """MODEL_CARD.md of a model folder, or of its parent for a component subfolder."""
    folder = Path(model_dir)
    for card in (folder / "MODEL_CARD.md", folder.parent / "MODEL_CARD.md"):
        if card.is_file():
            return card
    raise AvgenError(f"no model card found: {folder / 'MODEL_CARD.md'} does not exist")


def read_model_vocabulary(model_dir: str | Path) -> set[str]:
    """The words and phrases a model learned: the ``## Vocabulary`` section of its card."""
    return _vocabulary_section(find_model_card(model_dir))


def _learned(phrase: tuple[str, ...], words: set[str]) -> bool:
    def known(w: str) -> bool:
        return w in words or (w.endswith("s") and (w[:-1] in words or w[:-2] in words))

    content = [w for w in phrase if w not in _STOPWORDS]  # "in slow motion" -> slow motion
    if " ".join(phrase) in words or " ".join(content) in words:
        return True
    return bool(content) and all(map(known, content))


@dataclass
class LintReport:
    """The linter's findings about one prompt (``format()`` for people, ``to_dict()`` for JSON)."""

    text: str
    kind: str
    layers: dict[str, bool]  # layer name -> present
    missing: list[str]
    suggestion: str
    unknown_words: list[str]
    ignored_words: list[str] | None = None  # words the model never learned (model_dir given)
    model_card: str | None = None
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)

    def format(self) -> str:
        rows = [f'prompt:     "{self.text}"', f"kind:       {self.kind}", "layers:"]
        rows += [f"  [{'x' if ok else ' '}] {name}" for name, ok in self.layers.items()]
        if self.missing:
            rows.append(f"missing:    {', '.join(self.missing)}")
        rows.append(f'suggestion: "{self.suggestion}"')
        if self.unknown_words:
            rows.append(f"unknown to the worlds' vocabulary: {', '.join(self.unknown_words)}")
        if self.ignored_words:
            rows.append(
                f"never learned by the model ({self.model_card}), will be ignored: "
                + ", ".join(self.ignored_words)
            )
        rows += [f"warning:    {w}" for w in self.warnings]
        return "\n".join(rows)


_DETAILS = ("instruments", "patterns", "effects", "sound_effects", "drums", "raga_words")


def _layers(p: ParsedPrompt, matches: list[_Match], kind: str) -> dict[str, bool]:
    cats = {r[0] for m in matches for r in m.readings}
    length = p.duration_s is not None or p.tempo_bpm is not None or bool(p.tempo_class)
    motion = bool(cats & {"motion", "direction", "speed"}) or p.time != "normal"
    audio = dict(zip(AUDIO_LAYERS, (bool(p.genres or p.mode), bool(cats & set(_DETAILS)), length)))
    style = bool(p.styles) or "camera" in cats
    video = dict(zip(VIDEO_LAYERS, (p.scene is not None, motion, style)))
    return {"audio": audio, "video": video, "av": video | audio}[kind]


def _far_from(rgb: tuple[int, int, int], colours: list[tuple[int, int, int]]) -> bool:
    return all(math.dist(rgb, c) > 100 for c in colours)


def _lower_first(text: str) -> str:
    """Lower the first letter unless the first word is an acronym ("EDM", "4K")."""
    first = text.split(" ", 1)[0]
    return text[:1].lower() + text[1:] if first[1:] == first[1:].lower() else text


def _genre_for(p: ParsedPrompt) -> str:
    """The prompt's genre, else the first genre whose instruments it names, else ambient."""
    if p.genres:
        return p.genres[0]
    for genre, defaults in vocab.GENRE_DEFAULTS.items():
        if set(defaults["instruments"]) & set(p.instruments):
            return genre
    return "ambient"


def _suggest(p: ParsedPrompt, layers: dict[str, bool], kind: str) -> str:
    """Fill each missing layer with a concrete choice from the vocabulary (deterministic)."""
    text = p.text.strip().rstrip(",;.")
    genre = _genre_for(p)
    head, tail = [], []
    if not layers.get("scene", True):
        object_rgb = [vocab.COLOURS[o.colour].rgb for o in p.objects if o.colour]
        scene = next(
            (
                s
                for s in ("grass", "beach", "city", "snow", "ocean", "sky", "gray", "dark")
                if all(_far_from(rgb, list(vocab.SCENE_RGB[s].values())) for rgb in object_rgb)
            ),
            "gray",
        )
        head.append(vocab.SCENES[scene].words[0])
    if not layers.get("motion", True):
        if p.objects:
            tail.append("bouncing")
        else:
            bg = list(vocab.SCENE_RGB[p.scene or "grass"].values())
            colour = next((c for c, v in vocab.COLOURS.items() if _far_from(v.rgb, bg)), "red")
            tail.append(f"a {colour} ball bouncing")
    if not layers.get("style/camera", True):
        tail.append("cinematic wide-angle shot")
    if not layers.get("genre/mood", True):
        word = vocab.GENRES[genre][0]
        if kind == "audio":
            text = f"{word} {_lower_first(text)}".strip()
        else:
            tail.append(f"{word} mood")
    if not layers.get("details", True):
        name = vocab.GENRE_DEFAULTS[genre]["instruments"][0]
        article = "an" if name[0] in "aeiou" else "a"
        tail.append(f"with {article} {name} melody and soft reverb")
    text = ", ".join(x for x in [*head, _lower_first(text) if head else text] if x)
    for piece in tail:
        sep = " " if piece.startswith("with ") else ", "
        text = f"{text}{sep}{piece}" if text else piece
    if kind in ("audio", "av") and (p.duration_s is None or p.tempo_bpm is None):
        tempo_class = p.tempo_class or vocab.GENRE_DEFAULTS[genre].get("tempo_class", "moderate")
        low, high = vocab.TEMPO_CLASS_RANGES[str(tempo_class)]
        bpm = None if p.tempo_bpm is not None else (low + high) / 2
        duration = None if p.duration_s is not None else 4.0
        text = build_audio_prompt(text, "", duration, bpm)
    return text[:1].upper() + text[1:]


def _warnings(p: ParsedPrompt, matches: list[_Match]) -> list[str]:
    out = []
    if p.duration_s is not None and not 0 < p.duration_s <= MAX_DURATION_S:
        out.append(f"duration {p.duration_s:g} s is outside 0-600 seconds and will be rejected")
    if p.tempo_bpm is not None:
        low, high = vocab.TEMPO_RANGE
        if not low <= p.tempo_bpm <= high:
            out.append(f"{p.tempo_bpm:g} BPM is outside the worlds' {low}-{high} BPM range")
        words = {str(k) for m in matches for c, k in m.readings if c == "tempo_class"}
        if words - {p.tempo_class}:
            named = ", ".join(sorted(words))
            out.append(f"tempo words ({named}) disagree with {p.tempo_bpm:g} BPM")
    count = sum(o.count for o in p.objects)
    if count > vocab.MAX_OBJECTS:
        out.append(f"{count} objects asked for; the worlds render at most {vocab.MAX_OBJECTS}")
    return out


def lint_prompt(
    text: str, *, kind: str | None = None, model_dir: str | Path | None = None
) -> LintReport:
    """Check a prompt against the layered strategies and propose a more specific one.

    ``kind`` ("audio", "video" or "av") overrides the kind guessed from the words; a prompt of
    no recognisable kind is linted as video. With ``model_dir``, the words that model never
    learned (its MODEL_CARD.md ``## Vocabulary``) are listed as ignored.
    """
    if not isinstance(text, str) or not text.strip():
        raise AvgenError("the prompt is empty; describe the sound or scene, e.g. 'rain at night'")
    if kind not in (None, "audio", "video", "av"):
        raise AvgenError(f"kind must be 'audio', 'video' or 'av', got {kind!r}")
    parsed, matches = _analyse(text)
    warnings = _warnings(parsed, matches)
    if kind is None and parsed.kind is None:
        warnings.append("no audio or video words found; linted as video (pass kind to choose)")
    kind = kind or parsed.kind or "video"
    layers = _layers(parsed, matches, kind)
    report = LintReport(
        text=text,
        kind=kind,
        layers=layers,
        missing=[name for name, ok in layers.items() if not ok],
        suggestion=_suggest(parsed, layers, kind),
        unknown_words=parsed.unknown_words,
        warnings=warnings,
    )
    if model_dir is not None:
        card = find_model_card(model_dir)
        learned = _vocabulary_section(card)
        report.model_card = str(card)
        phrases = [m.words for m in matches if m.readings[0][0] not in ("count", "hint")]
        phrases += [(w,) for w in parsed.unknown_words]
        ignored = [" ".join(ph) for ph in phrases if not _learned(ph, learned)]
        report.ignored_words = list(dict.fromkeys(ignored))
    return report
