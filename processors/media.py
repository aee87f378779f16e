"""Safe decoding of untrusted media objects (JPEG/PNG frames, PCM WAV chunks).

Headers are checked before any pixel or sample is decoded, so a decompression bomb or a WAV whose header
claims more data than it holds becomes a dead letter with a reason instead of an allocation.
"""

from __future__ import annotations

import io
import warnings
import wave
from dataclasses import dataclass

import numpy as np
from PIL import Image

from anomaly_core.errors import PermanentError, ValidationError

_IMAGE_FORMATS = {"JPEG", "PNG"}
_JPEG_EOI = b"\xff\xd9"


class CorruptMediaError(PermanentError):
    """The object's bytes are not a decodable image or audio chunk."""

    stage = "HANDLE"


class MediaTooLargeError(ValidationError):
    """The header announces more pixels or samples than a processor accepts."""


def image_size(data: bytes) -> tuple[int, int, str]:
    """(width, height, format) read from the header alone; nothing is decoded."""
    if not data:
        raise CorruptMediaError("empty image object (0 bytes)")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as img:
                width, height = img.size
                fmt = img.format or "?"
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise MediaTooLargeError(f"image header announces a decompression bomb: {exc}") from exc
    except Exception as exc:  # PIL raises many types for garbage; all mean "not an image"
        raise CorruptMediaError(f"not a readable image header: {type(exc).__name__}: {exc}") from exc
    if fmt not in _IMAGE_FORMATS:
        raise CorruptMediaError(f"unsupported image format {fmt}")
    return width, height, fmt


def decode_image(data: bytes, *, max_pixels: int) -> np.ndarray:
    """An RGB uint8 array (H, W, 3); the header is validated against ``max_pixels`` first."""
    width, height, fmt = image_size(data)
    if width <= 0 or height <= 0:
        raise CorruptMediaError(f"zero-size image {width}x{height}")
    if width * height > max_pixels:
        raise MediaTooLargeError(f"image {width}x{height} exceeds the {max_pixels} pixel limit")
    if fmt == "JPEG" and _JPEG_EOI not in data[-64:]:
        # libjpeg fills a truncated scan with grey and only warns; a half frame must not be scored.
        raise CorruptMediaError("truncated JPEG (no end-of-image marker)")
    try:
        with Image.open(io.BytesIO(data)) as img:
            img.load()
            return np.asarray(img.convert("RGB"))
    except Exception as exc:
        raise CorruptMediaError(f"image data does not decode: {type(exc).__name__}: {exc}") from exc


@dataclass(frozen=True, slots=True)
class Pcm:
    """Mono float32 samples in [-1, 1] at ``sample_rate``."""

    samples: np.ndarray
    sample_rate: int

    @property
    def duration_s(self) -> float:
        return len(self.samples) / self.sample_rate if self.sample_rate else 0.0


def decode_wav(data: bytes, *, max_seconds: float) -> Pcm:
    """16-bit PCM WAV to mono float32; the header's frame count must match the data it carries."""
    if len(data) < 44:
        raise CorruptMediaError(f"WAV object too short ({len(data)} bytes)")
    try:
        with wave.open(io.BytesIO(data), "rb") as wav:
            channels, width, rate, frames = wav.getnchannels(), wav.getsampwidth(), wav.getframerate(), wav.getnframes()
            if width != 2:
                raise CorruptMediaError(f"only 16-bit PCM is accepted, got {8 * width}-bit")
            if not 1 <= channels <= 8 or not 4000 <= rate <= 192_000:
                raise CorruptMediaError(f"implausible WAV header: {channels} channels at {rate} Hz")
            if frames / rate > max_seconds:
                raise MediaTooLargeError(f"WAV header claims {frames / rate:.1f} s, over the {max_seconds:.0f} s limit")
            raw = wav.readframes(frames)
    except (wave.Error, EOFError) as exc:
        raise CorruptMediaError(f"not a PCM WAV: {exc}") from exc
    expected = frames * channels * width
    if len(raw) != expected:
        raise CorruptMediaError(f"WAV header claims {expected} data bytes but the object holds {len(raw)}")
    if frames == 0:
        raise CorruptMediaError("WAV holds no samples")
    pcm = np.frombuffer(raw, dtype="<i2").reshape(-1, channels).astype(np.float32) / 32768.0
    return Pcm(samples=pcm.mean(axis=1) if channels > 1 else pcm[:, 0].copy(), sample_rate=rate)


def resample(pcm: Pcm, rate: int) -> Pcm:
    """Linear resampling: chunks normally arrive at 16 kHz already, this covers odd cameras."""
    if pcm.sample_rate == rate:
        return pcm
    n_out = round(len(pcm.samples) * rate / pcm.sample_rate)
    t_out = np.arange(n_out, dtype=np.float64) * (pcm.sample_rate / rate)
    samples = np.interp(t_out, np.arange(len(pcm.samples)), pcm.samples).astype(np.float32)
    return Pcm(samples=samples, sample_rate=rate)
