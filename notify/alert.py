"""What the worker knows of one alert between its events: the newest revision seen and what operators did."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from schemas.records import AnomalyEvent, AnomalyState, ObjectRef, Severity


@dataclass(frozen=True, slots=True)
class Alert:
    anomaly_id: str
    camera_id: str
    revision: int
    state: AnomalyState
    severity: Severity
    kinds: tuple[str, ...]
    score: float
    reasons: tuple[str, ...]
    incident_start: datetime
    incident_end: datetime
    caption: str | None = None
    transcript: str | None = None
    best_frame: ObjectRef | None = None
    acknowledged_by: str | None = None
    acknowledged_at: datetime | None = None
    resolution: str | None = None
    assignee: str | None = None
    origin: str = "LIVE"

    @property
    def handled(self) -> bool:
        """Someone took it: escalation stops."""
        return self.acknowledged_at is not None or self.resolution is not None

    @classmethod
    def of_event(cls, event: AnomalyEvent, previous: Alert | None = None) -> Alert:
        """The alert after ``event``; what operators did (``previous``) is kept."""
        evidence = event.evidence
        alert = cls(
            anomaly_id=event.anomaly_id,
            camera_id=event.camera_id,
            revision=event.revision,
            state=event.state,
            severity=event.severity,
            kinds=tuple(k.value for k in event.kinds),
            score=float(event.score),
            reasons=tuple(event.reasons),
            incident_start=event.incident_start,
            incident_end=event.incident_end,
            caption=evidence.caption,
            transcript=evidence.transcript_excerpt,
            best_frame=evidence.best_frame or (evidence.frames[0] if evidence.frames else None),
            origin=str(getattr(event, "origin", "LIVE")),
        )
        if previous is None:
            return alert
        return replace(
            alert,
            acknowledged_by=previous.acknowledged_by,
            acknowledged_at=previous.acknowledged_at,
            resolution=previous.resolution,
            assignee=previous.assignee,
        )
