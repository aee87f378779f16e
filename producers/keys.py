"""Object keys and camera ids: pure functions, no IO.

Keys are content-addressed (the sha256 of the bytes), so a retried upload rewrites the same object instead of
leaving a duplicate, and a consumer can verify what it reads. The date part uses the capture day in UTC, which
lets retention and humans browse a camera's media by day.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from anomaly_core.errors import ValidationError

# A camera id becomes a path segment of every object key and the Kafka record key: letters, digits, '-', '_', '.'
# only, never starting with a dot (no hidden or relative segments), at most 64 characters.
_CAMERA_ID = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}")
_SHA256 = re.compile(r"[0-9a-f]{64}")


class InvalidCameraIdError(ValidationError):
    """The camera id cannot be used as a key segment."""


def validate_camera_id(camera_id: str) -> str:
    """Returns ``camera_id`` unchanged or raises ``InvalidCameraIdError`` saying why it is unusable."""
    if not camera_id:
        raise InvalidCameraIdError("camera id is empty")
    if "/" in camera_id or "\\" in camera_id:
        raise InvalidCameraIdError(f"camera id {camera_id!r} contains a path separator")
    if ".." in camera_id:
        raise InvalidCameraIdError(f"camera id {camera_id!r} contains '..'")
    if not _CAMERA_ID.fullmatch(camera_id):
        raise InvalidCameraIdError(
            f"camera id {camera_id!r} must be 1-64 characters of letters, digits, '-', '_' or '.'"
            " and must not start with '.' or '-'"
        )
    return camera_id


def _day_path(at: datetime) -> str:
    if at.tzinfo is None:
        raise ValueError("timestamps must be timezone-aware")
    day = at.astimezone(UTC)
    return f"{day.year:04d}/{day.month:02d}/{day.day:02d}"


def _check_digest(sha256: str) -> str:
    if not _SHA256.fullmatch(sha256):
        raise ValueError(f"not a lowercase hex sha256: {sha256!r}")
    return sha256


def frame_key(camera_id: str, captured_at: datetime, sha256: str) -> str:
    """``frames/<camera>/<yyyy>/<mm>/<dd>/<sha256>.jpg``"""
    return f"frames/{validate_camera_id(camera_id)}/{_day_path(captured_at)}/{_check_digest(sha256)}.jpg"


def audio_key(camera_id: str, start_at: datetime, sha256: str, extension: str = "wav") -> str:
    """``audio/<camera>/<yyyy>/<mm>/<dd>/<sha256>.<wav|flac>``"""
    if extension not in {"wav", "flac"}:
        raise ValueError(f"unsupported audio extension {extension!r}")
    return f"audio/{validate_camera_id(camera_id)}/{_day_path(start_at)}/{_check_digest(sha256)}.{extension}"
