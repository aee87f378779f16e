"""Voice activity: a cheap energy gate first, then Silero VAD (bundled with faster-whisper, runs offline).

Only chunks that pass both reach Whisper, so silence and steady background noise cost almost nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from processors.audio.loudness import window_dbfs

SILERO_RATE = 16_000
SILERO_WINDOW = 512  # samples per Silero decision (32 ms at 16 kHz)
_ENERGY_WINDOW_MS = 30.0


@dataclass(frozen=True, slots=True)
class VadResult:
    speech: bool
    speech_ratio: float  # fraction of the chunk judged speech (energy-only when Silero is off)
    energy_ratio: float  # fraction of windows above the energy gate


def energy_ratio(samples: np.ndarray, sample_rate: int, threshold_dbfs: float) -> float:
    levels = window_dbfs(samples, sample_rate, _ENERGY_WINDOW_MS)
    return float(np.mean(levels > threshold_dbfs))


def silero_probabilities(samples16k: np.ndarray) -> np.ndarray:
    """Per-32 ms speech probabilities from the Silero model shipped in faster-whisper's assets."""
    from faster_whisper.vad import get_vad_model

    pad = (-len(samples16k)) % SILERO_WINDOW
    audio = np.pad(samples16k.astype(np.float32), (0, pad))
    return np.asarray(get_vad_model()(audio)).reshape(-1)


MIN_RATIO = 0.05


def detect(
    samples16k: np.ndarray, *, energy_dbfs: float, use_silero: bool, threshold: float, min_ratio: float = MIN_RATIO
) -> VadResult:
    """Speech or not for one 16 kHz chunk."""
    result, _ = frames(
        samples16k, energy_dbfs=energy_dbfs, use_silero=use_silero, threshold=threshold, min_ratio=min_ratio
    )
    return result


def frames(
    samples16k: np.ndarray, *, energy_dbfs: float, use_silero: bool, threshold: float, min_ratio: float = MIN_RATIO
) -> tuple[VadResult, np.ndarray]:
    """Speech or not for one 16 kHz chunk, and the speech flag of each Silero window (``SILERO_WINDOW`` samples,
    the last one padded): where speech starts and whether it runs to the chunk's end (utterances, not chunks)."""
    n = -(-len(samples16k) // SILERO_WINDOW)
    energetic = energy_ratio(samples16k, SILERO_RATE, energy_dbfs)
    if energetic < min_ratio:
        return VadResult(speech=False, speech_ratio=0.0, energy_ratio=energetic), np.zeros(n, bool)
    if not use_silero:
        pad = np.pad(samples16k.astype(np.float64), (0, n * SILERO_WINDOW - len(samples16k)))
        levels = np.sqrt(np.mean(pad.reshape(n, SILERO_WINDOW) ** 2, axis=1))
        flags = 20.0 * np.log10(np.maximum(levels, 1e-6)) > energy_dbfs
        return VadResult(speech=True, speech_ratio=energetic, energy_ratio=energetic), flags
    flags = silero_probabilities(samples16k)[:n] >= threshold
    ratio = float(np.mean(flags)) if n else 0.0
    return VadResult(speech=ratio >= min_ratio, speech_ratio=ratio, energy_ratio=energetic), flags
