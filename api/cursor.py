"""Opaque keyset cursors for anomaly lists, ordered by ``(incident_start desc, anomaly_id desc)``.

A cursor names the last row of a page and a digest of the filters that produced it, so a cursor
replayed with other filters is refused instead of silently skipping rows. Pure functions, no IO.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class CursorError(ValueError):
    """The cursor is malformed or belongs to another query."""


@dataclass(frozen=True, slots=True)
class Position:
    """The sort key of the last row already returned."""

    incident_start: datetime
    anomaly_id: str


def filter_digest(parts: dict[str, object]) -> str:
    """A short stable digest of the filters (order of keys and of list items does not matter)."""
    canonical = {
        k: sorted(map(str, v)) if isinstance(v, list | tuple | set | frozenset) else v for k, v in parts.items()
    }
    blob = json.dumps(canonical, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()[:12]


def _micros(ts: datetime) -> int:
    if ts.tzinfo is None:
        raise CursorError("cursor timestamps must be timezone-aware")
    delta = ts - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def encode(position: Position, digest: str) -> str:
    payload = {"t": _micros(position.incident_start), "id": position.anomaly_id, "f": digest}
    raw = json.dumps(payload, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def decode(cursor: str, digest: str) -> Position:
    """The position in ``cursor``; raises ``CursorError`` if it is malformed or was made for other filters."""
    if len(cursor) > 256:
        raise CursorError("cursor is too long")
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        payload = json.loads(raw)
        micros = payload["t"]
        anomaly_id = str(uuid.UUID(payload["id"]))
        cursor_digest = payload["f"]
    except (binascii.Error, ValueError, KeyError, TypeError, UnicodeDecodeError) as exc:
        raise CursorError("cursor is not valid") from exc
    if not isinstance(micros, int) or isinstance(micros, bool):
        raise CursorError("cursor is not valid")
    if cursor_digest != digest:
        raise CursorError("cursor was issued for different filters; start again without it")
    try:
        ts = _EPOCH + timedelta(microseconds=micros)
    except OverflowError as exc:
        raise CursorError("cursor is not valid") from exc
    return Position(incident_start=ts, anomaly_id=anomaly_id)
