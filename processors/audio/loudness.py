"""Loudness of an audio chunk: level, peak, and a sudden-jump cue for screams and bangs without words."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SILENCE_DBFS = -120.0


@dataclass(frozen=True, slots=True)
class Loudness:
    rms_dbfs: float
    peak_dbfs: float
    sudden: bool
    max_window_dbfs: float


def to_dbfs(value: float | np.ndarray) -> np.ndarray:
    """Amplitude (1.0 = full scale) to dBFS, floored so silence is finite."""
    return np.maximum(20.0 * np.log10(np.maximum(np.asarray(value, np.float64), 1e-6)), SILENCE_DBFS)


def window_dbfs(samples: np.ndarray, sample_rate: int, window_ms: float) -> np.ndarray:
    """RMS level of consecutive windows in dBFS (the trailing partial window is dropped)."""
    if len(samples) == 0:
        return np.full(1, SILENCE_DBFS)
    size = min(len(samples), max(1, int(sample_rate * window_ms / 1000)))
    n = len(samples) // size
    frames = samples[: n * size].reshape(n, size).astype(np.float64)
    return to_dbfs(np.sqrt(np.mean(frames * frames, axis=1)))


def measure(
    samples: np.ndarray, sample_rate: int, *, window_ms: float = 50.0, jump_db: float = 20.0, floor_dbfs: float = -30.0
) -> Loudness:
    """Level and peak of the chunk; ``sudden`` when a short window rises ``jump_db`` over the chunk's quiet
    background (its 20th percentile window) and is loud in absolute terms (``floor_dbfs``)."""
    if len(samples) == 0:
        return Loudness(SILENCE_DBFS, SILENCE_DBFS, False, SILENCE_DBFS)
    rms = float(to_dbfs(np.sqrt(np.mean(np.square(samples, dtype=np.float64)))))
    peak = float(to_dbfs(np.max(np.abs(samples))))
    windows = window_dbfs(samples, sample_rate, window_ms)
    loudest = float(windows.max())
    background = float(np.percentile(windows, 20))
    sudden = loudest >= floor_dbfs and loudest - background >= jump_db
    return Loudness(rms_dbfs=round(rms, 2), peak_dbfs=round(peak, 2), sudden=sudden, max_window_dbfs=round(loudest, 2))
