"""The camera registry: many cameras declared in one YAML, and their rows in Postgres.

```yaml
defaults:            # optional, applied to every camera
  realtime: true
cameras:
  - id: lobby
    name: Lobby entrance
    source: rtsp://user:secret@10.0.0.7/stream1
    location: building A, ground floor
  - id: demo-fall
    source: samples/fall.mp4
    loop: true
```

Stream credentials never reach the database: ``redact_source`` masks the password of a URL.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import yaml

from anomaly_core.db import connect
from anomaly_core.errors import ValidationError
from producers.keys import validate_camera_id
from schemas.records import SourceKind

_OPTION_KEYS = {"realtime", "loop", "audio", "max_frames", "start", "end", "rate", "skip"}


class CameraConfigError(ValidationError):
    """The cameras file cannot be used (with the camera and field at fault)."""


@dataclass(frozen=True)
class CameraConfig:
    camera_id: str
    name: str
    source: str
    location: str = ""
    realtime: bool = True
    loop: bool = False
    audio: bool = True
    max_frames: int | None = None
    start: float | None = None
    end: float | None = None
    rate: float | None = None  # overrides FRAME_PROCESSING_RATE for this camera
    skip: int | None = None  # overrides FRAME_SKIP_RATE for this camera


def _camera(entry: Any, defaults: dict[str, Any], index: int) -> CameraConfig:
    if not isinstance(entry, dict):
        raise CameraConfigError(f"cameras[{index}] must be a mapping")
    merged = {**defaults, **entry}
    camera_id = str(merged.pop("id", "") or "")
    where = f"cameras[{index}] ({camera_id or 'no id'})"
    try:
        validate_camera_id(camera_id)
    except ValidationError as exc:
        raise CameraConfigError(f"{where}: {exc}") from exc
    source = merged.pop("source", None)
    if not source:
        raise CameraConfigError(f"{where}: 'source' is required")
    name = str(merged.pop("name", camera_id))
    location = str(merged.pop("location", ""))
    unknown = set(merged) - _OPTION_KEYS
    if unknown:
        raise CameraConfigError(f"{where}: unknown field(s) {sorted(unknown)}")
    try:
        return CameraConfig(camera_id, name, str(source), location, **merged)
    except TypeError as exc:
        raise CameraConfigError(f"{where}: {exc}") from exc


def parse_cameras(data: Any) -> list[CameraConfig]:
    """Validates the parsed YAML (pure): ids unique and key-safe, sources present, no unknown fields."""
    if not isinstance(data, dict) or not isinstance(data.get("cameras"), list) or not data["cameras"]:
        raise CameraConfigError("expected a mapping with a non-empty 'cameras' list")
    defaults = data.get("defaults") or {}
    if not isinstance(defaults, dict):
        raise CameraConfigError("'defaults' must be a mapping")
    cameras = [_camera(entry, defaults, i) for i, entry in enumerate(data["cameras"])]
    seen: set[str] = set()
    for cam in cameras:
        if cam.camera_id in seen:
            raise CameraConfigError(f"camera id {cam.camera_id!r} is declared twice")
        seen.add(cam.camera_id)
    return cameras


def load_cameras(path: Path) -> list[CameraConfig]:
    try:
        data = yaml.safe_load(path.read_text())
    except OSError as exc:
        raise CameraConfigError(f"cannot read {path}: {exc}") from exc
    except yaml.YAMLError as exc:
        raise CameraConfigError(f"{path} is not valid YAML: {exc}") from exc
    return parse_cameras(data)


def redact_source(source: str) -> str:
    """``rtsp://user:secret@host/x`` -> ``rtsp://user:***@host/x``; other sources unchanged."""
    if "://" not in source:
        return source
    parts = urlsplit(source)
    if parts.password is None:
        return source
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    netloc = f"{parts.username}:***@{host}" if parts.username else f"***@{host}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


_UPSERT = """
insert into cameras (camera_id, name, source, source_kind, location, last_started_at)
values (%(camera_id)s, %(name)s, %(source)s, %(source_kind)s, %(location)s, %(started)s)
on conflict (camera_id) do update set
    name = excluded.name, source = excluded.source, source_kind = excluded.source_kind,
    location = excluded.location, updated_at = now(), last_started_at = excluded.last_started_at
"""


def register_camera(dsn: str, camera: CameraConfig, kind: SourceKind, started: datetime | None = None) -> None:
    """Upserts the camera row (``created_at`` is kept from the first registration)."""
    with connect(dsn) as conn:
        conn.execute(
            _UPSERT,
            {
                "camera_id": camera.camera_id,
                "name": camera.name,
                "source": redact_source(camera.source),
                "source_kind": kind.value,
                "location": camera.location,
                "started": started or datetime.now(UTC),
            },
        )
        conn.commit()
