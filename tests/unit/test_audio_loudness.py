"""Loudness, peak and the sudden-loudness cue (pure numpy)."""

from __future__ import annotations

import numpy as np
import pytest

from processors.audio.loudness import SILENCE_DBFS, measure, window_dbfs

RATE = 16_000


def _tone(seconds: float, amplitude: float, freq: float = 440.0) -> np.ndarray:
    t = np.arange(int(seconds * RATE)) / RATE
    return (amplitude * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def test_full_scale_sine_is_minus_3_dbfs() -> None:
    level = measure(_tone(1.0, 1.0), RATE)
    assert level.rms_dbfs == pytest.approx(-3.01, abs=0.05)
    assert level.peak_dbfs == pytest.approx(0.0, abs=0.01)
    assert not level.sudden  # loud but steady


def test_silence_is_floored() -> None:
    level = measure(np.zeros(RATE, np.float32), RATE)
    assert level.rms_dbfs == SILENCE_DBFS and level.peak_dbfs == SILENCE_DBFS and not level.sudden
    assert measure(np.zeros(0, np.float32), RATE).rms_dbfs == SILENCE_DBFS


def test_bang_in_a_quiet_room_is_sudden() -> None:
    rng = np.random.default_rng(0)
    audio = rng.normal(0, 0.003, 2 * RATE).astype(np.float32)  # about -50 dBFS room tone
    audio[RATE : RATE + 1600] += rng.normal(0, 0.5, 1600).astype(np.float32)  # 100 ms bang
    level = measure(audio, RATE)
    assert level.sudden
    assert level.max_window_dbfs > -10


def test_quiet_jump_is_not_sudden() -> None:
    audio = np.concatenate([_tone(1.0, 0.0005), _tone(0.1, 0.01), _tone(0.9, 0.0005)])
    assert not measure(audio, RATE).sudden  # +26 dB but still under the absolute floor


def test_window_levels_drop_partial_window() -> None:
    levels = window_dbfs(_tone(0.125, 0.5), RATE, 50.0)
    assert levels.shape == (2,)
    assert window_dbfs(_tone(0.01, 0.5), RATE, 50.0).shape == (1,)  # shorter than a window: one level
