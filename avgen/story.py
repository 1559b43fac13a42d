"""Stories: several shots played as one film with one soundtrack (Phenaki's time-variable prompts,
Sora's multi-shot consistency, shots described the way HoloCine describes them).

A story is a list of shots (a prompt, a duration, an optional sound prompt) and an optional
subject caption (docs/STORY.md has the shots file's JSON form). It is made shot after shot:

- **the subject carries on**: a shot prompt that names no object gets the subject's words in
  front ("it spins" -> "small red ball spins"); one that names the subject's shape without its
  colour or size gets them; a prompt that names a colour, size or shape changes the subject from
  then on; a shot that names no scene keeps the last one named (``carry_subject``);
- **the plan carries on**: shot 1 is planned as ``avgen video`` plans a prompt; every later
  shot starts from the previous shot's end state (``avgen.plan.plan_continuation``: same
  objects, same places, moving on). A model that follows plans renders them; the plans are
  stored in the sidecar either way;
- **the picture carries on**: every later shot continues the previous shot's last frames as
  ``avgen video --extend`` does (its last latent frames are the new window's known context);
- **streamed**: each window's frames go to the H.264 encoder as the window finishes, so memory
  does not grow with the story's length (at most ``MAX_STORY_SECONDS``);
- **the soundtrack** (``story_soundtrack``): per shot, the audio model renders the shot's sound
  prompt (or the sound words of its prompt, or the previous shot's sound); the shots' audio is
  joined with equal-power crossfades and faded in and out, so the joins do not click.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from avgen.errors import AvgenError
from avgen.ranges import check_range, spell
from avgen.vocab import SHAPES, SIZE_WORDS

MAX_STORY_SECONDS = 120.0
MAX_SHOTS = 64
DEFAULT_SHOT_S = 4.0
CROSSFADE_S = 0.25  # the soundtrack's equal-power crossfade at each join
EDGE_FADE_S = 0.01  # fade in at the start and out at the end (no click)
DEFAULT_SOUND = "a soft ambient pad"  # a story with no sound words anywhere
_SHOT_KEYS = ("prompt", "duration_s", "sound")
_STORY_KEYS = ("subject", "shots")
_PRONOUNS = ("then", "now", "next", "and", "it", "they", "she", "he", "the subject")
_SCENE_PHRASES = {
    "dark": "at night",
    "gray": "in a gray studio",
    "sky": "against the sky",
    "grass": "in a grass field",
    "beach": "on the beach at sunset",
    "snow": "in the snowy mountains",
    "city": "in the city at night",
    "ocean": "by the ocean",
}


@dataclass
class Shot:
    """One shot: what it shows, how long it lasts (seconds) and, optionally, what it sounds
    like (else the sound words of ``prompt``)."""

    prompt: str
    duration_s: float
    sound: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"prompt": self.prompt, "duration_s": self.duration_s, "sound": self.sound}


@dataclass
class Story:
    """The shots in order and the subject caption (None: the first shot's objects)."""

    shots: list[Shot]
    subject: str | None = None

    @property
    def duration_s(self) -> float:
        return float(sum(s.duration_s for s in self.shots))

    def to_dict(self) -> dict[str, Any]:
        return {"subject": self.subject, "shots": [s.to_dict() for s in self.shots]}

    @classmethod
    def from_dict(cls, data: Any, where: str = "the shots") -> Story:
        """Check a story's JSON object (``{"subject": ..., "shots": [...]}``, or the shots
        list alone) field by field; one AvgenError sentence naming ``where`` and the field."""
        if isinstance(data, list):
            data = {"shots": data}
        if not isinstance(data, dict):
            raise AvgenError(
                f"{where} must be a JSON object with a 'shots' list, got {_json_kind(data)}."
            )
        unknown = sorted(set(data) - set(_STORY_KEYS))
        if unknown:
            raise AvgenError(
                f"{where} has an unknown field {unknown[0]!r}; the fields are subject and shots."
            )
        if "shots" not in data:
            raise AvgenError(f"{where} misses the field 'shots' (a list of shots).")
        raw = data["shots"]
        if not isinstance(raw, list):
            raise AvgenError(f"{where}: 'shots' must be a list of shots, got {_json_kind(raw)}.")
        if not raw:
            raise AvgenError(f"{where} has no shots; a story needs at least one.")
        if len(raw) > MAX_SHOTS:
            raise AvgenError(f"{where} has {len(raw)} shots; the limit is {MAX_SHOTS}.")
        subject = data.get("subject")
        if subject is not None:
            subject = _text(subject, f"{where}: 'subject'")
        shots = [_shot(s, f"{where}: shots[{i}]") for i, s in enumerate(raw)]
        return check_story(cls(shots, subject))


def _json_kind(value: Any) -> str:
    return {dict: "an object", list: "a list", str: "text", bool: "true or false"}.get(
        type(value), "a number" if isinstance(value, int | float) else "null"
    )


def _text(value: Any, name: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise AvgenError(f"{name} must be non-empty text, got {spell(value)}.")
    if len(value) > 2000:
        raise AvgenError(f"{name} is {len(value)} characters long; the limit is 2000.")
    return value.strip()


def _shot(value: Any, where: str) -> Shot:
    if not isinstance(value, dict):
        raise AvgenError(f"{where} must be an object with prompt and duration_s.")
    unknown = sorted(set(value) - set(_SHOT_KEYS))
    if unknown:
        raise AvgenError(
            f"{where} has an unknown field {unknown[0]!r}; a shot has prompt, duration_s and sound."
        )
    for key in ("prompt", "duration_s"):
        if key not in value:
            raise AvgenError(f"{where} misses the field {key!r}.")
    prompt = _text(value["prompt"], f"{where}.prompt")
    duration = value["duration_s"]
    if isinstance(duration, bool) or not isinstance(duration, int | float):
        raise AvgenError(f"{where}.duration_s must be a number of seconds, got {spell(duration)}.")
    sound = value.get("sound")
    sound = None if sound is None else _text(sound, f"{where}.sound")
    return Shot(prompt, float(duration), sound)


def check_story(story: Story) -> Story:
    """Every shot's duration in the video range, the whole story at most MAX_STORY_SECONDS."""
    if not story.shots:
        raise AvgenError("a story needs at least one shot: give prompts or a shots file.")
    for i, shot in enumerate(story.shots, 1):
        check_range(
            "video duration", shot.duration_s, high=MAX_STORY_SECONDS, label=f"shot {i}'s duration"
        )
    total = story.duration_s
    if total > MAX_STORY_SECONDS + 1e-9:
        raise AvgenError(
            f"the story lasts {total:g} s in all; a story may last at most {MAX_STORY_SECONDS:g} s."
        )
    return story


def read_shots_file(path: str | Path) -> Story:
    """A shots file (docs/STORY.md) as a checked ``Story``; one sentence for a file that cannot
    be read, is not valid JSON, or misses a field."""
    path = Path(path)
    if not path.is_file():
        raise AvgenError(f"shots file {path} does not exist.")
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise AvgenError(f"cannot read shots file {path}: {exc.strerror or exc}.") from None
    if len(raw) > 4 * 2**20:
        raise AvgenError(f"shots file {path} is larger than 4 MiB; a shots file is a few lines.")
    try:
        data = json.loads(raw.decode("utf-8"), parse_constant=_refuse)
    except UnicodeDecodeError as exc:
        raise AvgenError(f"shots file {path} is not UTF-8 text (byte {exc.start}).") from None
    except json.JSONDecodeError as exc:
        raise AvgenError(
            f"shots file {path} is not valid JSON (line {exc.lineno}, column {exc.colno}: "
            f"{exc.msg})."
        ) from None
    except (ValueError, RecursionError) as exc:
        raise AvgenError(f"shots file {path} is not valid JSON ({exc}).") from None
    return Story.from_dict(data, f"shots file {path}")


def _refuse(name: str) -> Any:
    raise ValueError(f"{name} is not standard JSON")


def story_from_prompts(
    prompts: Iterable[str],
    durations: list[float] | None = None,
    duration_s: float | None = None,
    sounds: list[str | None] | None = None,
    subject: str | None = None,
) -> Story:
    """A story of one shot per prompt. ``durations``: one per prompt; ``duration_s``: the whole
    story's length, shared equally; neither: each prompt's own ("for 3 seconds"), else
    ``DEFAULT_SHOT_S``. Giving both is an error, as is a count that does not match."""
    from avgen.prompts import parse_prompt

    prompts = [_text(p, f"prompt {i}") for i, p in enumerate(prompts, 1)]
    if not prompts:
        raise AvgenError("a story needs at least one shot: give prompts or a shots file.")
    if durations is not None and duration_s is not None:
        raise AvgenError(
            "give --duration (the whole story, shared equally) or --durations (one per shot), "
            "not both."
        )
    if durations is not None:
        durations = list(durations)
        if len(durations) != len(prompts):
            raise AvgenError(
                f"--durations has {len(durations)} value(s) but {len(prompts)} prompt(s) were "
                "given; give one duration per prompt."
            )
    elif duration_s is not None:
        check_range("duration", duration_s)
        durations = [float(duration_s) / len(prompts)] * len(prompts)
    else:
        durations = [parse_prompt(p).duration_s or DEFAULT_SHOT_S for p in prompts]
    for i, d in enumerate(durations, 1):
        if isinstance(d, bool) or not isinstance(d, int | float):
            raise AvgenError(f"shot {i}'s duration must be a number of seconds, got {spell(d)}.")
    sounds = list(sounds) if sounds is not None else [None] * len(prompts)
    shots = [Shot(p, float(d), s) for p, d, s in zip(prompts, durations, sounds)]
    return check_story(Story(shots, subject))


# ----------------------------------------------------------------------------- subject


@dataclass
class Subject:
    """The subject a story carries: its count, size, colour and shape words and its scene."""

    count: int = 1
    size: str | None = None
    colour: str | None = None
    shape: str | None = None
    scene: str | None = None

    def phrase(self) -> str:
        """The subject's words ("small red circle", "two large blue squares"), "" when none."""
        if self.shape is None and self.colour is None:
            return ""
        noun = self.shape or "circle"
        if self.count > 1:
            noun += "s"
        words = [{2: "two", 3: "three"}.get(self.count, "")]
        words += [SIZE_WORDS[self.size][0] if self.size else "", self.colour or "", noun]
        return " ".join(w for w in words if w)

    def update(self, parsed: Any) -> None:
        """What a prompt names replaces what the subject had (its first object, its scene); an
        object of another shape is a new subject (the old one's colour and size do not pass
        to it)."""
        if parsed.scene:
            self.scene = parsed.scene
        if not parsed.objects:
            return
        o = parsed.objects[0]
        if o.shape and self.shape and o.shape != self.shape:  # another object: a new subject
            self.size = self.colour = None
        self.count = int(o.count or 1)
        self.size = o.size or self.size
        self.colour = o.colour or self.colour
        self.shape = o.shape or self.shape


def carry_subject(prompts: list[str], subject: str | None = None) -> list[str]:
    """Each shot prompt as generated: a prompt that names no object gets the subject's words
    in front (a leading "then", "now", "it" ... replaced); one that names the subject's shape
    but not its colour or size gets those words before its shape noun; one with no scene gets
    the last scene named. ``subject`` (a caption) starts the subject; else shot 1 does."""
    from avgen.prompts import parse_prompt

    carried = Subject()
    if subject:
        carried.update(parse_prompt(subject))
    out = []
    for prompt in prompts:
        parsed = parse_prompt(prompt)
        text = prompt
        if not parsed.objects and carried.phrase():
            text = f"{carried.phrase()} {_strip_pronouns(prompt)}".strip()
        elif parsed.objects:
            o = parsed.objects[0]
            same_shape = o.shape is None or carried.shape is None or o.shape == carried.shape
            missing = [] if not same_shape else [
                SIZE_WORDS[carried.size][0] if (o.size is None and carried.size) else "",
                carried.colour if (o.colour is None and carried.colour) else "",
            ]  # fmt: skip
            missing = [w for w in missing if w]
            if missing:
                text = _before_noun(text, " ".join(missing))
        parsed = parse_prompt(text)
        if parsed.scene is None and carried.scene is not None and parsed.objects:
            text = _after_first_clause(text, _SCENE_PHRASES[carried.scene])
        carried.update(parse_prompt(text))
        out.append(text)
    return out


def picture_prompts(prompts: list[str]) -> list[str]:
    """Each shot prompt's picture words (``avgen.av.split``: "a red ball bouncing, with soft
    rain" -> "a red ball bouncing"), what the video model renders and the planner plans; the
    whole prompt when it has no picture words."""
    from avgen.av.split import split_prompt

    return [split_prompt(p).video or p for p in prompts]


def _strip_pronouns(prompt: str) -> str:
    """ "then it spins" -> "spins": the leading words that stood for the subject."""
    words = prompt.strip().split()
    while words and (
        words[0].lower().strip(",") in _PRONOUNS or " ".join(words[:2]).lower() == "the subject"
    ):
        words = words[2:] if " ".join(words[:2]).lower() == "the subject" else words[1:]
    return " ".join(words)


def _after_first_clause(text: str, words: str) -> str:
    """``words`` added at the end of the picture's clause: before the first comma, semicolon
    or "with" (the sound words usually follow), else at the end."""
    match = re.search(r"\s*(,|;|\bwith\b)", text)
    if match is None:
        return f"{text.rstrip(' .')} {words}"
    return f"{text[: match.start()].rstrip(' .')} {words}{text[match.start() :]}"


def _before_noun(text: str, words: str) -> str:
    """``words`` inserted before the first shape noun of ``text`` (else in front)."""
    nouns = sorted({w for names in SHAPES.values() for w in names}, key=len, reverse=True)
    pattern = r"\b(" + "|".join(re.escape(n) for n in nouns) + r")(e?s)?\b"
    match = re.search(pattern, text, flags=re.IGNORECASE)
    if match is None:
        return f"{words} {text}"
    return f"{text[: match.start()]}{words} {text[match.start() :]}"


# ----------------------------------------------------------------------------- sound


def sound_words(prompt: str) -> str | None:
    """The part of a prompt that describes sound ("..., with a piano melody and rain sounds"
    -> "a piano melody and rain sounds"): its clauses the parser reads as audio; None if none."""
    from avgen.prompts import parse_prompt

    clauses = re.split(r",|;|\bwith\b|\bto the sound of\b|\bwhile\b", prompt)
    keep = []
    for clause in clauses:
        clause = clause.strip(" .")
        if clause and parse_prompt(clause).kind == "audio":
            keep.append(clause)
    return ", ".join(keep) if keep else None


def sound_prompts(story: Story) -> list[str]:
    """Each shot's sound prompt: its ``sound``, else the sound words of its prompt, else the
    previous shot's (the soundtrack goes on), else the next one's, else ``DEFAULT_SOUND``."""
    own = [s.sound or sound_words(s.prompt) for s in story.shots]
    out: list[str | None] = []
    for s in own:
        if s is None and out:
            s = out[-1]
        out.append(s)
    later = next((s for s in own if s), DEFAULT_SOUND)
    return [s or later for s in out]


def equal_power_join(parts: list[np.ndarray], overlap: int) -> np.ndarray:
    """Concatenate waveforms (T_i,) overlapping each join by ``overlap`` samples with an
    equal-power crossfade (cos / sin: the summed power of two unrelated sounds stays level).
    Every part but the last must carry ``overlap`` samples past its end."""
    out = np.asarray(parts[0], np.float32).copy()
    theta = (np.arange(overlap, dtype=np.float64) + 0.5) / max(overlap, 1) * (math.pi / 2)
    fade_out, fade_in = np.cos(theta).astype(np.float32), np.sin(theta).astype(np.float32)
    for part in parts[1:]:
        part = np.asarray(part, np.float32)
        n = min(overlap, len(out), len(part))
        if n:
            head = out[len(out) - n :] * fade_out[:n] + part[:n] * fade_in[:n]
            out = np.concatenate([out[: len(out) - n], head, part[n:]])
        else:
            out = np.concatenate([out, part])
    return out


def edge_fades(wave: np.ndarray, sr: int, seconds: float = EDGE_FADE_S) -> np.ndarray:
    """Raised-cosine fade in over the first and out over the last ``seconds``."""
    n = min(len(wave) // 2, max(1, round(seconds * sr)))
    ramp = (0.5 - 0.5 * np.cos(np.linspace(0.0, math.pi, n))).astype(np.float32)
    wave = np.asarray(wave, np.float32).copy()
    wave[:n] *= ramp
    wave[len(wave) - n :] *= ramp[::-1]
    return wave


def story_soundtrack(
    sounds: list[str],
    durations: list[float],
    audio_pipe: Any,
    *,
    seed: int = 0,
    num_inference_steps: int | None = None,
    guidance_scale: float | None = None,
    callback: Callable[[int, int], None] | None = None,
) -> tuple[np.ndarray, int]:
    """The story's soundtrack, mono float32 (T,) and its sample rate: shot k's sound prompt
    rendered by ``audio_pipe`` (a text-to-audio pipeline) for its duration plus the crossfade
    (at least the model's 1 s), seed + k; joined with equal-power crossfades of
    ``CROSSFADE_S`` centred after each join, faded in and out at the ends. One function, so a
    soundtrack synced to the picture's events can take its place."""
    import torch

    sr = int(audio_pipe.config.get("sample_rate", 16000))
    overlap = round(CROSSFADE_S * sr)
    parts = []
    steps = num_inference_steps
    for k, (sound, seconds) in enumerate(zip(sounds, durations)):
        extra = CROSSFADE_S if k < len(sounds) - 1 else 0.0
        length = max(1.0, seconds + extra)
        out = audio_pipe(
            sound,
            num_inference_steps=steps,
            guidance_scale=guidance_scale,
            audio_length_in_s=length,
            generator=torch.Generator().manual_seed(seed + k),
            callback=None if callback is None else (lambda i, n, k=k: callback(k, len(sounds))),
        )
        wave = np.asarray(out.audio, np.float32).reshape(-1)
        want = round((seconds + extra) * sr)
        wave = np.pad(wave[:want], (0, max(0, want - len(wave))))
        parts.append(wave)
    wave = edge_fades(equal_power_join(parts, overlap), sr)
    total = round(sum(durations) * sr)
    wave = np.pad(wave[:total], (0, max(0, total - len(wave))))
    peak = float(np.max(np.abs(wave))) if len(wave) else 0.0
    if peak > 0.99:
        wave = wave * (0.99 / peak)
    return wave.astype(np.float32), sr


# ----------------------------------------------------------------------------- picture


@dataclass
class StoryFrames:
    """What ``render_story`` made besides the frames it streamed: the frame index where each
    shot starts, each shot's plan (or None) and the frame count."""

    starts: list[int] = field(default_factory=list)
    plans: list[Any] = field(default_factory=list)
    num_frames: int = 0


def shot_frames(durations: list[float], fps: int) -> list[int]:
    """Frames of each shot: the rounded cumulative durations' differences, so the story's
    length is its total duration rounded once (no drift over many shots)."""
    ends = [round(t * fps) for t in np.cumsum(durations)]
    counts = [e - s for s, e in zip([0, *ends[:-1]], ends)]
    if min(counts) < 1:
        i = counts.index(min(counts))
        raise AvgenError(
            f"shot {i + 1} is shorter than one frame at {fps} fps; make it at least "
            f"{1 / fps:g} s long."
        )
    return counts


def plan_shots(
    prompts: list[str], counts: list[int], fps: int, width: int, height: int, seed: int
) -> list[Any]:
    """Each shot's motion plan: shot 1 from its prompt (as ``avgen video`` plans it), every
    later one from the previous shot's end state (``plan_continuation``); None for a shot
    that names nothing to move (the next shot then plans afresh)."""
    from avgen.plan import plan_continuation, plan_motion
    from avgen.prompts import parse_prompt

    plans: list[Any] = []
    for k, (prompt, n) in enumerate(zip(prompts, counts)):
        parsed = parse_prompt(prompt)
        previous = plans[-1] if plans else None
        dur = n / fps
        if previous is None:
            plan = plan_motion(parsed, dur, seed + k, fps=fps, width=width, height=height)
        else:
            plan = plan_continuation(parsed, dur, previous, seed + k)
        plans.append(plan)
    return plans


def render_story(
    pipe: Any,
    prompts: list[str],
    counts: list[int],
    sink: Callable[[np.ndarray], None],
    *,
    seed: int = 0,
    width: int = 64,
    height: int = 64,
    fps: int = 8,
    num_inference_steps: int | None = None,
    guidance_scale: float | None = None,
    negative_prompt: str | None = None,
    plans: list[Any] | None = None,
    callback: Callable[[int, int], None] | None = None,
) -> StoryFrames:
    """Render the shots in order with ``pipe`` (avgen's ``TextToVideoPipeline``), handing every
    window's new frames to ``sink`` as it finishes: shot 1 from its prompt, each later shot
    continuing the last frames so far (the pipeline's ``extend_video`` context, whose last
    latent frames the new window knows), shot k with seed + k. ``plans`` (one per shot) are
    followed when the model reads plans."""
    import torch

    follows = bool(getattr(pipe, "follows_plans", False))
    plans = plans if plans is not None else [None] * len(prompts)
    tail: np.ndarray | None = None
    made = StoryFrames(plans=list(plans))
    steps = int(num_inference_steps or pipe.config["num_inference_steps"])
    per_shot = [len(pipe.window_plan(n, has_context=k > 0)) for k, n in enumerate(counts)]
    total, done = steps * sum(per_shot), 0
    for k, (prompt, n) in enumerate(zip(prompts, counts)):
        made.starts.append(made.num_frames)
        base = done

        def tick(i: int, _n: int, base: int = base) -> None:
            if callback is not None:
                callback(base + i, total)

        out = pipe(
            prompt,
            negative_prompt=negative_prompt,
            num_inference_steps=steps,
            guidance_scale=guidance_scale,
            num_frames=n,
            width=width,
            height=height,
            fps=fps,
            generator=torch.Generator().manual_seed(seed + k),
            extend_video=tail,
            motion_plan=plans[k] if follows else None,
            frame_sink=sink,
            callback=tick,
        )
        tail = out.frames  # the last context frames: what the next shot continues
        made.num_frames += n
        done += steps * per_shot[k]
    return made
