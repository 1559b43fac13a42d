"""Split an AV prompt into what is seen and what is heard (``avgen av``).

The prompt is cut into clauses at punctuation and at the joining words an AV prompt uses
("with", "over", "while", "under", "as", "and then"), and each clause is read by the prompt
parser: a clause naming objects, a scene, particles, camera or time words belongs to the
picture; one naming instruments, drums, genres, patterns, sound effects or audio effects
belongs to the soundtrack; a clause naming neither stays with the side of the clause before it
(the first one with the picture). Falling rain is both seen and heard. Impact words ("thud",
"knock", "every bounce") say the soundtrack should mark the picture's contacts; they are kept
out of the bed prompt, because the impacts are generated one by one on the events.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field

from avgen.prompts import parse_prompt

_CLAUSE_RE = re.compile(r"[,;!?]+|\.(?!\d)|\s+(?=(?:with|over|while|under|as)\b)", re.IGNORECASE)
_SOUND_KEYS = (
    "instruments",
    "sound_effects",
    "drums",
    "genres",
    "patterns",
    "effects",
    "raga",
    "raga_words",
    "fades",
)
_PICTURE_KEYS = ("objects", "scene", "particles", "styles")
#: Sound effects that are impacts: generated on the picture's events, not in the bed.
IMPACT_EFFECTS = ("thud", "knocking")
_IMPACT_WORDS = frozenset(
    "thud thuds thump thumps knock knocks knocking impact impacts bang bangs clack".split()
)
#: Sounds the picture itself makes heard when the prompt names no sound (AVWorld's beds).
SCENE_BEDS = {"ocean": "ocean waves"}
PARTICLE_BEDS = {"rain": "rain"}


@dataclass
class SplitPrompt:
    """The picture's prompt, the soundtrack's prompt, the bed prompt (the soundtrack's words
    without the impacts; "" for none), the impact sound asked for ("thud", "knock" or None: by
    surface) and whether music was asked for (then the bed follows a note plan's beat grid)."""

    video: str
    audio: str
    bed: str
    impact: str | None = None
    music: bool = False
    clauses: list[dict] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)


def _side(clause: str) -> tuple[bool, bool, bool]:
    """(is picture, is sound, is an impact) of one clause; neither for a clause that names
    nothing either side knows."""
    p = parse_prompt(clause).to_dict()
    words = {w.lower().strip(",.;:!?") for w in clause.split()}
    impact = bool(words & _IMPACT_WORDS)
    things = any(p.get(k) for k in ("objects", "scene", "styles"))
    picture = things or bool(p.get("particles"))
    picture = picture or p.get("camera") not in (None, "static")
    picture = picture or p.get("time") not in (None, "normal")
    sound = any(p.get(k) for k in _SOUND_KEYS) or p.get("tempo_bpm") is not None
    if p.get("kind") == "audio" and not picture:
        sound = True
    if "rain" in (p.get("particles") or []) and not things:
        sound = True  # "over falling rain": seen and heard
    return picture, sound or impact, impact


def _join(parts: list[str]) -> str:
    text = ", ".join(s.strip() for s in parts if s.strip())
    return re.sub(r"\s+", " ", text).strip(" ,")


def split_prompt(
    prompt: str, video_prompt: str | None = None, audio_prompt: str | None = None
) -> SplitPrompt:
    """The picture and sound parts of ``prompt``; ``video_prompt`` / ``audio_prompt`` replace
    either part when given (the bed is then the given sound prompt without its impact
    clauses)."""
    pic: list[str] = []
    snd: list[str] = []
    bed_parts: list[str] = []
    clauses = []
    last = "picture"
    for clause in (c.strip() for c in _CLAUSE_RE.split(prompt) if c and c.strip()):
        is_pic, is_snd, is_imp = _side(clause)
        if not is_pic and not is_snd:  # "as they land", "with neon lights flickering"
            is_pic, is_snd, is_imp = last == "picture", last != "picture", last == "impact"
        if is_pic:
            pic.append(clause)
        if is_snd:
            snd.append(clause)
            if not is_imp:
                bed_parts.append(clause)
        last = "impact" if is_imp else "sound" if is_snd and not is_pic else "picture"
        clauses.append({"text": clause, "picture": is_pic, "sound": is_snd, "impact": is_imp})
    video = video_prompt.strip() if video_prompt else _join(pic) or prompt
    audio = audio_prompt.strip() if audio_prompt else _join(snd)
    if audio_prompt:
        bed_parts = [c for c in _CLAUSE_RE.split(audio) if c and not _side(c)[2]]
    bed = _join(bed_parts)
    if not bed and not audio_prompt:
        picture = parse_prompt(video).to_dict()
        beds = [PARTICLE_BEDS[p] for p in picture.get("particles") or [] if p in PARTICLE_BEDS]
        beds += [SCENE_BEDS[picture["scene"]]] if picture.get("scene") in SCENE_BEDS else []
        bed = beds[0] if beds else ""
    parsed = parse_prompt(audio).to_dict() if audio else {}
    effects = parsed.get("sound_effects") or []
    kinds = [k for k in IMPACT_EFFECTS if k in effects]
    impact = None
    if len(kinds) == 1:
        impact = "knock" if kinds[0] == "knocking" else "thud"
    bed_parse = parse_prompt(bed).to_dict() if bed else {}
    music = bool(
        bed_parse.get("instruments")
        or bed_parse.get("genres")
        or bed_parse.get("drums")
        or bed_parse.get("raga")
    )
    return SplitPrompt(video, audio, bed, impact, music, clauses)
