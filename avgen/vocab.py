"""The fixed vocabulary of avgen's procedural worlds (see docs/WORLDS.md), as data.

One source of truth for the prompt parser, the world generators, the caption writers and the
analytic checkers. Each table maps a canonical name to its parameters and the words (synonyms)
a caption or a prompt may use for it. Words are lower case; multi-word phrases are allowed.
"""

from __future__ import annotations

from dataclasses import dataclass

WORLD_VERSION = 1

# ----------------------------------------------------------------------------- MotionWorld


@dataclass(frozen=True)
class Colour:
    rgb: tuple[int, int, int]
    words: tuple[str, ...]


COLOURS: dict[str, Colour] = {
    "red": Colour((220, 40, 40), ("red", "crimson", "scarlet")),
    "orange": Colour((245, 140, 30), ("orange", "amber")),
    "yellow": Colour((240, 220, 40), ("yellow", "golden")),
    "green": Colour((40, 180, 60), ("green", "emerald")),
    "blue": Colour((40, 90, 230), ("blue", "cobalt")),
    "purple": Colour((150, 60, 200), ("purple", "violet")),
    "pink": Colour((240, 120, 190), ("pink", "rose")),
    "white": Colour((245, 245, 245), ("white", "ivory")),
}

SHAPES: dict[str, tuple[str, ...]] = {
    "circle": ("circle", "ball", "sphere", "disc"),
    "square": ("square", "box", "block", "cube"),
    "triangle": ("triangle", "pyramid"),
}

# Diameters in frame widths.
SIZES: dict[str, float] = {"small": 0.12, "medium": 0.20, "large": 0.30}
SIZE_WORDS: dict[str, tuple[str, ...]] = {
    "small": ("small", "tiny", "wide shot"),
    "medium": ("medium", "medium-sized"),
    "large": ("large", "big", "close-up"),
}


@dataclass(frozen=True)
class Scene:
    words: tuple[str, ...]
    floor: float  # y of the floor / ground line as a fraction of frame height from the top
    structured: bool  # has visible structure, so camera moves are rendered over it
    animated: bool = False


SCENES: dict[str, Scene] = {
    "dark": Scene(("dark", "black", "night"), 1.0, False),
    "gray": Scene(("gray", "grey", "studio"), 1.0, False),
    "sky": Scene(("sky", "daytime"), 1.0, False),
    "grass": Scene(("grass field", "grass", "meadow"), 0.70, True),
    "beach": Scene(("beach at sunset", "beach", "sunset"), 0.75, True),
    "snow": Scene(("snowy mountains", "snowy mountain", "snow-capped mountains"), 0.75, True),
    "city": Scene(("city at night", "neon city", "city"), 0.60, True),
    "ocean": Scene(("ocean", "sea"), 0.50, True, animated=True),
}

# Scene colour anchors (exact RGB of the renderer) used by renderers and checkers.
SCENE_RGB: dict[str, dict[str, tuple[int, int, int]]] = {
    "dark": {"bg": (12, 12, 24)},
    "gray": {"bg": (128, 128, 128)},
    "sky": {"top": (110, 170, 235), "bottom": (190, 220, 245)},
    "grass": {"top": (110, 170, 235), "bottom": (190, 220, 245), "ground": (60, 140, 50)},
    "beach": {"top": (250, 150, 80), "bottom": (120, 60, 120), "ground": (220, 190, 130)},
    "snow": {"top": (110, 170, 235), "bottom": (190, 220, 245), "ground": (240, 244, 250)},
    "city": {"bg": (15, 20, 45), "ground": (0, 0, 0)},
    "ocean": {"top": (110, 170, 235), "bottom": (190, 220, 245), "ground": (30, 80, 150)},
}

PARTICLES: dict[str, tuple[str, ...]] = {
    "snow": ("snow falling", "falling snow", "snowfall"),
    "rain": ("rain falling", "falling rain"),
}

DIRECTIONS: tuple[str, ...] = ("left", "right", "up", "down")


@dataclass(frozen=True)
class Motion:
    words: tuple[str, ...]
    description: str


MOTIONS: dict[str, Motion] = {
    "move": Motion(
        ("moving", "sliding", "gliding", "drifting", "rolling"),
        "constant velocity 0.3 fw/s in a direction (left/right/up/down)",
    ),
    "bounce": Motion(
        ("bouncing along", "bouncing", "bounces", "bounce"),
        "gravity 2.5 fw/s^2, restitution 0.8 at the floor, optional drift 0.15 fw/s",
    ),
    "fall": Motion(
        ("falling", "dropping", "falls", "drops"),
        "starts at rest near the top, accelerates at 2.5 fw/s^2, lands on the floor",
    ),
    "rise": Motion(("rising", "floating up", "rises"), "0.15 fw/s upward"),
    "spin": Motion(("spinning", "rotating", "spins"), "0.5 turn/s about its centre"),
    "grow": Motion(("growing", "grows", "expanding"), "diameter x2, linear over the clip"),
    "shrink": Motion(("shrinking", "shrinks"), "diameter x0.5, linear over the clip"),
    "circle": Motion(
        ("circling", "orbiting", "orbits"), "radius 0.25 fw around the centre, 0.25 turn/s"
    ),
    "still": Motion(("resting", "sitting still", "still", "standing still"), "no motion"),
}

# Physical constants of MotionWorld (frame widths, seconds).
GRAVITY_FW = 2.5
RESTITUTION = 0.8
MOVE_SPEED_FW = 0.3
DRIFT_SPEED_FW = 0.15
RISE_SPEED_FW = 0.15
SPIN_TURNS_PER_S = 0.5
ORBIT_RADIUS_FW = 0.25
ORBIT_TURNS_PER_S = 0.25
REST_RISE_FW = 0.02

SPEED_WORDS: dict[str, tuple[str, ...]] = {
    "slow": ("slowly", "gently drifting"),
    "fast": ("quickly", "fast", "rapidly", "swiftly"),
}
SPEED_FACTORS: dict[str, float] = {"slow": 0.5, "normal": 1.0, "fast": 2.0}

CAMERA: dict[str, tuple[str, ...]] = {
    "static": ("static camera", "static shot", "locked-off", "tripod shot"),
    "pan_left": ("panning left", "pans left", "pan left"),
    "pan_right": ("panning right", "pans right", "pan right"),
    "zoom_in": ("zooming in", "zoom in", "zooms in", "push in", "dolly in"),
    "zoom_out": ("zooming out", "zoom out", "zooms out", "pull back", "dolly out"),
}
PAN_SPEED_FW = 0.2
ZOOM_RANGE = (1.0, 1.5)

TIME_WORDS: dict[str, tuple[str, ...]] = {
    "slow_motion": ("in slow motion", "slow motion", "slow-motion", "slow-mo", "slowmo"),
    "time_lapse": ("time-lapse", "time lapse", "timelapse", "sped up", "sped-up", "fast forward"),
}
TIME_FACTORS: dict[str, float] = {"normal": 1.0, "slow_motion": 0.5, "time_lapse": 2.0}

# Style words: allowed in captions, change nothing in the world.
STYLE_WORDS: tuple[str, ...] = (
    "cinematic",
    "dramatic",
    "4k",
    "8k",
    "hd",
    "pixar-style",
    "pixar-inspired",
    "pixar",
    "photorealistic",
    "realistic",
    "animated",
    "cartoon",
    "wide-angle",
    "aerial",
    "drone shot",
    "shot on film",
    "35mm",
    "vibrant",
    "minimalist",
)

COUNT_WORDS: dict[str, int] = {"a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "a pair of": 2}
MAX_OBJECTS = 3

# ----------------------------------------------------------------------------- SoundWorld

SAMPLE_RATE = 16000


@dataclass(frozen=True)
class Instrument:
    program: int  # General MIDI program, 0-based
    words: tuple[str, ...]


INSTRUMENTS: dict[str, Instrument] = {
    "piano": Instrument(0, ("piano", "grand piano", "keys")),
    "electric piano": Instrument(4, ("electric piano", "rhodes")),
    "organ": Instrument(19, ("organ", "church organ", "pipe organ")),
    "acoustic guitar": Instrument(25, ("acoustic guitar", "guitar")),
    "electric guitar": Instrument(29, ("electric guitar", "overdriven guitar", "rock guitar")),
    "bass": Instrument(33, ("bass", "bass guitar")),
    "violin": Instrument(40, ("violin", "fiddle")),
    "cello": Instrument(42, ("cello",)),
    "strings": Instrument(48, ("strings", "string ensemble")),
    "choir": Instrument(52, ("choir", "voices")),
    "trumpet": Instrument(56, ("trumpet", "horn")),
    "saxophone": Instrument(65, ("saxophone", "sax", "alto sax")),
    "flute": Instrument(73, ("flute",)),
    "synth lead": Instrument(81, ("synth lead", "lead synth", "sawtooth synth")),
    "synth pad": Instrument(89, ("synth pad", "pad", "ambient synth", "ethereal synth")),
    "marimba": Instrument(12, ("marimba",)),
    "music box": Instrument(10, ("music box",)),
    "harp": Instrument(46, ("harp",)),
}

# Reserved for fine-tuning: absent from every base-model training set.
RAGA_INSTRUMENTS: dict[str, Instrument] = {
    "sitar": Instrument(104, ("sitar",)),
    "shanai": Instrument(111, ("shanai", "shehnai")),
}
DEFAULT_EXCLUDED_INSTRUMENTS: tuple[str, ...] = ("sitar", "shanai")

# Raga scales as semitone offsets from the tonic (Sa).
RAGAS: dict[str, tuple[int, ...]] = {
    "yaman": (0, 2, 4, 6, 7, 9, 11),  # S R G M# P D N
    "bhairav": (0, 1, 4, 5, 7, 8, 11),  # S r G M P d N
}
RAGA_WORDS: tuple[str, ...] = ("raga", "yaman", "bhairav", "drone", "alap", "sitar", "shanai")
# Appended: words of SoundWorld's raga captions ("Indian classical raga", "sitar gat in ...").
RAGA_WORDS += ("indian", "gat")

DRUM_NOTES: dict[str, int] = {
    "kick": 36,
    "snare": 38,
    "closed hat": 42,
    "open hat": 46,
    "ride": 51,
    "crash": 49,
}
DRUM_PATTERNS: dict[str, tuple[str, ...]] = {
    "rock beat": ("rock beat", "rock drums", "backbeat"),
    "four on the floor": ("four-on-the-floor", "four on the floor", "dance beat"),
    "swing": ("swing", "jazz drums", "swing beat"),
}

PATTERNS: dict[str, tuple[str, ...]] = {
    "sustained": ("sustained note", "sustained", "long notes", "held note", "drone"),
    "melody": ("melody", "tune", "solo", "riff"),
    "rising arpeggio": (
        "rising arpeggios",
        "rising arpeggio",
        "ascending arpeggios",
        "ascending arpeggio",
    ),
    "falling arpeggio": (
        "falling arpeggios",
        "falling arpeggio",
        "descending arpeggios",
        "descending arpeggio",
    ),
    "chords": ("chords", "chord progression", "chord"),
    "ascending scale": ("ascending scale", "rising scale", "scale going up"),
    "descending scale": ("descending scale", "falling scale", "scale going down"),
    "staccato": ("staccato repeated notes", "staccato", "repeated notes"),
}
# Which patterns have a pitch direction.
PATTERN_DIRECTION: dict[str, str] = {
    "rising arpeggio": "rising",
    "ascending scale": "rising",
    "falling arpeggio": "falling",
    "descending scale": "falling",
}

MODES: dict[str, tuple[str, ...]] = {
    "major": ("happy", "bright", "major", "cheerful", "joyful"),
    "minor": ("sad", "dark", "melancholic", "minor", "somber"),
}

# MIDI pitch centres of each register.
REGISTERS: dict[str, tuple[str, ...]] = {
    "low": ("low", "deep", "low-pitched", "bassy"),
    "mid": ("middle register", "mid-range"),
    "high": ("high", "high-pitched", "bright high", "soaring"),
}
REGISTER_RANGES: dict[str, tuple[int, int]] = {
    "low": (36, 52),  # around C2-C3 (and up to E3)
    "mid": (55, 72),  # around C4
    "high": (72, 96),  # around C5-C6
}

TEMPO_RANGE = (60, 180)
TEMPO_DEFAULT = 100
TEMPO_WORDS: dict[str, tuple[str, ...]] = {
    "slow": ("slow", "slow tempo", "laid-back", "leisurely"),
    "moderate": ("moderate", "moderate tempo", "mid-tempo", "medium tempo"),
    "fast": ("upbeat", "fast", "energetic", "driving", "lively", "up-tempo"),
}
TEMPO_CLASS_RANGES: dict[str, tuple[int, int]] = {
    "slow": (60, 80),
    "moderate": (90, 110),
    "fast": (120, 160),
}

DYNAMICS: dict[str, tuple[str, ...]] = {
    "soft": ("soft", "quiet", "gentle", "delicate"),
    "loud": ("loud", "powerful", "booming", "intense"),
}
PEAKS: dict[str, float] = {"soft": 0.15, "normal": 0.5, "loud": 0.9}

FADES: dict[str, tuple[str, ...]] = {
    "fade_in": ("fading in", "fade in", "fades in", "fade-in"),
    "fade_out": ("fading out", "fade out", "fades out", "fade-out"),
}

EFFECTS: dict[str, tuple[str, ...]] = {
    "reverb": ("with reverb", "soft reverb", "reverb", "reverberant"),
    "hall": ("in a large hall", "large hall", "cathedral", "concert hall"),
    "echo": ("with echo", "echo", "delay", "distant echoes"),
    "lowpass": ("muffled", "distant", "lo-fi", "lofi", "low-pass"),
    "distortion": ("distorted", "distortion", "overdrive", "gritty"),
}

SOUND_EFFECTS: dict[str, tuple[str, ...]] = {
    "rain": ("rain", "rainfall", "raindrops"),
    "wind": ("wind", "howling wind", "breeze"),
    "thunder": ("thunder", "thunderclap"),
    "thunderstorm": ("thunderstorm", "storm"),
    "ocean waves": ("ocean waves", "waves", "surf"),
    "fire": ("crackling fire", "fire", "campfire", "fireplace"),
    "clock": ("clock ticking", "ticking clock", "clock", "ticking"),
    "footsteps": ("footsteps", "walking", "steps"),
    "siren": ("siren", "police siren", "ambulance siren"),
    "alarm": ("alarm beeps", "alarm", "beeping", "beeps"),
    "birds": ("birds chirping", "birdsong", "birds", "chirping"),
    "bell": ("bell", "bell ringing", "chime"),
    "knocking": ("knocking", "knock", "knocks on a door"),
    "applause": ("applause", "clapping", "audience clapping"),
    "thud": ("thud", "impact", "thump"),
}

GENRES: dict[str, tuple[str, ...]] = {
    "jazz": ("jazz", "jazzy"),
    "ambient": ("ambient", "ethereal", "atmospheric"),
    "rock": ("rock",),
    "lo-fi": ("lo-fi hip hop", "lofi hip hop", "chillhop"),
    "classical": ("classical", "orchestral"),
    "cinematic": ("cinematic score", "epic", "film score"),
    "dance": ("dance", "electronic", "edm", "techno", "house"),
}
# What a genre word implies in SoundWorld (docs/WORLDS.md: genre and mood words map onto the above).
GENRE_DEFAULTS: dict[str, dict[str, object]] = {
    "jazz": {"instruments": ("saxophone", "trumpet", "piano", "bass"), "drums": "swing"},
    "ambient": {"instruments": ("synth pad",), "tempo_class": "slow", "effects": ("hall",)},
    "rock": {"instruments": ("electric guitar",), "drums": "rock beat"},
    "lo-fi": {"instruments": ("electric piano",), "effects": ("lowpass",), "tempo_class": "slow"},
    "classical": {"instruments": ("strings", "piano", "harp")},
    "cinematic": {"instruments": ("strings", "choir"), "tempo_class": "slow", "effects": ("hall",)},
    "dance": {"instruments": ("synth lead",), "drums": "four on the floor", "tempo": (120, 130)},
}
