"""Procedural sound effects of SoundWorld (docs/WORLDS.md): rain, wind, thunder, clocks, sirens, ...

Every effect is built from the classic recipes of procedural audio (filtered and spectrally
shaped noise, decaying resonances, event trains; A. Farnell, "Designing Sound", MIT Press 2010),
written here with numpy and scipy. All randomness comes from the ``rng`` passed in, so a clip is
reproducible from its seed. Outputs are mono float32 peak-normalised to ``SFX_PEAK``.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from scipy import signal

from avgen.errors import AvgenError
from avgen.vocab import SAMPLE_RATE, SOUND_EFFECTS

SFX_PEAK = 0.5  # the "normal" peak of docs/WORLDS.md
IMPACT_KINDS = ("thud", "knock")
CLOCK_BPM = 60.0
FOOTSTEP_BPM_RANGE = (100, 120)
SIREN_RANGE_HZ = (600.0, 1200.0)
SIREN_PERIOD_S = 1.0
ALARM_HZ = 1000.0
ALARM_ON_S = 0.2
MAX_SFX_DURATION_S = 600.0

# Which effects are noise (not tonal), which are tonal; the rest (impulsive trains) are neither.
NOISY_SFX = ("rain", "wind", "thunder", "thunderstorm", "ocean waves", "fire", "applause")
TONAL_SFX = ("siren", "alarm", "bell")
# Effects with a steady beat, and effects whose level is steady enough for fades to be judged.
TEMPO_SFX = ("clock", "footsteps")
STEADY_SFX = ("rain", "fire", "clock", "footsteps", "siren", "alarm", "applause")


# ----------------------------------------------------------------------------- building blocks


def _filt(x: np.ndarray, btype: str, freqs, sr: int, order: int = 2) -> np.ndarray:
    nyq = sr / 2
    if np.ndim(freqs):
        freqs = [min(f, 0.95 * nyq) for f in freqs]
    else:
        freqs = min(freqs, 0.95 * nyq)
    sos = signal.butter(order, freqs, btype=btype, fs=sr, output="sos")
    return signal.sosfilt(sos, x)


def _normalise(x: np.ndarray, peak: float = SFX_PEAK) -> np.ndarray:
    m = float(np.max(np.abs(x))) if x.size else 0.0
    return (x * (peak / m) if m > 0 else x).astype(np.float32)


def _lfo(n: int, sr: int, rng: np.random.Generator, rate_hz: float) -> np.ndarray:
    """A smooth random control curve in [0, 1]: three sines near ``rate_hz``."""
    t = np.arange(n) / sr
    y = np.zeros(n)
    for _ in range(3):
        f = rate_hz * rng.uniform(0.5, 1.5)
        y += np.sin(2 * np.pi * f * t + rng.uniform(0, 2 * np.pi))
    lo, hi = y.min(), y.max()
    return (y - lo) / (hi - lo) if hi > lo else np.full(n, 0.5)


def _shaped_noise(
    n: int, sr: int, rng: np.random.Generator, mask: Callable[[np.ndarray, np.ndarray], np.ndarray]
) -> np.ndarray:
    """White noise whose STFT magnitude is multiplied by ``mask(freqs (F, 1), times (1, M))``."""
    x = rng.standard_normal(n)
    f, t, z = signal.stft(x, fs=sr, nperseg=512, noverlap=384)  # z: (F, M)
    z = z * mask(f[:, None], t[None, :])
    _, y = signal.istft(z, fs=sr, nperseg=512, noverlap=384)
    y = y[:n]
    return np.pad(y, (0, n - y.size))


def _place(n: int, kernel: np.ndarray, times: np.ndarray, amps: np.ndarray, sr: int) -> np.ndarray:
    """Sum of ``kernel`` copies starting at ``times`` (s) with gains ``amps``, length ``n``."""
    out = np.zeros(n)
    if len(times) == 0:
        return out
    idx = np.round(np.asarray(times) * sr).astype(int)
    keep = (idx >= 0) & (idx < n)
    imp = np.zeros(n)
    np.add.at(imp, idx[keep], np.asarray(amps, dtype=float)[keep])
    return signal.fftconvolve(imp, kernel)[:n]


def _add(out: np.ndarray, kernel: np.ndarray, t: float, amp: float, sr: int) -> None:
    """Add ``amp * kernel`` into ``out`` starting at time ``t`` (s), in place."""
    i = int(round(t * sr))
    if 0 <= i < out.size:
        m = min(kernel.size, out.size - i)
        out[i : i + m] += amp * kernel[:m]


def _decay(sr: int, dur: float, tau: float) -> np.ndarray:
    t = np.arange(int(dur * sr)) / sr
    return np.exp(-t / tau)


def _burst(rng: np.random.Generator, sr: int, dur: float, tau: float) -> np.ndarray:
    """Exponentially decaying white-noise burst."""
    env = _decay(sr, dur, tau)
    return rng.standard_normal(env.size) * env


def _ring(sr: int, dur: float, freq: float, tau: float) -> np.ndarray:
    """Exponentially decaying sine (a struck resonance)."""
    t = np.arange(int(dur * sr)) / sr
    return np.sin(2 * np.pi * freq * t) * np.exp(-t / tau)


def _rumble(n: int, rng: np.random.Generator, sr: int, top_hz: float) -> np.ndarray:
    """Broadband low rumble: white noise band-passed from 30 Hz to ``top_hz``."""
    return _filt(rng.standard_normal(n), "bandpass", (30.0, top_hz), sr)


def _grid(start: float, period: float, duration: float) -> np.ndarray:
    if start >= duration:
        return np.zeros(0)
    return start + period * np.arange(int(np.floor((duration - start) / period - 1e-9)) + 1)


# ----------------------------------------------------------------------------- impacts


def impact_sound(kind: str, rng: np.random.Generator, sr: int = SAMPLE_RATE) -> np.ndarray:
    """One impact ("thud": a low body hitting the floor, "knock": wood), onset at sample 0.

    Sharp attack (full level within the first millisecond), peak ``SFX_PEAK``, float32.
    """
    if kind not in IMPACT_KINDS:
        raise AvgenError(f"impact kind {kind!r} is not one of {', '.join(IMPACT_KINDS)}.")
    _check_sr(sr)
    if kind == "thud":
        dur = 0.4
        t = np.arange(int(dur * sr)) / sr
        f0 = rng.uniform(55.0, 85.0)
        freq = f0 * (1.0 + 0.6 * np.exp(-t / 0.03))  # pitch drops as the body settles
        body = np.sin(2 * np.pi * np.cumsum(freq) / sr + np.pi / 2)
        body *= np.exp(-t / rng.uniform(0.07, 0.12))
        click = _filt(_burst(rng, sr, dur, 0.008), "lowpass", 1200.0, sr)
        x = body + 0.8 * click / max(np.max(np.abs(click)), 1e-9)
    else:
        dur = 0.18
        f1 = rng.uniform(160.0, 240.0)
        x = (
            _ring(sr, dur, f1, 0.025)
            + 0.6 * _ring(sr, dur, f1 * rng.uniform(2.3, 2.8), 0.015)
            + 0.4 * _ring(sr, dur, rng.uniform(900.0, 1400.0), 0.006)
        )
        click = _filt(_burst(rng, sr, dur, 0.0015), "highpass", 1000.0, sr)
        x = x + 0.9 * click / max(np.max(np.abs(click)), 1e-9)
    return _normalise(x)


# ----------------------------------------------------------------------------- the effects
# Each returns (signal (n,), events [{"t": s, "kind": str}], tempo_bpm or None).

Result = tuple[np.ndarray, list[dict], float | None]


def _events(times, kind: str) -> list[dict]:
    return [{"t": round(float(t), 4), "kind": kind} for t in times]


def _rain(n: int, sr: int, rng: np.random.Generator, bpm: float | None) -> Result:
    dur = n / sr
    bed = _filt(rng.standard_normal(n), "bandpass", (400.0, 6000.0), sr)
    bed /= np.std(bed) + 1e-12
    drops = np.zeros(n)
    rate = rng.uniform(60.0, 160.0)
    for _ in range(3):  # three drop timbres
        k = rng.poisson(rate * dur / 3)
        kernel = _filt(_burst(rng, sr, 0.012, rng.uniform(0.001, 0.003)), "highpass", 1500.0, sr)
        drops += _place(n, kernel, rng.uniform(0, dur, k), rng.lognormal(0, 0.5, k), sr)
    drops /= np.std(drops) + 1e-12
    return 0.6 * bed + 0.5 * drops, [], None


def _wind(n: int, sr: int, rng: np.random.Generator, bpm: float | None) -> Result:
    m = n // 128 + 8
    centre = 250.0 * 2.0 ** (1.6 * _lfo(m, sr / 128, rng, 0.15))
    gust = 0.3 + 0.7 * _lfo(m, sr / 128, rng, 0.2)

    def mask(f: np.ndarray, t: np.ndarray) -> np.ndarray:
        i = np.minimum((t * sr / 128).astype(int), m - 1)
        ratio = np.log2(np.maximum(f, 20.0) / centre[i])
        return gust[i] * np.exp(-0.5 * (ratio / 0.7) ** 2)

    return _shaped_noise(n, sr, rng, mask), [], None


def _thunder_claps(n: int, sr: int, rng: np.random.Generator) -> tuple[np.ndarray, list[float]]:
    dur = n / sr
    times = [rng.uniform(0.0, min(0.3 * dur, 1.0))]
    if dur >= 5.0 and rng.random() < 0.5:
        times.append(times[0] + rng.uniform(2.5, dur - times[0] - 0.5))
    out = np.zeros(n)
    for k, t0 in enumerate(times):
        i0 = int(t0 * sr)
        m = n - i0
        t = np.arange(m) / sr
        crack = _filt(rng.standard_normal(m), "lowpass", 4000.0, sr)
        crack *= np.exp(-t / rng.uniform(0.04, 0.12))
        rumble = _rumble(m, rng, sr, rng.uniform(250.0, 400.0))
        rumble /= np.std(rumble) + 1e-12
        env = np.minimum(t / 0.1, 1.0) * np.exp(-t / rng.uniform(0.8, 2.0))
        env *= 0.6 + 0.4 * _lfo(m, sr, rng, 2.5)  # rolling
        crack /= np.max(np.abs(crack)) + 1e-12
        out[i0:] += (0.7 * crack + 0.5 * rumble * env) * (1.0 if k == 0 else 0.7)
    return out, times


def _thunder(n: int, sr: int, rng: np.random.Generator, bpm: float | None) -> Result:
    x, times = _thunder_claps(n, sr, rng)
    return x, _events(times, "thunder"), None


def _thunderstorm(n: int, sr: int, rng: np.random.Generator, bpm: float | None) -> Result:
    rain, _, _ = _rain(n, sr, rng, None)
    thunder, times = _thunder_claps(n, sr, rng)
    rain = rain / (np.max(np.abs(rain)) + 1e-12)
    thunder = thunder / (np.max(np.abs(thunder)) + 1e-12)
    return 0.5 * rain + thunder, _events(times, "thunder"), None


def _ocean(n: int, sr: int, rng: np.random.Generator, bpm: float | None) -> Result:
    dur = n / sr
    period = rng.uniform(4.0, 7.0)
    phase = rng.uniform(0, 2 * np.pi)

    def swell(t: np.ndarray) -> np.ndarray:
        return (0.5 - 0.5 * np.cos(2 * np.pi * t / period + phase)) ** 1.5

    def mask(f: np.ndarray, t: np.ndarray) -> np.ndarray:
        s = swell(t)
        cutoff = 300.0 + 2500.0 * s
        return (0.15 + s) / (1.0 + (f / cutoff) ** 4)

    # crests: where the swell peaks (2*pi*t/period + phase = pi mod 2*pi)
    first = ((np.pi - phase) % (2 * np.pi)) * period / (2 * np.pi)
    return _shaped_noise(n, sr, rng, mask), _events(_grid(first, period, dur), "wave"), None


def _fire(n: int, sr: int, rng: np.random.Generator, bpm: float | None) -> Result:
    dur = n / sr
    bed = _rumble(n, rng, sr, 500.0)
    bed *= (0.5 + 0.5 * _lfo(n, sr, rng, 1.0)) / (np.std(bed) + 1e-12)
    k = rng.poisson(rng.uniform(10.0, 25.0) * dur)
    click = _filt(_burst(rng, sr, 0.006, 0.0008), "highpass", 2000.0, sr)
    crackles = _place(n, click, rng.uniform(0, dur, k), rng.pareto(2.5, k) + 0.3, sr)
    k2 = rng.poisson(rng.uniform(1.0, 2.5) * dur)
    pop = _filt(_burst(rng, sr, 0.03, 0.006), "bandpass", (300.0, 2500.0), sr)
    pops = _place(n, pop, rng.uniform(0, dur, k2), rng.uniform(0.5, 1.0, k2), sr)
    crackles = crackles / (np.max(np.abs(crackles)) + 1e-12)
    pops = pops / (np.max(np.abs(pops)) + 1e-12)
    return 0.12 * bed + crackles + 0.6 * pops, [], None


def _clock(n: int, sr: int, rng: np.random.Generator, bpm: float | None) -> Result:
    bpm = CLOCK_BPM if bpm is None else bpm
    dur = n / sr
    times = _grid(rng.uniform(0.05, 0.25), 60.0 / bpm, dur)
    kernels = []
    for hi, body in ((3000.0, 1200.0), (2200.0, 900.0)):  # tick, tock
        k = _ring(sr, 0.04, hi, 0.004) + 0.6 * _ring(sr, 0.04, hi * 1.57, 0.003)
        k += 0.5 * _ring(sr, 0.04, body, 0.008) + 0.5 * _burst(rng, sr, 0.04, 0.0007)
        kernels.append(k)
    x = _place(n, kernels[0], times[0::2], np.ones(len(times[0::2])), sr)
    x += _place(n, kernels[1], times[1::2], np.full(len(times[1::2]), 0.85), sr)
    return x, _events(times, "tick"), float(bpm)


def _footsteps(n: int, sr: int, rng: np.random.Generator, bpm: float | None) -> Result:
    if bpm is None:
        bpm = float(rng.integers(FOOTSTEP_BPM_RANGE[0], FOOTSTEP_BPM_RANGE[1] + 1))
    dur = n / sr
    times = _grid(rng.uniform(0.05, 0.3), 60.0 / bpm, dur)
    heel = _ring(sr, 0.2, rng.uniform(70.0, 110.0), 0.035)
    heel += 0.7 * _filt(_burst(rng, sr, 0.2, 0.02), "lowpass", 800.0, sr)
    scuff = 0.3 * _filt(_burst(rng, sr, 0.2, 0.025), "bandpass", (1000.0, 4000.0), sr)
    step = heel + np.roll(scuff, int(0.05 * sr))
    amps = np.where(np.arange(len(times)) % 2 == 0, 1.0, 0.85) * rng.uniform(0.9, 1.0, len(times))
    return _place(n, step, times, amps, sr), _events(times, "step"), float(bpm)


def _siren(n: int, sr: int, rng: np.random.Generator, bpm: float | None) -> Result:
    t = np.arange(n) / sr
    lo, hi = SIREN_RANGE_HZ
    mid, half = (lo + hi) / 2, (hi - lo) / 2
    freq = mid - half * np.cos(2 * np.pi * t / SIREN_PERIOD_S + rng.uniform(0, 2 * np.pi))
    ph = 2 * np.pi * np.cumsum(freq) / sr
    x = np.sin(ph) + 0.35 * np.sin(2 * ph) + 0.2 * np.sin(3 * ph)
    ramp = np.minimum(1.0, np.minimum(t, t[::-1]) / 0.01)
    return x * ramp, [], None


def _alarm(n: int, sr: int, rng: np.random.Generator, bpm: float | None) -> Result:
    dur = n / sr
    t = np.arange(n) / sr
    times = _grid(rng.uniform(0.0, 0.1), 2 * ALARM_ON_S, dur)
    beep = np.sin(2 * np.pi * ALARM_HZ * t[: int(ALARM_ON_S * sr)])
    beep += 0.3 * np.sin(2 * np.pi * 3 * ALARM_HZ * t[: beep.size])
    edge = np.minimum(
        1.0, np.minimum(np.arange(beep.size), np.arange(beep.size)[::-1]) / (0.005 * sr)
    )
    return _place(n, beep * edge, times, np.ones(len(times)), sr), _events(times, "beep"), None


def _birds(n: int, sr: int, rng: np.random.Generator, bpm: float | None) -> Result:
    dur = n / sr
    x = 0.01 * _filt(rng.standard_normal(n), "bandpass", (2000.0, 6000.0), sr)
    onsets: list[float] = []
    for _ in range(int(rng.integers(1, 4))):
        base = rng.uniform(2500.0, 4500.0)
        sweep = rng.uniform(500.0, 1500.0) * rng.choice([-1.0, 1.0])
        cd = rng.uniform(0.04, 0.12)
        t = np.arange(int(cd * sr)) / sr
        freq = base + sweep * (t / cd)
        ph = 2 * np.pi * np.cumsum(freq) / sr
        chirp = (np.sin(ph) + 0.2 * np.sin(2 * ph)) * np.sin(np.pi * t / cd) ** 2
        level = rng.uniform(0.5, 1.0)
        g = rng.uniform(0.0, 0.6)
        while g < dur:
            gap = rng.uniform(0.05, 0.12)
            times = g + (cd + gap) * np.arange(int(rng.integers(2, 6)))
            x += level * _place(n, chirp, times, rng.uniform(0.6, 1.0, len(times)), sr)
            onsets.extend(float(s) for s in times if s < dur)
            g = times[-1] + cd + rng.uniform(0.4, 1.5)
    return x, _events(sorted(onsets), "chirp"), None


_BELL_PARTIALS = (  # ratio to the strike note, amplitude, decay (s): hum, prime, tierce, ...
    (0.5, 0.4, 4.0),
    (1.0, 0.6, 2.5),
    (1.183, 0.5, 2.0),
    (1.506, 0.3, 1.5),
    (2.0, 1.0, 1.8),
    (2.514, 0.35, 1.0),
    (2.662, 0.3, 0.9),
    (3.011, 0.25, 0.7),
    (4.166, 0.15, 0.4),
)


def _bell(n: int, sr: int, rng: np.random.Generator, bpm: float | None) -> Result:
    dur = n / sr
    f = rng.uniform(250.0, 600.0)
    length = min(dur, 5.0)
    strike = sum(a * _ring(sr, length, f * r, d) for r, a, d in _BELL_PARTIALS)
    strike = strike + 0.3 * _burst(rng, sr, length, 0.002)
    times = [rng.uniform(0.0, 0.2)]
    period = rng.uniform(1.5, 3.0)
    while times[-1] + period < dur - 0.3:
        times.append(times[-1] + period)
    x = np.zeros(n)
    for s in times:
        _add(x, strike, s, 1.0, sr)
    return x, _events(times, "bell"), None


def _knocking(n: int, sr: int, rng: np.random.Generator, bpm: float | None) -> Result:
    dur = n / sr
    times: list[float] = []
    g = rng.uniform(0.05, 0.4)
    while g < dur - 0.1:
        spacing = rng.uniform(0.14, 0.22)
        group = [g + spacing * i for i in range(int(rng.integers(2, 5)))]
        times.extend(s for s in group if s < dur - 0.05)
        g = group[-1] + rng.uniform(1.0, 2.0)
    x = np.zeros(n)
    for s in times:
        _add(x, impact_sound("knock", rng, sr), s, 1.0, sr)
    return x, _events(times, "knock"), None


def _applause(n: int, sr: int, rng: np.random.Generator, bpm: float | None) -> Result:
    dur = n / sr
    kernels = [
        _filt(
            _burst(rng, sr, 0.015, rng.uniform(0.002, 0.005)),
            "bandpass",
            (c / 1.6, c * 1.6),
            sr,
        )
        for c in rng.uniform(800.0, 2500.0, 6)
    ]
    groups: list[list[float]] = [[] for _ in kernels]
    for c in range(int(rng.integers(15, 41))):
        rate = rng.uniform(3.0, 5.0)
        s = rng.uniform(0.0, 0.3)
        while s < dur:
            groups[c % len(kernels)].append(s)
            s += rng.normal(1.0 / rate, 0.1 / rate)
    x = np.zeros(n)
    for k, g in zip(kernels, groups):
        x += _place(n, k, np.array(g), rng.uniform(0.5, 1.0, len(g)), sr)
    t = np.arange(n) / sr
    return x * np.minimum(1.0, 0.3 + t / 0.4), [], None


def _thud(n: int, sr: int, rng: np.random.Generator, bpm: float | None) -> Result:
    dur = n / sr
    times = [rng.uniform(0.05, min(0.3, 0.5 * dur))]
    for _ in range(int(rng.integers(0, 3))):
        nxt = times[-1] + rng.uniform(0.6, 2.0)
        if nxt < dur - 0.2:
            times.append(nxt)
    x = np.zeros(n)
    for s in times:
        _add(x, impact_sound("thud", rng, sr), s, 1.0, sr)
    return x, _events(times, "thud"), None


_SFX: dict[str, Callable[[int, int, np.random.Generator, float | None], Result]] = {
    "rain": _rain,
    "wind": _wind,
    "thunder": _thunder,
    "thunderstorm": _thunderstorm,
    "ocean waves": _ocean,
    "fire": _fire,
    "clock": _clock,
    "footsteps": _footsteps,
    "siren": _siren,
    "alarm": _alarm,
    "birds": _birds,
    "bell": _bell,
    "knocking": _knocking,
    "applause": _applause,
    "thud": _thud,
}
assert set(_SFX) == set(SOUND_EFFECTS), "every SOUND_EFFECTS key needs a generator"


def _check_sr(sr: int) -> None:
    if not isinstance(sr, int | np.integer) or not 8000 <= sr <= 96000:
        raise AvgenError(f"sample rate {sr!r} is not an integer from 8000 to 96000 Hz.")


def render_sfx_events(
    name: str,
    duration_s: float,
    rng: np.random.Generator,
    sr: int = SAMPLE_RATE,
    *,
    tempo_bpm: float | None = None,
) -> tuple[np.ndarray, list[dict], float | None]:
    """Like ``render_sfx`` but also returns the events ([{"t", "kind"}]) and the beat (BPM).

    ``tempo_bpm`` sets the rate of a clock (default 60) or footsteps (default 100-120).
    """
    if name not in _SFX:
        raise AvgenError(f"sound effect {name!r} is not one of: {', '.join(sorted(_SFX))}.")
    if not (isinstance(duration_s, int | float) and 0 < duration_s <= MAX_SFX_DURATION_S):
        raise AvgenError(
            f"sound effect duration {duration_s!r} s is not in (0, {MAX_SFX_DURATION_S:g}] s."
        )
    _check_sr(sr)
    if tempo_bpm is not None and not 20 <= tempo_bpm <= 300:
        raise AvgenError(f"sound effect tempo {tempo_bpm!r} BPM is not from 20 to 300.")
    n = max(1, int(round(duration_s * sr)))
    x, events, bpm = _SFX[name](n, sr, rng, tempo_bpm)
    return _normalise(x), events, bpm


def render_sfx(
    name: str, duration_s: float, rng: np.random.Generator, sr: int = SAMPLE_RATE
) -> np.ndarray:
    """One procedural sound effect (a key of ``vocab.SOUND_EFFECTS``): float32 (round(d*sr),).

    Peak-normalised to ``SFX_PEAK`` (0.5); all randomness drawn from ``rng``.
    """
    return render_sfx_events(name, duration_s, rng, sr)[0]
