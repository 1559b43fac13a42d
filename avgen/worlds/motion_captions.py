"""MotionWorld captions: four phrasings of a clip, terse to layered, with varied wording.

Every phrasing names each object group (count, size, colour, shape, motion, direction, speed)
with words from avgen.vocab and the phrase tables below; the scene, particles, camera, time word
and styles follow, and about a third of the phrasings add the duration. See docs/WORLDS.md.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from avgen.vocab import COLOURS, SHAPES
from avgen.worlds.motion_spec import MotionSpec
from avgen.worlds.motion_truth import _expected

_STYLES = (
    "cinematic",
    "dramatic",
    "4K",
    "8K",
    "HD",
    "Pixar-style",
    "photorealistic",
    "vibrant",
    "minimalist",
    "shot on film",
    "35mm",
)
_SCENE_PHRASES = {
    "dark": ("on a dark background", "against a black backdrop", "in the dark", "at night"),
    "gray": ("on a gray background", "in a gray studio", "in a studio", "against a grey wall"),
    "sky": ("against a daytime sky", "in the sky", "against a clear sky"),
    "grass": ("on a grass field", "in a meadow", "on the grass"),
    "beach": ("on a beach at sunset", "on the beach at sunset", "at a sunset beach"),
    "snow": ("in the snowy mountains", "against snowy mountains", "before snow-capped mountains"),
    "city": ("in a city at night", "in a neon city", "over a city at night"),
    "ocean": ("over the ocean", "by the sea", "above the sea"),
}
_SCENE_SENTENCES = {
    "dark": ("A dark, empty background.", "A black backdrop at night."),
    "gray": ("A plain gray studio.", "A gray studio backdrop."),
    "sky": ("A clear daytime sky.", "An open sky in daytime."),
    "grass": ("A grass field under a clear sky.", "An open meadow in daylight."),
    "beach": ("A beach at sunset.", "A sandy beach at sunset, the sun setting over the sand."),
    "snow": ("Snowy mountains under a clear sky.", "Snow-capped mountains in daylight."),
    "city": ("A city at night, its windows lit.", "A neon city skyline at night."),
    "ocean": ("The open ocean under a clear sky.", "A calm sea with rolling waves."),
}
_PLURAL = {"box": "boxes"}
_NUMBER = {1: "a", 2: "two", 3: "three"}
_PARTICLE_PHRASES = {
    "snow": ("with snow falling", "in falling snow", "as snowfall drifts down"),
    "rain": ("with rain falling", "in falling rain"),
}
_CAMERA_PHRASES = {
    "static": ("static camera", "static shot", "locked-off shot", "tripod shot"),
    "pan_left": ("camera panning left", "the camera pans left", "pan left"),
    "pan_right": ("camera panning right", "the camera pans right", "pan right"),
    "zoom_in": ("camera zooming in", "the camera zooms in", "push in"),
    "zoom_out": ("camera zooming out", "the camera zooms out", "pull back"),
}
_TIME_PHRASES = {
    "slow_motion": ("in slow motion", "slow motion", "slow-motion shot", "slow-mo"),
    "time_lapse": ("time-lapse", "sped up", "in time-lapse"),
}
# (participle, finite) forms of each motion's verbs
_VERBS = {
    "move": (
        ("moving", "moves"),
        ("sliding", "slides"),
        ("gliding", "glides"),
        ("drifting", "drifts"),
    ),
    "bounce": (("bouncing", "bounces"),),
    "fall": (("falling", "falls"), ("dropping", "drops")),
    "rise": (("rising", "rises"), ("floating up", "floats up")),
    "spin": (("spinning", "spins"), ("rotating", "rotates")),
    "grow": (("growing", "grows"), ("expanding", "expands")),
    "shrink": (("shrinking", "shrinks"),),
    "circle": (("circling", "circles"), ("orbiting", "orbits")),
    "still": (
        ("resting", "rests"),
        ("sitting still", "sits still"),
        ("standing still", "stands still"),
    ),
}


def _choice(rng: np.random.Generator, seq) -> Any:
    return seq[int(rng.integers(len(seq)))]


def _noun(rng: np.random.Generator, shape: str, count: int) -> str:
    word = _choice(rng, SHAPES[shape])
    return word if count == 1 else _PLURAL.get(word, word + "s")


def _object_phrase(rng: np.random.Generator, g: dict, finite: bool, terse: bool) -> str:
    """'two small crimson balls bouncing along to the right' (or the finite-verb form)."""
    count = g["count"]
    words = []
    if not terse or count > 1:
        words.append(_NUMBER[count])
    if g["size"] != "medium" or (not terse and rng.random() < 0.2):
        words.append(
            _choice(
                rng,
                {
                    "small": ("small", "tiny"),
                    "medium": ("medium-sized",),
                    "large": ("large", "big"),
                }[g["size"]],
            )
        )
    words.append(_choice(rng, COLOURS[g["colour"]].words))
    words.append(_noun(rng, g["shape"], count))
    motion = g["motion"]
    forms = list(_VERBS[motion])
    if motion == "move" and g["shape"] == "circle":
        forms.append(("rolling", "rolls"))
    part, fin = _choice(rng, forms)
    verb = part if not finite else fin if count == 1 else _plural_verb(fin)
    direction = g["direction"]
    tail = ""
    if motion == "move":
        tail = (
            _choice(rng, (f" to the {direction}", f" {direction}"))
            if direction in ("left", "right")
            else f" {direction}"
        )
    elif motion == "bounce" and direction:
        tail = _choice(rng, (f" along to the {direction}", f" to the {direction}"))
    elif motion == "bounce" and rng.random() < 0.3:
        tail = " up and down"
    elif motion == "circle" and not terse and rng.random() < 0.5:
        tail = " around the centre"
    elif motion == "fall" and not terse and rng.random() < 0.5:
        tail = " to the ground"
    adverb = {
        "slow": "slowly",
        "fast": _choice(rng, ("quickly", "fast", "rapidly", "swiftly")),
        "normal": "",
    }[g["speed"]]
    if adverb == "fast":
        phrase = f"{verb}{tail} fast"
    elif adverb and rng.random() < 0.5:
        phrase = f"{adverb} {verb}{tail}"
    elif adverb:
        phrase = f"{verb} {adverb}{tail}"
    else:
        phrase = f"{verb}{tail}"
    if words[0] == "a" and len(words) > 1 and words[1][0] in "aeiou":
        words[0] = "an"
    return " ".join(words) + " " + phrase


def _plural_verb(fin: str) -> str:
    """Finite verb for a plural subject: 'bounces' -> 'bounce', 'floats up' -> 'float up'."""
    head, _, rest = fin.partition(" ")
    return (head[:-1] + " " + rest).strip()


def _fmt_duration(rng: np.random.Generator, d: float) -> str:
    v = f"{d:g}"
    unit = "second" if v == "1" else "seconds"
    return _choice(rng, (f"for {v} {unit}", f"{v} s", f"{v}-second clip", f"lasting {v} {unit}"))


def make_captions(spec: MotionSpec, dur: float, rng: np.random.Generator) -> list[str]:
    """Four phrasings, terse to layered (scene, then motion, then style / camera / time)."""
    groups = _expected(spec, dur)["objects"]

    def objects(finite: bool, terse: bool) -> list[str]:
        return [_object_phrase(rng, g, finite, terse) for g in groups]

    def join(items: list[str]) -> str:
        return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]

    extras_scene = []
    if spec.flicker:
        extras_scene.append("with neon lights flickering")
    if spec.stars and rng.random() < 0.5:
        extras_scene.append("under faint stars")
    parts_particles = [_choice(rng, _PARTICLE_PHRASES[p]) for p in spec.particles]
    cam = _choice(rng, _CAMERA_PHRASES[spec.camera])
    time_word = _choice(rng, _TIME_PHRASES[spec.time]) if spec.time != "normal" else ""
    styles = list(spec.styles) or ([_choice(rng, _STYLES)] if rng.random() < 0.3 else [])
    sizes = {g["size"] for g in groups}
    if sizes == {"large"} and rng.random() < 0.3:
        styles.append("close-up")
    elif sizes == {"small"} and rng.random() < 0.3:
        styles.append("wide shot")

    caps = []
    # 1. terse
    terse = join(objects(False, True))
    if time_word and rng.random() < 0.5:
        terse += f", {time_word}"
    caps.append(terse)
    # 2. one sentence
    one = join(objects(False, False)) + " " + _choice(rng, _SCENE_PHRASES[spec.scene])
    for extra in extras_scene + parts_particles:
        one += f" {extra}"
    if spec.camera != "static":
        one += f", {cam}"
    if time_word:
        one += f", {time_word}"
    caps.append(one[0].upper() + one[1:])
    # 3. layered: scene, then motion, then style / camera / time / length
    scene_s = _choice(rng, _SCENE_SENTENCES[spec.scene])
    if extras_scene or parts_particles:
        scene_s = scene_s[:-1] + " " + " ".join(extras_scene + parts_particles) + "."
    motion_s = " ".join(s[0].upper() + s[1:] + "." for s in objects(True, False))
    tail = [*styles]
    if spec.camera != "static" or rng.random() < 0.4:
        tail.append(cam)
    if time_word:
        tail.append(time_word)
    layered = f"{scene_s} {motion_s}"
    if tail:
        layered += " " + ", ".join(tail)[0].upper() + ", ".join(tail)[1:] + "."
    caps.append(layered)
    # 4. camera / time first ("Slow-motion shot of ...")
    lead = {
        "slow_motion": _choice(rng, ("Slow-motion shot of ", "Slow motion footage of ")),
        "time_lapse": _choice(rng, ("Time-lapse of ", "Sped up footage of ")),
        "normal": _choice(rng, ("Video of ", "Footage of ", "A clip of ")),
    }[spec.time]
    four = lead + join(objects(False, False)) + " " + _choice(rng, _SCENE_PHRASES[spec.scene])
    for extra in extras_scene + parts_particles:
        four += f" {extra}"
    if spec.camera != "static":
        four += f", {cam}"
    if styles and rng.random() < 0.5:
        four += ", " + ", ".join(styles)
    caps.append(four[0].upper() + four[1:])
    # the duration in about a third of the phrasings
    out = []
    for c in caps:
        if rng.random() < 1 / 3:
            end = "." if c.endswith(".") else ""
            c = c.rstrip(".") + ", " + _fmt_duration(rng, dur) + end
        out.append(c)
    return out
