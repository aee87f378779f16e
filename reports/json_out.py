"""``report.json``: the report as plain JSON (ISO-8601 times, enum symbols, no embedded images)."""

from __future__ import annotations

import dataclasses
import json
from datetime import datetime
from enum import Enum
from pathlib import Path
from typing import Any

from reports.model import Report

REPORT_FORMAT_VERSION = 1
#: Fields that hold bytes for the HTML renderer; JSON readers get object references instead.
_OMITTED = {"thumbnails"}


def report_to_json(report: Report) -> dict[str, Any]:
    top = report.max_severity
    body = _plain(report)
    body["format_version"] = REPORT_FORMAT_VERSION
    body["max_severity"] = top.value if top else None
    body["anomaly_count"] = len(report.anomalies)
    return body


def write_json(report: Report, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report_to_json(report), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return path


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value) if f.name not in _OMITTED}
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    return value
