"""Audio track -> 16 kHz mono PCM -> fixed-length chunks -> WAV bytes.

Chunks are cut by sample count, never by timestamps, so consecutive chunks tile the track exactly: chunk k
starts at sample ``k * chunk_samples`` and its millisecond offset and duration are rounded from the same sample
positions, which keeps ``offset + duration`` of one chunk equal to the next chunk's offset (no gap, no overlap).
"""

from __future__ import annotations

import io
import wave
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import av.audio.frame

TARGET_RATE = 16_000
TARGET_CHANNELS = 1


@dataclass(frozen=True)
class AudioChunk:
    """``samples`` (int16 mono) starting ``start_sample`` samples after the track's first sample."""

    start_sample: int
    samples: np.ndarray
    sample_rate: int
    origin_s: float = 0.0

    @property
    def end_sample(self) -> int:
        return self.start_sample + len(self.samples)

    def _ms(self, sample: int) -> int:
        return round(self.origin_s * 1000 + sample * 1000 / self.sample_rate)

    @property
    def media_offset_ms(self) -> int:
        return self._ms(self.start_sample)

    @property
    def duration_ms(self) -> int:
        return self._ms(self.end_sample) - self._ms(self.start_sample)

    @property
    def media_offset_s(self) -> float:
        return self.origin_s + self.start_sample / self.sample_rate


@dataclass
class AudioChunker:
    """Accumulates PCM and emits chunks of exactly ``chunk_seconds`` (the last one may be shorter)."""

    sample_rate: int = TARGET_RATE
    chunk_seconds: float = 2.0
    origin_s: float = 0.0
    max_samples: int | None = None  # the track's known length: codec padding past it is cut
    _pending: list[np.ndarray] = field(default_factory=list)
    _pending_len: int = 0
    _emitted: int = 0

    def __post_init__(self) -> None:
        if self.chunk_seconds <= 0:
            raise ValueError("chunk_seconds must be > 0")
        self.chunk_samples = max(1, round(self.chunk_seconds * self.sample_rate))

    def push(self, samples: np.ndarray) -> list[AudioChunk]:
        """Adds mono int16 samples; returns the chunks completed by them."""
        if samples.ndim != 1:
            raise ValueError("expected mono samples (1-D array)")
        if self.max_samples is not None:
            room = max(0, self.max_samples - self._emitted - self._pending_len)
            samples = samples[:room]
        if len(samples):
            self._pending.append(samples.astype(np.int16, copy=False))
            self._pending_len += len(samples)
        chunks: list[AudioChunk] = []
        while self._pending_len >= self.chunk_samples:
            buf = np.concatenate(self._pending)
            chunks.append(self._chunk(buf[: self.chunk_samples]))
            rest = buf[self.chunk_samples :]
            self._pending = [rest] if len(rest) else []
            self._pending_len = len(rest)
        return chunks

    def flush(self) -> list[AudioChunk]:
        """The final, shorter chunk (if any samples are left)."""
        if not self._pending_len:
            return []
        buf = np.concatenate(self._pending)
        self._pending, self._pending_len = [], 0
        return [self._chunk(buf)]

    def _chunk(self, samples: np.ndarray) -> AudioChunk:
        chunk = AudioChunk(self._emitted, samples.copy(), self.sample_rate, self.origin_s)
        self._emitted += len(samples)
        return chunk


def encode_wav(samples: np.ndarray, sample_rate: int = TARGET_RATE) -> bytes:
    """16-bit PCM mono WAV bytes."""
    out = io.BytesIO()
    with wave.open(out, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(sample_rate)
        wav.writeframes(np.ascontiguousarray(samples, dtype="<i2").tobytes())
    return out.getvalue()


def decode_wav(data: bytes) -> tuple[np.ndarray, int]:
    """Mono int16 samples and the sample rate of a WAV written by ``encode_wav`` (tests, sample generator)."""
    with wave.open(io.BytesIO(data), "rb") as wav:
        if wav.getsampwidth() != 2:
            raise ValueError("expected 16-bit PCM")
        raw = np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2")
        channels = wav.getnchannels()
        rate = wav.getframerate()
    if channels > 1:
        raw = raw.reshape(-1, channels).mean(axis=1).astype(np.int16)
    return raw, rate


class Resampler:
    """PyAV frames of any layout/rate -> 16 kHz mono int16 arrays (libswresample does the filtering)."""

    def __init__(self, rate: int = TARGET_RATE) -> None:
        import av

        self.rate = rate
        self._resampler = av.AudioResampler(format="s16", layout="mono", rate=rate)

    def push(self, frame: av.audio.frame.AudioFrame | None) -> np.ndarray:
        """Resampled samples of ``frame``; ``None`` drains what the filter still holds (end of track)."""
        out = [f.to_ndarray().reshape(-1) for f in self._resampler.resample(frame)]
        if not out:
            return np.zeros(0, np.int16)
        return np.concatenate(out).astype(np.int16, copy=False)
