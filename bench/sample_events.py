"""Well-formed AnomalyEvents for the benchmark, the API tests and demos (ids are fresh uuids)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from schemas.records import (
    AnomalyEvent,
    AnomalyKind,
    AnomalyState,
    Evidence,
    LineageEntry,
    ModelInfo,
    ObjectRef,
    Severity,
)


def anomaly_event(
    camera_id: str,
    severity: str = "HIGH",
    *,
    kinds: tuple[AnomalyKind, ...] = (AnomalyKind.FALL, AnomalyKind.DISTRESS_SPEECH),
    best_frame: ObjectRef | None = None,
    transcript: str | None = "help, somebody help me",
    caption: str | None = "a person lying on the floor next to a chair",
    start: datetime | None = None,
    rules_version: str = "rules-1",
) -> AnomalyEvent:
    start = start or datetime.now(UTC)
    frames = [best_frame] if best_frame else []
    return AnomalyEvent(
        anomaly_id=str(uuid.uuid4()),
        camera_id=camera_id,
        revision=1,
        state=AnomalyState.OPEN,
        incident_start=start,
        incident_end=start + timedelta(seconds=3),
        window_start=start,
        window_end=start + timedelta(seconds=4),
        severity=Severity(severity),
        kinds=list(kinds),
        score=0.87,
        reasons=["torso horizontal for 2.4 s after a fast drop", "speech matched 'help'"],
        evidence=Evidence(
            frames=frames, best_frame=best_frame, audio=[], transcript_excerpt=transcript, caption=caption
        ),
        lineage=[
            LineageEntry(str(uuid.uuid4()), "pose", "scores.pose.v1", 0, 42, ModelInfo("mediapipe-pose", "0.10.21")),
        ],
        rules_version=rules_version,
        fusion_version="1.0.0",
        decided_at=start + timedelta(seconds=4),
    )
