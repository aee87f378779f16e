"""Screams and shouts without words: loud, voiced, and high-pitched or clipped; bangs, hum and speech are not."""

from __future__ import annotations

import numpy as np

from processors.audio.scream import detect
from processors.media import decode_wav, resample
from tests.model_fixtures import speech_wav

RATE = 16_000
T = np.arange(2 * RATE) / RATE
NOISE = np.random.default_rng(0).normal(0, 0.01, 2 * RATE)


def scream(level: float = 0.9, hz: float = 700.0) -> np.ndarray:
    """A harmonic voice at ``hz`` with vibrato, 0.3-1.8 s."""
    phase = 2 * np.pi * np.cumsum(hz + 80 * np.sin(2 * np.pi * 5 * T)) / RATE
    voice = sum(np.sin(k * phase) / k for k in range(1, 6))
    envelope = np.clip((T - 0.3) * 5, 0, 1) * np.clip((1.8 - T) * 5, 0, 1)
    return level * voice / np.abs(voice).max() * envelope + NOISE


def test_a_loud_high_voice_is_a_scream() -> None:
    cue = detect(scream())
    assert cue.scream and cue.pitch_hz is not None and 600 < cue.pitch_hz < 800 and cue.loud_voiced_s > 1.0


def test_a_quiet_high_voice_is_not() -> None:
    assert not detect(scream(level=0.02)).scream


def test_a_loud_low_voice_is_not_unless_clipped() -> None:
    assert not detect(scream(level=0.5, hz=150.0)).scream
    assert detect(np.clip(scream(level=3.0, hz=150.0), -1, 1)).scream  # a clipped shout


def test_bangs_hum_and_noise_are_not_screams() -> None:
    bang = NOISE.copy()
    bang[RATE : RATE + 800] += np.random.default_rng(1).normal(0, 0.8, 800)
    assert not detect(bang).scream
    assert not detect(0.3 * np.sin(2 * np.pi * 50 * T) + NOISE).scream  # mains hum: low, not clipped
    assert not detect(np.random.default_rng(2).normal(0, 0.3, 2 * RATE)).scream


def test_ordinary_speech_is_not_a_scream() -> None:
    pcm = resample(decode_wav(speech_wav("the meeting starts at ten tomorrow"), max_seconds=30), RATE)
    x = pcm.samples / np.abs(pcm.samples).max() * 0.3  # speech peaking at -10 dBFS
    assert not detect(x).scream
