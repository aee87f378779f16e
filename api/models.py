"""Response bodies (the OpenAPI schema) and the conversions into them from rows and events."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from schemas.records import AnomalyEvent


class SignedObject(BaseModel):
    """An evidence object with a short-lived presigned GET URL."""

    bucket: str
    key: str
    sha256: str
    size_bytes: int
    content_type: str
    url: str
    expires_at: datetime


class EvidenceOut(BaseModel):
    frames: list[SignedObject] = Field(default_factory=list)
    best_frame: SignedObject | None = None
    audio: list[SignedObject] = Field(default_factory=list)
    transcript_excerpt: str | None = None
    caption: str | None = None


class LineageOut(BaseModel):
    event_id: str
    modality: str
    topic: str
    partition: int
    offset: int
    model_name: str
    model_version: str


class AckOut(BaseModel):
    acked_by: str
    note: str
    acked_at: datetime


class AnomalySummary(BaseModel):
    anomaly_id: str
    camera_id: str
    revision: int
    state: str
    incident_start: datetime
    incident_end: datetime
    severity: str
    kinds: list[str]
    score: float
    reasons: list[str]
    transcript: str | None = None
    caption: str | None = None
    rules_version: str
    fusion_version: str
    decided_at: datetime
    best_frame_url: str | None = Field(None, description="Presigned URL of the most telling frame, short-lived.")


class AnomalyDetail(AnomalySummary):
    evidence: EvidenceOut
    lineage: list[LineageOut]
    acknowledgements: list[AckOut] = Field(default_factory=list)


class AnomalyPage(BaseModel):
    items: list[AnomalySummary]
    next_cursor: str | None = Field(None, description="Pass as ?cursor= to get the next page; null on the last page.")


class LiveMessage(BaseModel):
    """What the WebSocket sends: anomalies (new and updated revisions) and heartbeats."""

    type: Literal["anomaly", "heartbeat", "hello"]
    anomaly: AnomalySummary | None = None
    ts: datetime | None = None


class Camera(BaseModel):
    id: str
    name: str | None = None
    source_kind: str | None = None
    source: str | None = Field(None, description="Capture source (credentials redacted); shown to admins only.")
    location: str | None = None
    created_at: datetime | None = None
    last_started_at: datetime | None = None
    last_anomaly_at: datetime | None = None


class CameraList(BaseModel):
    items: list[Camera]


class AckIn(BaseModel):
    note: str = Field("", max_length=2000)


class ApiKeyIn(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    role: Literal["viewer", "operator", "admin"] = "viewer"
    cameras: list[str] | None = Field(None, description="Cameras this key may read; null for all.")
    expires_days: float | None = Field(None, gt=0, le=3650)


class ApiKeyOut(BaseModel):
    id: str
    name: str
    role: str
    cameras: list[str] | None
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None


class ApiKeyCreated(ApiKeyOut):
    key: str = Field(description="The secret; shown once and never stored.")


class Readiness(BaseModel):
    status: Literal["ready", "unavailable"]
    checks: dict[str, str]
    failed: list[str] = Field(default_factory=list)


def summary_from_row(row: dict[str, Any], best_frame_url: str | None) -> AnomalySummary:
    fields = {name: row.get(name) for name in AnomalySummary.model_fields} | {
        "anomaly_id": str(row["anomaly_id"]),
        "kinds": list(row.get("kinds") or []),
        "reasons": _reasons(row.get("reasons")),
        "score": float(row["score"]),
        "best_frame_url": best_frame_url,
    }
    return AnomalySummary.model_validate(fields)


def _reasons(value: object) -> list[str]:
    if value is None:
        return []
    if isinstance(value, list):
        return [str(v) for v in value]
    return [str(value)]


def summary_from_event(event: AnomalyEvent, best_frame_url: str | None) -> AnomalySummary:
    return AnomalySummary(
        anomaly_id=event.anomaly_id,
        camera_id=event.camera_id,
        revision=event.revision,
        state=event.state.value,
        incident_start=event.incident_start,
        incident_end=event.incident_end,
        severity=event.severity.value,
        kinds=[k.value for k in event.kinds],
        score=event.score,
        reasons=list(event.reasons),
        transcript=event.evidence.transcript_excerpt,
        caption=event.evidence.caption,
        rules_version=event.rules_version,
        fusion_version=event.fusion_version,
        decided_at=event.decided_at,
        best_frame_url=best_frame_url,
    )
