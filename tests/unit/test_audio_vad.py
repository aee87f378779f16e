"""Voice activity: silence and noise never reach Whisper; speech does (Silero runs offline from its asset)."""

from __future__ import annotations

import numpy as np
import pytest

from processors.audio.vad import detect, energy_ratio
from processors.media import decode_wav, resample
from tests.model_fixtures import speech_wav

RATE = 16_000
OPTS = {"energy_dbfs": -50.0, "threshold": 0.5}


def test_silent_chunk_is_skipped_by_the_energy_gate() -> None:
    result = detect(np.zeros(2 * RATE, np.float32), use_silero=True, **OPTS)
    assert not result.speech and result.speech_ratio == 0.0 and result.energy_ratio == 0.0


def test_energy_ratio_counts_loud_windows() -> None:
    audio = np.zeros(RATE, np.float32)
    audio[: RATE // 2] = 0.1
    assert energy_ratio(audio, RATE, -50.0) == pytest.approx(0.5, abs=0.05)


def test_energy_only_mode_passes_loud_audio() -> None:
    noise = np.random.default_rng(0).normal(0, 0.05, 2 * RATE).astype(np.float32)
    assert detect(noise, use_silero=False, **OPTS).speech


def test_silero_rejects_steady_noise() -> None:
    noise = np.random.default_rng(0).normal(0, 0.05, 2 * RATE).astype(np.float32)
    result = detect(noise, use_silero=True, **OPTS)
    assert result.energy_ratio > 0.9 and not result.speech


def test_silero_accepts_speech() -> None:
    pcm = resample(decode_wav(speech_wav("help, somebody call the police"), max_seconds=30), RATE)
    result = detect(pcm.samples, use_silero=True, **OPTS)
    assert result.speech and result.speech_ratio > 0.3
