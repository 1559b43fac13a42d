"""AVWorld: MotionWorld clips with their soundtrack, for measuring audio-visual sync.

Every physical event of the clip (a floor bounce, a landing, a collision) makes an impact
sound placed at the event's simulated time to the sample, not at the frame time: a thud for
the floor, a knock for a collision, louder for harder hits. Under the impacts lies either a bed
that fits the scene (ocean: waves; falling rain: rain; city at night: a distant traffic hum
synthesised here from filtered noise) or a quiet instrumental layer from SoundWorld. Captions
cover picture and sound ("a red ball bouncing on a grass field, with a thud at every bounce");
``truth["events"]`` lists each event with its time and the sound it made.

Most clips (``EVENT_CLIP_FRACTION``) show a bounce, a fall or a collision. Collisions are rare
in MotionWorld's own sampler (it keeps paths apart), so a share of clips is built here: two
objects bouncing towards each other, or a ball bouncing into a resting box. See docs/WORLDS.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import signal

from avgen.errors import AvgenError
from avgen.vocab import INSTRUMENTS, SCENES, SIZES, WORLD_VERSION
from avgen.worlds import heldout as heldout_mod
from avgen.worlds import scenes as sc
from avgen.worlds.motion import (
    MotionClip,
    MotionSpec,
    ObjectSpec,
    render_motion_spec,
    sample_motion_spec,
)
from avgen.worlds.sfx import impact_sound, render_sfx
from avgen.worlds.sound import render_sound_clip

SR = 16000
EVENT_CLIP_FRACTION = 0.88  # clips drawn until one has a bounce, fall or collision
COLLISION_CLIP_FRACTION = 0.2  # of those, built to show a collision
IMPACT_GAIN_RANGE = (0.4, 1.0)  # x impact_sound's 0.5 peak, by impact speed
IMPACT_FULL_SPEED_FW = 1.5  # fw/s: impacts this hard or harder play at full gain
BED_PEAK = 0.1
MUSIC_PEAK = 0.08  # background: quieter than the softest impact (0.2)
MUSIC_FRACTION = 0.35  # of clips whose scene has no bed of its own
MAX_PEAK = 0.95
MUSIC_INSTRUMENTS = tuple(
    i for i in INSTRUMENTS if i not in ("electric guitar", "bass")
)  # quiet, melodic layers

SCENE_BEDS = {"ocean": "ocean waves", "city": "traffic"}
PARTICLE_BEDS = {"rain": "rain"}
_BED_PHRASES = {
    "ocean waves": ("over the sound of ocean waves", "with waves rolling in", "over the surf"),
    "rain": ("with the sound of rain", "over falling rain", "with rain pattering"),
    "traffic": ("with distant traffic humming", "over the hum of distant traffic"),
}


@dataclass
class AVClip:
    """A rendered AV clip: frames (F, H, W, 3) uint8 at fps, audio (T,) float32 at sr."""

    frames: np.ndarray
    fps: int
    audio: np.ndarray
    sr: int
    captions: list[str]
    truth: dict[str, Any]
    expected: dict[str, Any]


# ----------------------------------------------------------------------------- pictures


def _has_dynamic(spec: MotionSpec) -> bool:
    return any(o.motion in ("bounce", "fall") for o in spec.objects)


def _collision_spec(
    rng: np.random.Generator, size: int, duration_s: float | None, heldout: str
) -> MotionSpec | None:
    """Two objects bouncing towards each other, or a ball bouncing into a resting box."""
    scene = str(rng.choice(sorted(SCENES)))
    colours = list(sc.visible_colours(scene))
    if len(colours) < 2:
        return None
    dur = duration_s if duration_s is not None else float(rng.integers(6, 13)) / 2
    if dur < 2.5:
        return None
    floor = SCENES[scene].floor  # square frames: aspect 1
    c1, c2 = (str(c) for c in rng.choice(colours, size=2, replace=False))
    into_box = rng.random() < 0.5
    objs = []
    if into_box:
        box_size = str(rng.choice(["medium", "large"]))
        d = SIZES[box_size]
        x_box = float(rng.uniform(0.55, 0.8))
        box = ObjectSpec(c2, "square", box_size, "still", x=x_box, y=floor - d / 2)
        ball_size = str(rng.choice(["small", "medium"]))
        db = SIZES[ball_size]
        gap = float(rng.uniform(0.12, 0.3))
        x_ball = x_box - d / 2 - db / 2 - gap
        h = float(rng.uniform(0.1, 0.25))
        ball = ObjectSpec(
            c1, "circle", ball_size, "bounce", "right", x=x_ball, y=floor - db / 2 - h
        )
        objs = [ball, box]
    else:
        for colour, x, direction in ((c1, rng.uniform(0.15, 0.3), "right"), (c2, 0, "left")):
            shape = str(rng.choice(["circle", "square"]))
            sz = str(rng.choice(["small", "medium"]))
            d = SIZES[sz]
            if direction == "left":
                x = float(rng.uniform(0.7, 0.85))
            h = float(rng.uniform(0.08, 0.3))
            objs.append(
                ObjectSpec(colour, shape, sz, "bounce", direction, x=float(x), y=floor - d / 2 - h)
            )
    for o in objs:
        if not heldout_mod.allowed(
            heldout_mod.is_heldout_visual(o.colour, o.shape, o.motion), heldout
        ):
            return None
        if o.x - SIZES[o.size] / 2 < 0.03 or o.y - SIZES[o.size] / 2 < 0.03:
            return None
    for i, o in enumerate(objs):
        o.group = i
    return MotionSpec(objs, scene, duration_s=dur, seed=int(rng.integers(2**31)))


def _motion_clip(
    rng: np.random.Generator, size: int, fps: int, duration_s: float | None, heldout: str
) -> tuple[MotionClip, int | None]:
    """The picture: mostly a clip with events; returns it and the MotionWorld seed (if any)."""
    want_events = rng.random() < EVENT_CLIP_FRACTION
    if want_events and rng.random() < COLLISION_CLIP_FRACTION:
        for _ in range(6):
            spec = _collision_spec(rng, size, duration_s, heldout)
            if spec is None:
                continue
            clip = render_motion_spec(spec, size, fps)
            if any(e["kind"] == "collision" for e in clip.truth["events"]):
                return clip, None
    motion_seed = 0
    for _ in range(100):
        motion_seed = int(rng.integers(2**31))
        spec = sample_motion_spec(
            motion_seed, size=size, fps=fps, duration_s=duration_s, heldout=heldout
        )
        if not want_events or _has_dynamic(spec):
            break
    return render_motion_spec(spec, size, fps, seed=motion_seed), motion_seed


# ----------------------------------------------------------------------------- sound


def traffic_hum(n: int, rng: np.random.Generator, sr: int = SR) -> np.ndarray:
    """Distant traffic: low rumble, a wandering engine hum and slow swells of passing cars.

    Every envelope rises over a second or more, so the bed has no sharp onsets. Peak 1.
    """
    t = np.arange(n) / sr
    rumble = signal.sosfilt(
        signal.butter(2, 220.0, btype="lowpass", fs=sr, output="sos"), rng.normal(0, 1, n)
    )
    hum = np.zeros(n)
    for _ in range(3):
        f = rng.uniform(40.0, 90.0) * (1 + 0.02 * np.sin(2 * np.pi * rng.uniform(0.05, 0.2) * t))
        hum += rng.uniform(0.3, 1.0) * np.sin(2 * np.pi * np.cumsum(f) / sr + rng.uniform(0, 6.3))
    swells = np.zeros(n)
    band = signal.butter(2, [250.0, 900.0], btype="bandpass", fs=sr, output="sos")
    hiss = signal.sosfilt(band, rng.normal(0, 1, n))
    for _ in range(int(rng.integers(1, 4))):
        centre, width = rng.uniform(0, n / sr), rng.uniform(0.8, 2.0)
        swells += np.exp(-0.5 * ((t - centre) / width) ** 2)
    x = rumble / (np.std(rumble) + 1e-9) + 0.4 * hum + 0.6 * swells * hiss / (np.std(hiss) + 1e-9)
    x *= np.minimum(1.0, t / 0.5)  # no click at the start
    return (x / (np.max(np.abs(x)) + 1e-9)).astype(np.float32)


def _bed(scene: str, particles: list[str]) -> str | None:
    for p in particles:
        if p in PARTICLE_BEDS:
            return PARTICLE_BEDS[p]
    return SCENE_BEDS.get(scene)


def _music(
    rng: np.random.Generator,
    dur: float,
    instruments: list[str] | None,
    exclude: list[str] | None,
    heldout: str,
) -> tuple[np.ndarray, dict] | None:
    """A quiet instrumental layer from SoundWorld: one melodic instrument, no drums or effects."""
    pool = instruments or [i for i in MUSIC_INSTRUMENTS if not exclude or i not in exclude]
    if not pool:
        return None
    music_heldout = "exclude" if heldout == "exclude" else "any"
    for _ in range(20):
        s = int(rng.integers(2**31))
        inst = [str(rng.choice(pool))]
        try:
            clip = render_sound_clip(
                s, duration_s=dur, instruments=inst, exclude=exclude, heldout=music_heldout
            )
        except AvgenError:
            continue
        tr = clip.truth
        if (
            tr.get("kind") in ("music", "raga")
            and not tr.get("drums")
            and not tr.get("sound_effects")
        ):
            info = {
                "seed": s,
                "kind": tr.get("kind"),
                "instrument": tr.get("instrument"),
                "pattern": tr.get("pattern"),
                "tempo_bpm": tr.get("tempo_bpm"),
                "raga": tr.get("raga"),
            }
            return clip.audio.astype(np.float32), info
    return None


def _impact_gain(speed: float) -> float:
    lo, hi = IMPACT_GAIN_RANGE
    return float(lo + (hi - lo) * min(1.0, max(0.0, speed) / IMPACT_FULL_SPEED_FW))


def _sound_of(event: dict) -> str:
    return "thud" if event.get("surface") == "floor" else "knock"


# ----------------------------------------------------------------------------- captions


def _impact_phrases(events: list[dict], plural: bool) -> list[tuple[str, ...]]:
    kinds = {e["kind"] for e in events if e.get("surface") == "floor"}
    it, hits = ("they", "hit") if plural else ("it", "hits")
    out = []
    if "bounce" in kinds:
        out.append(
            (
                "with a thud at every bounce",
                "with a thump on each bounce",
                f"with a thud each time {it} {hits} the ground",
            )
        )
    if "land" in kinds:
        lands = "land" if plural else "lands"
        out.append(
            (f"with a thud as {it} {lands}", "landing with a thump", "with a thud on landing")
        )
    if any(e.get("surface") != "floor" for e in events):
        out.append(
            (
                "with a knock at every collision",
                "with a knock when they collide",
                "knocking as they hit each other",
            )
        )
    return out


def _captions(
    motion: MotionClip,
    events: list[dict],
    bed: str | None,
    music: dict | None,
    rng: np.random.Generator,
) -> list[str]:
    plural = len(motion.spec.objects) > 1
    impact = _impact_phrases(events, plural)
    caps = []
    for i, base in enumerate(motion.captions):
        parts = [str(rng.choice(p)) for p in impact]
        layered = i > 0
        if bed and (layered or not parts):
            parts.append(str(rng.choice(_BED_PHRASES[bed])))
        if music and (layered or not parts):
            inst = music["instrument"] or "piano"
            pattern = music.get("pattern") or "melody"
            parts.append(
                str(
                    rng.choice(
                        (
                            f"with soft {inst} music in the background",
                            f"over a quiet {inst} {pattern}",
                        )
                    )
                )
            )
        if not parts:
            caps.append(base)
            continue
        sound = ", ".join(parts)
        if base.endswith("."):
            caps.append(f"{base} {sound[0].upper()}{sound[1:]}.")
        else:
            caps.append(f"{base}, {sound}")
    return caps


def _expected(motion: MotionClip, events: list[dict], bed: str | None, music: dict | None) -> dict:
    exp = dict(motion.expected)
    exp["kind"] = "av"
    sfx = []
    if any(e.get("surface") == "floor" for e in events):
        sfx.append("thud")
    if any(e.get("surface") != "floor" for e in events):
        sfx.append("knocking")
    if bed in ("ocean waves", "rain"):
        sfx.append(bed)
    exp["sound_effects"] = sfx
    exp["instruments"] = [music["instrument"]] if music and music.get("instrument") else []
    return exp


# ----------------------------------------------------------------------------- the clip


def render_av_clip(
    seed: int,
    *,
    size: int = 64,
    fps: int = 8,
    duration_s: float | None = None,
    heldout: str = "exclude",
    instruments: list[str] | None = None,
    exclude: list[str] | None = None,
) -> AVClip:
    """Render AVWorld clip number ``seed``: same (WORLD_VERSION, seed, options), same bytes.

    ``instruments`` / ``exclude`` choose the instruments of the optional music layer;
    ``heldout`` applies to the picture's (colour, shape, motion) triples as in MotionWorld.
    """
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise AvgenError(f"seed {seed!r} is invalid; use a non-negative integer.")
    if heldout not in ("exclude", "only", "any"):
        raise AvgenError(f"heldout {heldout!r} is unknown; use 'exclude', 'only' or 'any'.")
    pic_ss, snd_ss, cap_ss = np.random.SeedSequence([WORLD_VERSION, 11, int(seed)]).spawn(3)
    motion, motion_seed = _motion_clip(
        np.random.default_rng(pic_ss), size, fps, duration_s, heldout
    )
    rng = np.random.default_rng(snd_ss)
    n_frames = motion.frames.shape[0]
    dur = n_frames / motion.fps
    n = int(round(dur * SR))
    audio = np.zeros(n, np.float64)
    # the impacts, each at its event time to the sample
    events = []
    for e in motion.truth["events"]:
        sound = _sound_of(e)
        gain = _impact_gain(float(e.get("speed", 0.0)))
        k = int(round(float(e["t"]) * SR))
        if 0 <= k < n:
            x = impact_sound(sound, rng, SR) * gain
            m = min(len(x), n - k)
            audio[k : k + m] += x[:m]
        events.append({**e, "sound": sound, "gain": round(gain, 4)})
    # the bed that fits the scene, or a quiet music layer
    bed = _bed(motion.truth["scene"], motion.truth["particles"])
    music = None
    if bed == "traffic":
        audio += BED_PEAK * traffic_hum(n, rng)
    elif bed is not None:
        x = render_sfx(bed, dur, rng, SR)
        audio[: len(x)] += BED_PEAK * x[:n] / max(float(np.max(np.abs(x))), 1e-9)
    elif rng.random() < MUSIC_FRACTION or not events:
        layer = _music(rng, dur, instruments, exclude, heldout)
        if layer is not None:
            x, music = layer
            audio[: len(x)] += MUSIC_PEAK * x[:n] / max(float(np.max(np.abs(x))), 1e-9)
    peak = float(np.max(np.abs(audio))) if n else 0.0
    if peak > MAX_PEAK:
        audio *= MAX_PEAK / peak
    captions = _captions(motion, events, bed, music, np.random.default_rng(cap_ss))
    truth = {
        "world": "av",
        "world_version": WORLD_VERSION,
        "seed": int(seed),
        "motion_seed": motion_seed,
        **{k: v for k, v in motion.truth.items() if k not in ("world", "world_version", "seed")},
        "events": events,
        "sr": SR,
        "n_samples": n,
        "bed": bed,
        "music": music,
        "audio_peak": round(min(peak, MAX_PEAK), 4),
    }
    return AVClip(
        frames=motion.frames,
        fps=motion.fps,
        audio=audio.astype(np.float32),
        sr=SR,
        captions=captions,
        truth=truth,
        expected=_expected(motion, events, bed, music),
    )
