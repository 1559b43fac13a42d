"""MotionWorld backgrounds: the eight scenes of docs/WORLDS.md, their animation and particle layers.

Scenes are painted with Pillow at ``SUPERSAMPLE`` times the frame size and reduced with a box
filter (``Image.reduce``), so every edge is anti-aliased. A scene's layout (peaks, buildings,
windows, tufts, wave crests, stars, the sun) is drawn once from a seeded generator over the world
strip ``x`` in ``LAYOUT_RANGE`` frame widths, so a panning camera sees one consistent world.

Coordinates are in frame widths (fw) for both axes, x to the right and y downward; a frame is
1 fw wide and ``aspect = H / W`` fw tall. Anchor colours come from ``vocab.SCENE_RGB``; the
structure colours below are this renderer's choice and every one of them keeps at least
``MIN_CONTRAST`` from the object colours it may appear with (see :func:`visible_colours`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache

import numpy as np
from PIL import Image, ImageDraw

from avgen.vocab import COLOURS, SCENE_RGB, SCENES

SUPERSAMPLE = 4
LAYOUT_RANGE = (-3.0, 4.0)  # world x strip (fw) the layout covers: room for a 10 s pan
MIN_CONTRAST = 60.0  # smallest RGB distance between an object colour and a scene colour

# Structure colours (the renderer's choice; anchors are in vocab.SCENE_RGB).
STAR_RGB = (95, 95, 125)
TUFT_RGB = (36, 98, 36)
SUN_RGB = (255, 212, 125)
RIPPLE_RGB = (196, 166, 110)
PEAK_RGB = (150, 156, 172)
CAP_RGB = (232, 236, 245)
WINDOW_RGB = (250, 208, 112)
WAVE_RGB = (92, 142, 206)
SNOWFLAKE_RGB = (240, 242, 250)
RAIN_LIGHT_RGB = (205, 212, 230)
RAIN_DARK_RGB = (60, 70, 92)
RAIN_ALPHA = 0.6

WAVE_PERIOD_S = 1.6  # bob period of the ocean's wave crests
FLICKER_RATE_HZ = 3.0  # how often a flickering window may change state


@dataclass
class SceneLayout:
    """Everything drawn in one scene, in world coordinates (fw), from one seed."""

    scene: str
    aspect: float
    stars: list[tuple[float, float, float]] = field(default_factory=list)  # x, y, radius
    tufts: list[tuple[float, float, float]] = field(default_factory=list)  # x, y, size
    ripples: list[tuple[float, float, float]] = field(default_factory=list)  # x, y, length
    peaks: list[tuple[float, float, float]] = field(default_factory=list)  # x, top y, half width
    buildings: list[tuple[float, float, float]] = field(default_factory=list)  # x0, x1, top y
    windows: list[tuple[float, float, float, float]] = field(default_factory=list)  # rect
    window_phase: np.ndarray | None = None  # (n_windows,) flicker phases
    waves: list[tuple[float, float, float, float]] = field(default_factory=list)  # x, y, len, ph
    sun: tuple[float, float, float] | None = None  # x, y, radius

    @property
    def ground_y(self) -> float:
        """y (fw) of the floor / ground line."""
        return SCENES[self.scene].floor * self.aspect


def sample_layout(scene: str, aspect: float, rng: np.random.Generator, stars: bool) -> SceneLayout:
    """Draw a scene's structure from ``rng`` over the whole ``LAYOUT_RANGE`` strip."""
    lay = SceneLayout(scene, aspect)
    x0, x1 = LAYOUT_RANGE
    span = x1 - x0
    g = lay.ground_y
    if stars and scene in ("dark", "city"):
        top = g if scene == "city" else aspect
        n = int(30 * span * top)
        for _ in range(n):
            lay.stars.append(
                (rng.uniform(x0, x1), rng.uniform(0.02, top * 0.8), rng.uniform(0.004, 0.007))
            )
    if scene == "grass":
        for _ in range(int(26 * span)):
            y = rng.uniform(g, aspect) if rng.random() < 0.6 else g
            lay.tufts.append((rng.uniform(x0, x1), y, rng.uniform(0.025, 0.06)))
    if scene == "beach":
        lay.sun = (rng.uniform(0.2, 0.8), g - rng.uniform(0.06, 0.2) * aspect, 0.075)
        for _ in range(int(12 * span)):
            lay.ripples.append(
                (rng.uniform(x0, x1), rng.uniform(g + 0.03, aspect - 0.01), rng.uniform(0.05, 0.12))
            )
    if scene == "snow":
        x = x0
        while x < x1:
            half = rng.uniform(0.15, 0.3)
            lay.peaks.append((x + half, g - rng.uniform(0.25, 0.45) * aspect, half))
            x += half * rng.uniform(1.0, 1.6)
    if scene == "city":
        x = x0
        while x < x1:
            w = rng.uniform(0.08, 0.18)
            top = rng.uniform(0.5, 0.66) * aspect
            lay.buildings.append((x, x + w, top))
            wx, wy = 0.024, 0.032
            cols = max(1, int((w - 0.02) / (wx * 1.9)))
            rows = max(1, int((aspect - top - 0.02) / (wy * 1.7)))
            for i in range(rows):
                for j in range(cols):
                    if rng.random() < 0.45:
                        left = x + 0.012 + j * wx * 1.9
                        up = top + 0.014 + i * wy * 1.7
                        lay.windows.append((left, up, left + wx, up + wy))
            x += w + rng.uniform(0.0, 0.03)
        lay.window_phase = rng.random(len(lay.windows))
    if scene == "ocean":
        for _ in range(int(14 * span * (aspect - g) / 0.5)):
            lay.waves.append(
                (
                    rng.uniform(x0, x1),
                    rng.uniform(g + 0.03, aspect - 0.02),
                    rng.uniform(0.05, 0.12),
                    rng.uniform(0, 2 * np.pi),
                )
            )
    return lay


# ----------------------------------------------------------------------------- painting


def _gradient(top: tuple[int, ...], bottom: tuple[int, ...], rows: int) -> np.ndarray:
    """(rows, 3) uint8 vertical gradient from ``top`` to ``bottom``."""
    s = (np.arange(rows) + 0.5) / max(rows, 1)
    g = np.asarray(top, np.float64)[None] * (1 - s[:, None]) + np.asarray(bottom)[None] * s[:, None]
    return np.round(g).astype(np.uint8)


def paint_static(lay: SceneLayout, x_left: float, width_fw: float, px_per_fw: float) -> Image.Image:
    """The static part of a scene over world x in [x_left, x_left + width_fw], at ``px_per_fw``.

    Returns a Pillow RGB image of width ``round(width_fw * px_per_fw)`` and height
    ``round(aspect * px_per_fw)``: sky or backdrop, ground, sun, peaks, skyline, tufts,
    ripples, stars and (unless the city flickers) nothing animated.
    """
    s = px_per_fw
    w_px, h_px = int(round(width_fw * s)), int(round(lay.aspect * s))
    rgb = SCENE_RGB[lay.scene]
    g_px = int(round(lay.ground_y * s))
    arr = np.empty((h_px, w_px, 3), np.uint8)  # (H, W, 3)
    if "bg" in rgb:
        arr[:] = np.asarray(rgb["bg"], np.uint8)
    else:
        sky_rows = h_px if lay.scene == "sky" else g_px
        arr[:sky_rows] = _gradient(rgb["top"], rgb["bottom"], sky_rows)[:, None, :]
    if "ground" in rgb and lay.scene != "city":
        arr[g_px:] = np.asarray(rgb["ground"], np.uint8)
    img = Image.fromarray(arr)
    draw = ImageDraw.Draw(img)

    def px(x: float, y: float) -> tuple[float, float]:
        return ((x - x_left) * s, y * s)

    def visible(xa: float, xb: float) -> bool:
        return xb >= x_left - 0.05 and xa <= x_left + width_fw + 0.05

    for x, y, r in lay.stars:
        if visible(x - r, x + r):
            cx, cy = px(x, y)
            draw.ellipse([cx - r * s, cy - r * s, cx + r * s, cy + r * s], fill=STAR_RGB)
    if lay.sun is not None:
        x, y, r = lay.sun
        cx, cy = px(x, y)
        draw.ellipse([cx - r * s, cy - r * s, cx + r * s, cy + r * s], fill=SUN_RGB)
        draw.rectangle([0, g_px, w_px, h_px], fill=tuple(rgb["ground"]))
    for x, top, half in lay.peaks:
        if visible(x - half, x + half):
            (ax, ay), (bx, by), (cx, cy) = px(x, top), px(x - half, lay.ground_y), px(x + half, 0)
            cx = (x + half - x_left) * s
            draw.polygon([(ax, ay), (bx, by), (cx, by)], fill=PEAK_RGB)
            f = 0.35  # snow cap: the top 35% of the peak
            draw.polygon(
                [
                    (ax, ay),
                    (ax - f * (ax - bx), ay + f * (by - ay)),
                    (ax + f * (cx - ax), ay + f * (by - ay)),
                ],
                fill=CAP_RGB,
            )
    if lay.peaks:
        draw.rectangle([0, g_px, w_px, h_px], fill=tuple(rgb["ground"]))
    for x0, x1, top in lay.buildings:
        if visible(x0, x1):
            (ax, ay), (bx, _) = px(x0, top), px(x1, top)
            draw.rectangle([ax, ay, bx, h_px], fill=tuple(rgb["ground"]))
    for x, y, size in lay.tufts:
        if visible(x - size, x + size):
            (ax, ay) = px(x, y)
            h = size * s
            draw.polygon([(ax - 0.5 * h, ay), (ax - 0.15 * h, ay - h), (ax, ay)], fill=TUFT_RGB)
            draw.polygon(
                [(ax - 0.1 * h, ay), (ax + 0.3 * h, ay - 0.8 * h), (ax + 0.45 * h, ay)],
                fill=TUFT_RGB,
            )
    for x, y, length in lay.ripples:
        if visible(x, x + length):
            (ax, ay), (bx, _) = px(x, y), px(x + length, y)
            draw.ellipse([ax, ay - 0.006 * s, bx, ay + 0.006 * s], fill=RIPPLE_RGB)
    return img


def draw_windows(
    draw: ImageDraw.ImageDraw,
    lay: SceneLayout,
    lit: np.ndarray,
    x_left: float,
    px_per_fw: float,
    zoom: float = 1.0,
    centre: tuple[float, float] = (0, 0),
) -> None:
    """Draw the lit city windows (``lit`` (n,) bool) into ``draw``; zoom about ``centre`` (px)."""
    s = px_per_fw
    for (x0, y0, x1, y1), on in zip(lay.windows, lit):
        if not on:
            continue
        ax, ay = (x0 - x_left) * s, y0 * s
        bx, by = (x1 - x_left) * s, y1 * s
        if zoom != 1.0:
            cx, cy = centre
            ax, bx = cx + (ax - cx) * zoom, cx + (bx - cx) * zoom
            ay, by = cy + (ay - cy) * zoom, cy + (by - cy) * zoom
        if bx < 0 or ax > draw.im.size[0]:
            continue
        draw.rectangle([ax, ay, bx - 1, by - 1], fill=WINDOW_RGB)


def windows_lit(lay: SceneLayout, t: float, flicker: bool) -> np.ndarray:
    """Which windows are lit at scene time ``t`` (s): all, or a flickering pseudo-random subset."""
    n = len(lay.windows)
    if not flicker or n == 0:
        return np.ones(n, bool)
    assert lay.window_phase is not None
    tick = np.floor(t * FLICKER_RATE_HZ + lay.window_phase * 7.0)
    # a cheap deterministic hash of (window, tick): about a third of the windows off at a time
    h = np.sin((np.arange(n) + 1) * 12.9898 + tick * 78.233) * 43758.5453
    return (h - np.floor(h)) > 0.35


def draw_waves(
    draw: ImageDraw.ImageDraw,
    lay: SceneLayout,
    t: float,
    x_left: float,
    px_per_fw: float,
    zoom: float = 1.0,
    centre: tuple[float, float] = (0, 0),
) -> None:
    """Draw the ocean's wave crests, each bobbing on its own phase, at scene time ``t`` (s)."""
    s = px_per_fw
    amp = 0.012 * lay.aspect
    for x, y, length, ph in lay.waves:
        yy = y + amp * np.sin(2 * np.pi * t / WAVE_PERIOD_S + ph)
        ax, bx, ay = (x - x_left) * s, (x + length - x_left) * s, yy * s
        half = 0.008 * s
        if zoom != 1.0:
            cx, cy = centre
            ax, bx, ay = cx + (ax - cx) * zoom, cx + (bx - cx) * zoom, cy + (ay - cy) * zoom
            half *= zoom
        if bx < 0 or ax > draw.im.size[0] or ay < lay.ground_y * s * min(zoom, 1.0) - 2 * half:
            continue
        draw.ellipse([ax, ay - half, bx, ay + half], fill=WAVE_RGB)


# ----------------------------------------------------------------------------- particles


@dataclass
class ParticleField:
    """Falling particles in screen space (fw): start positions, fall speeds, sway phases."""

    kind: str  # "snow" | "rain"
    x: np.ndarray
    y: np.ndarray
    v: np.ndarray
    phase: np.ndarray


def sample_particles(kind: str, aspect: float, rng: np.random.Generator) -> ParticleField:
    n = int((70 if kind == "snow" else 45) * aspect)
    x = rng.uniform(-0.1, 1.1, n)
    y = rng.uniform(0, aspect + 0.1, n)
    v = rng.uniform(0.07, 0.14, n) if kind == "snow" else rng.uniform(1.1, 1.5, n)
    return ParticleField(kind, x, y, v, rng.uniform(0, 2 * np.pi, n))


def draw_particles(
    img: Image.Image, pf: ParticleField, t: float, aspect: float, px_per_fw: float
) -> Image.Image:
    """Particles at scene time ``t`` over ``img`` (screen space; the camera does not move them)."""
    s = px_per_fw
    span = aspect + 0.1
    y = np.mod(pf.y + pf.v * t, span) - 0.05
    if pf.kind == "snow":
        x = pf.x + 0.015 * np.sin(2 * np.pi * 0.4 * t + pf.phase)
        draw = ImageDraw.Draw(img)
        r = 0.011 * s
        for xi, yi in zip(x * s, y * s):
            draw.ellipse([xi - r, yi - r, xi + r, yi + r], fill=SNOWFLAKE_RGB)
        return img
    # rain: thin streaks, light over dark backgrounds and dark over bright ones
    mask = Image.new("L", img.size, 0)
    draw = ImageDraw.Draw(mask)
    length, slant = 0.07, 0.012
    width = max(1, int(round(0.5 * s / 64 * 4)))
    for xi, yi in zip(pf.x, y):
        draw.line([(xi * s, yi * s), ((xi - slant) * s, (yi + length) * s)], fill=255, width=width)
    base = np.asarray(img, np.float32)
    lum = base @ np.array([0.299, 0.587, 0.114], np.float32)
    streak = np.where((lum < 140)[..., None], RAIN_LIGHT_RGB, RAIN_DARK_RGB).astype(np.float32)
    a = np.asarray(mask, np.float32)[..., None] * (RAIN_ALPHA / 255.0)
    out = base * (1 - a) + streak * a
    return Image.fromarray(np.round(out).astype(np.uint8))


# ----------------------------------------------------------------------------- colours


def scene_colours(scene: str) -> list[tuple[int, int, int]]:
    """The pure colours a scene shows (gradients sampled every 1/16), for contrast checks."""
    rgb = SCENE_RGB[scene]
    cols: list[tuple[int, int, int]] = []
    if "bg" in rgb:
        cols.append(tuple(rgb["bg"]))
    if "top" in rgb:
        g = _gradient(rgb["top"], rgb["bottom"], 16)
        cols.extend(tuple(int(v) for v in c) for c in g)
        cols.extend([tuple(rgb["top"]), tuple(rgb["bottom"])])
    if "ground" in rgb:
        cols.append(tuple(rgb["ground"]))
    extra = {
        "dark": [STAR_RGB],
        "grass": [TUFT_RGB],
        "beach": [SUN_RGB, RIPPLE_RGB],
        "snow": [PEAK_RGB, CAP_RGB],
        "city": [STAR_RGB, WINDOW_RGB],
        "ocean": [WAVE_RGB],
    }
    cols.extend(extra.get(scene, []))
    return cols


def colour_distance(a: tuple[int, ...], b: tuple[int, ...]) -> float:
    return float(np.linalg.norm(np.subtract(a, b, dtype=np.float64)))


@cache
def visible_colours(scene: str, particles: tuple[str, ...] = ()) -> tuple[str, ...]:
    """Object colours that stay visible over ``scene`` (docs/WORLDS.md: no invisible colour pairs).

    A colour is excluded when any scene colour (or a falling snowflake) lies within
    ``MIN_CONTRAST`` of it: white on snow, green on grass, orange on the beach.
    """
    cols = scene_colours(scene)
    if "snow" in particles:
        cols = [*cols, SNOWFLAKE_RGB]
    out = []
    for name, c in COLOURS.items():
        if min(colour_distance(c.rgb, b) for b in cols) >= MIN_CONTRAST:
            out.append(name)
    return tuple(out)
