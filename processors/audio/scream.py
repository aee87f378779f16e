"""Screams and shouts without words: a loud voice that is high-pitched or clipped.

A voiced sound is periodic: a short window correlates with itself one pitch period later. Loud windows (at or
above ``loud_dbfs``) that are voiced (normalised autocorrelation >= ``voiced_min``) are kept; the sound is a
*scream* when such windows last ``min_seconds`` and their pitch is high (median >= ``high_hz``: a speaking voice
sits at 85-255 Hz, a scream well above 400 Hz) or the audio is clipped (``clipped_min`` of the samples at full
scale). Bangs and claps are loud but not periodic, steady hum is periodic but not loud: neither is a scream.

It is a cue for the fusion (it lowers the visual thresholds like a sudden loud sound) and never an alert alone.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

RATE = 16_000
WINDOW = 640  # 40 ms
MIN_HZ, MAX_HZ = 80.0, 1600.0


@dataclass(frozen=True, slots=True)
class ScreamRules:
    loud_dbfs: float = -20.0
    voiced_min: float = 0.6
    high_hz: float = 400.0
    clipped_min: float = 0.005
    min_seconds: float = 0.25


@dataclass(frozen=True, slots=True)
class VoiceCue:
    scream: bool
    pitch_hz: float | None  # median pitch of the loud voiced windows
    loud_voiced_s: float
    clipped: float  # fraction of samples at full scale


def _pitch(frame: np.ndarray) -> tuple[float, float]:
    """(normalised autocorrelation at the best lag, pitch in Hz) of one window."""
    x = frame - frame.mean()
    energy = float(np.dot(x, x))
    if energy <= 0:
        return 0.0, 0.0
    spectrum = np.fft.rfft(x, 2 * len(x))
    corr = np.fft.irfft(spectrum * np.conj(spectrum))[: len(x)] / energy
    hi = int(RATE / MIN_HZ)
    # The correlation of a smooth signal stays high at small lags: the period is the best peak after it first
    # falls below zero.
    below = np.flatnonzero(corr[1:hi] < 0)
    if len(below) == 0:
        return 0.0, 0.0
    lo = max(int(RATE / MAX_HZ), int(below[0]) + 1)
    lag = lo + int(np.argmax(corr[lo:hi]))
    return float(corr[lag]), RATE / lag


def detect(samples16k: np.ndarray, rules: ScreamRules | None = None) -> VoiceCue:
    rules = rules or ScreamRules()
    x = np.asarray(samples16k, np.float64)
    clipped = float(np.mean(np.abs(x) >= 0.99)) if len(x) else 0.0
    n = len(x) // WINDOW
    if n == 0:
        return VoiceCue(False, None, 0.0, clipped)
    frames = x[: n * WINDOW].reshape(n, WINDOW)
    levels = 20.0 * np.log10(np.maximum(np.sqrt(np.mean(frames**2, axis=1)), 1e-6))
    pitches = []
    for frame in frames[levels >= rules.loud_dbfs]:
        strength, hz = _pitch(frame)
        if strength >= rules.voiced_min:
            pitches.append(hz)
    voiced_s = len(pitches) * WINDOW / RATE
    pitch = float(np.median(pitches)) if pitches else None
    long_enough = voiced_s >= rules.min_seconds
    high = pitch is not None and pitch >= rules.high_hz
    return VoiceCue(long_enough and (high or clipped >= rules.clipped_min), pitch, voiced_s, clipped)
