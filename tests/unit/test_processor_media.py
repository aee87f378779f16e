"""Untrusted frames: decompression bombs, truncation, zero-size and garbage are refused before decoding."""

from __future__ import annotations

import io
import struct

import numpy as np
import pytest
from PIL import Image

from processors.media import CorruptMediaError, MediaTooLargeError, decode_image, image_size

LIMIT = 16_777_216


def _jpeg(w: int = 64, h: int = 48) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.full((h, w, 3), 120, np.uint8)).save(buf, format="JPEG")
    return buf.getvalue()


def _with_sof_size(jpeg: bytes, w: int, h: int) -> bytes:
    """The same JPEG with its SOF0 header claiming w x h (what a decompression bomb looks like)."""
    i = jpeg.index(b"\xff\xc0")
    return jpeg[: i + 5] + struct.pack(">HH", h, w) + jpeg[i + 9 :]


def test_decodes_rgb() -> None:
    rgb = decode_image(_jpeg(), max_pixels=LIMIT)
    assert rgb.shape == (48, 64, 3) and rgb.dtype == np.uint8
    assert image_size(_jpeg()) == (64, 48, "JPEG")


def test_50k_by_50k_header_is_refused_without_decoding() -> None:
    with pytest.raises(MediaTooLargeError):
        decode_image(_with_sof_size(_jpeg(), 50_000, 50_000), max_pixels=LIMIT)


def test_header_over_the_configured_limit() -> None:
    with pytest.raises(MediaTooLargeError, match="exceeds"):
        decode_image(_with_sof_size(_jpeg(), 5000, 4000), max_pixels=LIMIT)


def test_zero_size_header() -> None:
    with pytest.raises((CorruptMediaError, MediaTooLargeError)):
        decode_image(_with_sof_size(_jpeg(), 0, 48), max_pixels=LIMIT)


def test_truncated_jpeg() -> None:
    with pytest.raises(CorruptMediaError, match="truncated"):
        decode_image(_jpeg(320, 240)[:-300], max_pixels=LIMIT)


@pytest.mark.parametrize("data", [b"", b"\xff\xd8\xff", b"GIF89a" + b"\x00" * 50, b"garbage" * 100])
def test_garbage_and_empty(data: bytes) -> None:
    with pytest.raises(CorruptMediaError):
        decode_image(data, max_pixels=LIMIT)


def test_corrupt_scan_data() -> None:
    jpeg = bytearray(_jpeg(320, 240))
    sos = jpeg.index(b"\xff\xda")
    jpeg[sos + 20 : sos + 400] = b"\xff\x00\xd0" * 126 + b"\xff\x00"  # restart markers where none belong
    try:
        rgb = decode_image(bytes(jpeg), max_pixels=LIMIT)
    except CorruptMediaError:
        return
    assert rgb.shape == (240, 320, 3)  # libjpeg may recover; either way nothing crashes


def test_png_is_accepted() -> None:
    buf = io.BytesIO()
    Image.fromarray(np.zeros((10, 20, 3), np.uint8)).save(buf, format="PNG")
    assert decode_image(buf.getvalue(), max_pixels=LIMIT).shape == (10, 20, 3)
