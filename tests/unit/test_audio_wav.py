"""Untrusted WAV chunks: lying headers, truncation and oversize claims are permanent errors, not crashes."""

from __future__ import annotations

import struct

import numpy as np
import pytest

from processors.media import CorruptMediaError, MediaTooLargeError, Pcm, decode_wav, resample
from tests.model_fixtures import wav_bytes


def _wav(seconds: float = 1.0, rate: int = 16_000) -> bytes:
    t = np.arange(int(seconds * rate)) / rate
    return wav_bytes(0.5 * np.sin(2 * np.pi * 440 * t), rate)


def test_round_trip() -> None:
    pcm = decode_wav(_wav(1.0), max_seconds=10)
    assert pcm.sample_rate == 16_000 and len(pcm.samples) == 16_000
    assert pcm.samples.dtype == np.float32 and 0.45 < float(np.max(np.abs(pcm.samples))) <= 0.5


def test_header_claiming_more_data_than_present() -> None:
    data = bytearray(_wav(1.0))
    data[40:44] = struct.pack("<I", 10 * 32_000)  # data chunk size: 10 s, the object holds 1 s
    with pytest.raises(CorruptMediaError, match="claims"):
        decode_wav(bytes(data), max_seconds=60)


def test_truncated_object() -> None:
    with pytest.raises(CorruptMediaError):
        decode_wav(_wav(1.0)[:20_001], max_seconds=60)


def test_header_claiming_hours_is_refused_before_reading() -> None:
    data = bytearray(_wav(0.1))
    data[40:44] = struct.pack("<I", 0xFFFFFFF0)
    with pytest.raises(MediaTooLargeError):
        decode_wav(bytes(data), max_seconds=60)


@pytest.mark.parametrize("data", [b"", b"RIFF", b"not a wav at all" * 10, b"\x00" * 100])
def test_garbage(data: bytes) -> None:
    with pytest.raises(CorruptMediaError):
        decode_wav(data, max_seconds=60)


def test_stereo_is_mixed_down_and_resampled() -> None:
    import io
    import wave

    frames = np.stack([np.full(8000, 8000, np.int16), np.full(8000, -8000, np.int16)], axis=1)
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(2)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(frames.tobytes())
    pcm = decode_wav(buf.getvalue(), max_seconds=10)
    assert pcm.sample_rate == 8000 and np.allclose(pcm.samples, 0.0)
    assert len(resample(pcm, 16_000).samples) == 16_000
    assert resample(Pcm(np.ones(10, np.float32), 16_000), 16_000).samples.shape == (10,)
