"""AV sync checker, part 3: sharp onsets in a waveform, located to the sample.

In each of four bands the energy of a short window (1 ms hop) is compared with the mean of the
milliseconds before it; where the strongest band rises past the threshold, an AIC change-point
pick on the raw samples (Maeda 1985) places the onset, which is then moved to the attack itself
past any codec pre-echo (``_sharpen``). See avgen.worlds.av_checks.
"""

from __future__ import annotations

import numpy as np
from scipy import signal

# ----------------------------------------------------------------------------- audio onsets


def _aic_pick(x: np.ndarray) -> int:
    """Sample index where x changes from quiet to loud, by the AIC change-point criterion."""
    n = len(x)
    if n < 8:
        return n // 2
    x = x.astype(np.float64)
    c1 = np.cumsum(x * x)
    k = np.arange(1, n - 1)
    v1 = c1[k - 1] / k
    v2 = (c1[-1] - c1[k - 1]) / (n - k)
    aic = k * np.log(v1 + 1e-20) + (n - k) * np.log(v2 + 1e-20)
    return int(k[np.argmin(aic)])


ATTACK_FRACTION = 0.4
MIN_ONSET_GAP_S = 0.012  # closer onsets are one sound
LOOKBACK_HIGH_MS = 10


def _sharpen(x: np.ndarray, k: int, sr: int) -> int:
    """Move an onset to the first sample whose level reaches ATTACK_FRACTION of the attack peak.

    Lossy codecs (AAC) smear a little energy into the milliseconds before an attack
    ("pre-echo"), which a change-point pick takes for the onset; the attack itself is loud.
    """
    ms = sr // 1000
    a, b = max(0, k - 12 * ms), min(len(x), k + 15 * ms)
    if b - a < 4:
        return k
    seg = np.abs(x[a:b])
    peak = float(seg[k - a :].max()) if k < b else 0.0
    bg = x[max(0, k - 45 * ms) : a]
    floor = 3.0 * float(np.sqrt(np.mean(bg * bg))) if len(bg) else 0.0
    thr = max(ATTACK_FRACTION * peak, floor)
    if thr <= 0 or thr >= peak:
        return k
    return a + int(np.argmax(seg >= thr))


# (low Hz, high Hz, energy window ms, look-back ms): short windows where sounds decay fast
_BANDS = (
    (30.0, 200.0, 10, 30),
    (200.0, 800.0, 5, 20),
    (800.0, 3000.0, 5, LOOKBACK_HIGH_MS),
    (3000.0, 7500.0, 5, LOOKBACK_HIGH_MS),
)


def _band_energy(x: np.ndarray, sr: int, lo: float, hi: float, hop: int, win: int) -> np.ndarray:
    hi = min(hi, 0.45 * sr)
    if lo >= hi:
        return np.zeros(0)
    sos = signal.butter(2, [lo, hi], btype="bandpass", fs=sr, output="sos")
    y = signal.sosfilt(sos, x)
    c = np.concatenate([[0.0], np.cumsum(y * y)])
    starts = np.arange(0, len(x) - win + 1, hop)
    return (c[starts + win] - c[starts]) / win


def audio_onsets(audio: np.ndarray, sr: int, *, threshold_db: float = 9.0) -> list[dict]:
    """Sharp onsets in a waveform, located to the sample: [{"t": s, "strength_db": dB}].

    Onset function: in each of four bands, the energy of a short window (1 ms hop) against
    the mean of the 30 ms before it; the strongest band rise marks a candidate, and an AIC
    change-point pick on the raw samples places it to the sample.
    """
    x = np.asarray(audio, np.float64)
    if x.ndim == 2:
        x = x.mean(axis=1) if x.shape[1] <= 8 else x.mean(axis=0)
    hop = max(1, int(round(sr * 0.001)))  # 1 ms
    if len(x) < 60 * hop:
        return []
    ratios = []
    wins = []
    n = None
    backs = []
    for lo, hi, win_ms, back_ms in _BANDS:
        win = win_ms * hop
        e = _band_energy(x, sr, lo, hi, hop, win)
        if len(e) == 0:
            continue
        n = len(e) if n is None else min(n, len(e))
        ratios.append(e)
        wins.append(win)
        backs.append(back_ms)
    if not ratios or n is None:
        return []
    total = sum(float(e.max()) for e in ratios)
    floor = total * 10 ** (-55 / 10)
    ratio_db = np.full(n, -np.inf)
    band = np.zeros(n, int)
    for bi, e in enumerate(ratios):
        e = e[:n] + 1e-15
        cs = np.concatenate([[0.0], np.cumsum(e)])
        idx = np.arange(n)
        lo_i = np.clip(idx - 3 - backs[bi], 0, n)
        hi_i = np.clip(idx - 3, 0, n)
        past = np.where(hi_i > lo_i, (cs[hi_i] - cs[lo_i]) / np.maximum(hi_i - lo_i, 1), e[0])
        r = 10 * np.log10(e / (past + floor))
        r[e < floor] = -np.inf
        band = np.where(r > ratio_db, bi, band)
        ratio_db = np.maximum(ratio_db, r)
    above = ratio_db > threshold_db
    onsets: list[dict] = []
    i = 0
    while i < n:
        if not above[i]:
            i += 1
            continue
        j = i
        while j + 1 < n and above[j + 1]:
            j += 1
        k = i + int(np.argmax(ratio_db[i : j + 1]))
        strength = float(ratio_db[k])
        # the onset entered the window of the band that rose first between i and i + win
        a = max(0, (i - 3) * hop)
        b = min(len(x), i * hop + wins[band[i]] + 3 * hop)
        t = _sharpen(x, a + _aic_pick(x[a:b]), sr) / sr
        if onsets and t - onsets[-1]["t"] < MIN_ONSET_GAP_S:
            if strength > onsets[-1]["strength_db"]:
                onsets[-1] = {"t": t, "strength_db": strength}
        else:
            onsets.append({"t": t, "strength_db": strength})
        i = j + 1
    return onsets
