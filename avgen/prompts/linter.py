"""Prompt linter: name the layers a prompt lacks and propose a more specific prompt.

The layers are the builders' (``AUDIO_LAYERS``, ``VIDEO_LAYERS``); with a model folder, the
words its card's ``## Vocabulary`` section does not list are reported as never learned.
"""

from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path

from avgen import vocab
from avgen.errors import AvgenError
from avgen.prompts.builder import (
    AUDIO_LAYERS,
    MAX_DURATION_S,
    VIDEO_LAYERS,
    build_audio_prompt,
)
from avgen.prompts.lexicon import _STOPWORDS, _Match, _phrase
from avgen.prompts.parser import ParsedPrompt, _analyse
from avgen.ranges import RANGES


def _vocabulary_section(card: Path) -> set[str]:
    try:
        lines = card.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise AvgenError(
            f"model card {card} is not readable UTF-8 text ({type(exc).__name__})."
        ) from None
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
    read_phrases: list[dict] = field(default_factory=list)  # the reader's matches (parse)

    def to_dict(self) -> dict:
        return asdict(self)

    def format(self) -> str:
        rows = [f'prompt:     "{self.text}"', f"kind:       {self.kind}", "layers:"]
        rows += [f"  [{'x' if ok else ' '}] {name}" for name, ok in self.layers.items()]
        if self.missing:
            rows.append(f"missing:    {', '.join(self.missing)}")
        rows.append(f'suggestion: "{self.suggestion}"')
        if self.read_phrases:
            read = [
                f"{r['phrase']} -> {r['rewrite']} ({r['score']:.2f})" for r in self.read_phrases
            ]
            rows.append(f"read as the vocabulary: {', '.join(read)}")
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

#: Words that alone say a layer is there, whatever else the prompt says (tokens, lower case).
CUES: dict[str, frozenset[str]] = {
    "style/camera": frozenset(
        """shot shots camera cameras cinematic cinematography footage lens macro aerial drone 4k
        8k hd uhd 1080p render rendered style styled painting anime watercolor watercolour
        illustration documentary film 35mm timelapse tracking dolly handheld pov closeup
        bokeh photorealistic claymation noir vintage grainy panning zoom""".split()
    ),
    "length/tempo": frozenset("bpm tempo pace loop seconds minutes long short".split()),
    "details": frozenset("beat beats groove percussion vocals vocal instrumental".split()),
}
#: Exemplar phrases of each layer: an unknown phrase of the prompt whose MiniLM embedding lies
#: within LAYER_THRESHOLD (cosine) of one of them fills that layer ("Tokyo at dusk": a scene).
EXEMPLARS: dict[str, tuple[str, ...]] = {
    "scene": (
        "a city street",
        "a forest",
        "a kitchen",
        "a desert",
        "a mountain",
        "a river",
        "a beach",
        "a park",
        "a room",
        "underwater",
        "outer space",
        "a village",
        "a harbour",
        "a field of flowers",
        "a castle",
        "a train station",
        "at sunrise",
        "at dusk",
        "at night",
        "in the morning",
        "a landscape",
        "a garden",
        "a lake",
        "a road",
    ),
    "motion": (
        "running",
        "walking",
        "flying",
        "dancing",
        "jumping",
        "swimming",
        "chasing",
        "racing",
        "flowing",
        "swirling",
        "crashing",
        "splashing",
        "flickering",
        "waving",
        "drifting",
        "hovering",
        "rolling",
        "bustling",
        "moving",
        "spinning",
        "exploding",
        "galloping",
        "cascading",
        "rippling",
    ),
    "style/camera": (
        "cinematic",
        "close-up shot",
        "wide-angle lens",
        "tracking shot",
        "handheld camera",
        "shot on film",
        "oil painting",
        "pixel art",
        "black and white",
        "high resolution",
        "slow motion",
        "time-lapse",
        "depth of field",
        "studio lighting",
        "cartoon style",
    ),
    "genre/mood": (
        "jazz",
        "rock",
        "pop",
        "hip hop",
        "classical",
        "electronic",
        "ambient",
        "folk",
        "blues",
        "metal",
        "funk",
        "country",
        "reggae",
        "ballad",
        "happy",
        "sad",
        "peaceful",
        "melancholic",
        "epic",
        "dreamy",
        "aggressive",
        "romantic",
        "mysterious",
        "lonely",
        "relaxing",
        "cheerful",
        "funky",
    ),
    "details": (
        "guitar",
        "drums",
        "piano",
        "violin",
        "bass line",
        "synthesizer",
        "vocals",
        "harmonica",
        "ukulele",
        "trumpet",
        "birds singing",
        "rain falling",
        "a stream",
        "footsteps",
        "crowd chatter",
        "vinyl crackle",
        "reverb",
        "a drum machine",
        "traffic noise",
        "waves",
        "cafe chatter",
    ),
    "length/tempo": ("fast tempo", "slow tempo", "short loop", "long track", "a few seconds"),
}
LAYER_THRESHOLD = 0.55
_EXEMPLAR_CACHE: dict[str, object] = {}


def _exemplar_embeddings(layer: str) -> object:
    if layer not in _EXEMPLAR_CACHE:
        from avgen.prompts.reader import _encode

        _EXEMPLAR_CACHE[layer] = _encode(list(EXEMPLARS[layer]))
    return _EXEMPLAR_CACHE[layer]


def _worded_layers(tokens: list[str], unknown: list[int], names: tuple[str, ...]) -> set[str]:
    """The layers of ``names`` that the words outside the vocabulary fill: a cue word, or an
    n-gram of them near one of the layer's exemplars (MiniLM, loaded only for such words)."""
    from avgen.prompts.reader import FILLERS, candidates

    found = {n for n in names if n in CUES and any(t in CUES[n] for t in tokens)}
    spans = candidates(tokens, unknown, _STOPWORDS, FILLERS)  # "crashing" is a motion here
    todo = [n for n in names if n not in found]
    if not spans or not todo:
        return found
    from avgen.prompts.reader import _encode

    texts = [" ".join(tokens[s : s + k]) for s, k in spans]
    phrases = _encode(texts)  # (C, D)
    for name in todo:
        if float((phrases @ _exemplar_embeddings(name).T).max()) >= LAYER_THRESHOLD:
            found.add(name)
    return found


def _layers(
    p: ParsedPrompt, matches: list[_Match], kind: str, words: tuple[list[str], list[int]]
) -> dict[str, bool]:
    """Each layer of ``kind``: filled by the vocabulary's words (the parse, the reader's
    matches among them) or by the prompt's other wording (``_worded_layers``)."""
    cats = {r[0] for m in matches for r in m.readings}
    length = p.duration_s is not None or p.tempo_bpm is not None or bool(p.tempo_class)
    motion = bool(cats & {"motion", "direction", "speed"})
    style = bool(p.styles) or "camera" in cats or p.time != "normal"
    details = bool(cats & set(_DETAILS))
    audio = dict(zip(AUDIO_LAYERS, (bool(p.genres or p.mode), details, length)))
    video = dict(zip(VIDEO_LAYERS, (p.scene is not None or bool(p.particles), motion, style)))
    layers = {"audio": audio, "video": video, "av": video | audio}[kind]
    missing = tuple(n for n, ok in layers.items() if not ok)
    if missing:
        for name in _worded_layers(*words, missing):
            layers[name] = True
    return layers


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
        tail.append("bouncing" if p.objects else "gently drifting")
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
        if not RANGES["tempo"].contains(p.tempo_bpm):
            top = RANGES["tempo"].high
            out.append(f"{p.tempo_bpm:g} BPM is outside 0-{top:g} BPM and will be rejected")
        elif not low <= p.tempo_bpm <= high:
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
    parsed, matches, words = _analyse(text)
    warnings = _warnings(parsed, matches)
    # The kind comes from the vocabulary's own words when they tell it (a read phrase is a
    # guess: "peak" read as a high register must not make a mountain scene an AV prompt).
    guessed = _analyse(text, read=False)[0].kind or parsed.kind
    if kind is None and guessed is None:
        warnings.append("no audio or video words found; linted as video (pass kind to choose)")
    kind = kind or guessed or "video"
    layers = _layers(parsed, matches, kind, words)
    report = LintReport(
        text=text,
        kind=kind,
        layers=layers,
        missing=[name for name, ok in layers.items() if not ok],
        suggestion=_suggest(parsed, layers, kind),
        unknown_words=parsed.unknown_words,
        warnings=warnings,
        read_phrases=parsed.read_phrases,
    )
    if model_dir is not None:
        card = find_model_card(model_dir)
        learned = _vocabulary_section(card)
        report.model_card = str(card)
        # a read phrase reaches the model as its rewrite ("ruby" -> "red"): check that word
        rewrites = {r["phrase"]: r["rewrite"] for r in parsed.read_phrases}
        phrases = [
            _phrase(rewrites.get(" ".join(m.words), " ".join(m.words)))
            for m in matches
            if m.readings[0][0] not in ("count", "hint")
        ]
        phrases += [(w,) for w in parsed.unknown_words]
        ignored = [" ".join(ph) for ph in phrases if not _learned(ph, learned)]
        report.ignored_words = list(dict.fromkeys(ignored))
    return report
