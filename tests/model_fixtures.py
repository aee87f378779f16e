"""Tiny randomly initialised CLIP and BLIP checkpoints, saved like hub checkpoints into a temp MODEL_CACHE_DIR.

``bench.random_checkpoints`` writes them with ``save_pretrained`` (tokenizers from generated
vocabularies, no downloads), so the processors load them through exactly the code path real weights take.
Re-export the fixtures in a test module: ``tiny_settings = model_fixtures.tiny_settings`` (and ``tiny_model_cache``).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.random_checkpoints import save_random_blip, save_random_clip
from processors.settings import ProcessorSettings

TINY_CLIP = "tiny/clip"
TINY_BLIP = "tiny/blip"


@pytest.fixture(scope="session")
def tiny_model_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A MODEL_CACHE_DIR holding tiny CLIP and BLIP checkpoints (built once per test session, ~2 s)."""
    cache = tmp_path_factory.mktemp("models")
    save_random_clip(cache / TINY_CLIP, tiny=True)
    save_random_blip(cache / TINY_BLIP, tiny=True)
    return cache


@pytest.fixture(scope="session")
def tiny_settings(tiny_model_cache: Path) -> ProcessorSettings:
    return ProcessorSettings(
        model_cache_dir=tiny_model_cache,
        clip_model=TINY_CLIP,
        blip_model=TINY_BLIP,
        torch_num_threads=1,
        scene_max_wait_ms=20,
    )


def wav_bytes(samples: object, rate: int = 16_000) -> bytes:
    """Float samples in [-1, 1] as 16-bit PCM WAV bytes (what the audio producer stores)."""
    import numpy as np

    from producers.audio import encode_wav

    pcm = np.clip(np.asarray(samples, dtype=np.float64), -1.0, 1.0) * 32767.0
    return encode_wav(pcm.astype(np.int16), rate)


def speech_wav(text: str, rate: int = 16_000) -> bytes:
    """espeak-ng speech as a 16 kHz mono WAV; skips the test when espeak-ng is not installed."""
    import shutil

    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is not installed (scripts/bootstrap-system.sh installs it)")
    from producers.samples import synthesize_speech

    return wav_bytes(synthesize_speech(text, rate), rate)
