"""A sample alert for the notification tests (fixed times unless given)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from notify.alert import Alert
from notify.service import made_up_alert

#: A Wednesday, 12:00 UTC (13:00 in Zurich).
NOON = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)


def sample_alert(**changes: Any) -> Alert:
    """An open HIGH fall on camera cam-1 at NOON, with ``changes`` applied."""
    base = replace(
        made_up_alert(NOON),
        anomaly_id="6f1c1c3e-4a4b-4b7e-9f57-2d6f7c1a0b11",
        camera_id="cam-1",
        score=0.8,
        reasons=("torso horizontal",),
        incident_start=NOON,
    )
    return replace(base, **changes)
