"""Response bodies (the OpenAPI schema) and the conversions into them from rows and events."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from schemas.records import ActionKind, AnomalyAction, AnomalyEvent, Resolution

#: Text PostgreSQL can store: anything but the NUL character (the contract says so, so clients know).
TEXT = r"^[^\x00]*$"
#: A camera id as producers register it (``producers.keys``, the ``cameras`` table check).
CAMERA_ID = r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$"


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


class ErrorBody(BaseModel):
    """Every error answer: a stable code and a message safe to show."""

    error: str = Field(description="Stable code: unauthorized, forbidden, not_found, conflict, invalid_request, ...")
    detail: str = Field(description="What went wrong, in words.")


class _ActionBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    note: str | None = Field(
        None, min_length=1, max_length=2000, pattern=TEXT, description="Free text kept with the action."
    )
    action_id: uuid.UUID | None = Field(
        None,
        description="Idempotency key: the same action sent again under the same id returns the stored action (200) "
        "instead of acting twice; another action under a used id is a 409. Default: a new id.",
    )


class AcknowledgeIn(_ActionBody):
    """Someone is on it."""

    kind: Literal["ACKNOWLEDGE"]


class AssignIn(_ActionBody):
    """Hand the anomaly to someone."""

    kind: Literal["ASSIGN"]
    assignee: str = Field(min_length=1, max_length=200, pattern=TEXT)


class ResolveIn(_ActionBody):
    """Close the anomaly with the reason: a true alarm, a false alarm (exported for tuning) or a test."""

    kind: Literal["RESOLVE"]
    resolution: Resolution


class NoteIn(_ActionBody):
    """Add a note."""

    kind: Literal["NOTE"]
    note: str = Field(min_length=1, max_length=2000, pattern=TEXT)


ActionIn = Annotated[AcknowledgeIn | AssignIn | ResolveIn | NoteIn, Field(discriminator="kind")]


class ActionOut(BaseModel):
    action_id: str
    anomaly_id: str
    camera_id: str
    kind: ActionKind
    actor: str
    at: datetime
    assignee: str | None = None
    resolution: Resolution | None = None
    note: str | None = None

    @classmethod
    def from_record(cls, action: AnomalyAction) -> ActionOut:
        return cls.model_validate(action, from_attributes=True)

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> ActionOut:
        return cls.model_validate(row | {"action_id": str(row["action_id"]), "anomaly_id": str(row["anomaly_id"])})


class NotificationOut(BaseModel):
    """One decision of the notify worker about this anomaly for one target (docs/notifications.md)."""

    target: str
    channel: Literal["webhook", "email", "mqtt"]
    change: str = Field(description="opened, severity_up, new_kind, closed, escalated, acknowledged, ...")
    status: Literal["sent", "failed", "quiet", "rate_limited"]
    detail: str = Field(description="The receiver's answer, or why it failed or was held back.")
    revision: int
    attempts: int
    created_at: datetime


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
    origin: Literal["LIVE", "ANALYZE"] = Field("LIVE", description="LIVE cameras, or an `anomaly analyze` run.")
    run_id: str | None = Field(None, description="The `anomaly analyze` run of an ANALYZE anomaly.")
    # What operators did (from anomalies.actions.v1). Null in live `anomaly` messages, which carry the fusion's
    # decision only: operator actions arrive as `action` messages.
    status: Literal["NEW", "ACKNOWLEDGED", "RESOLVED"] | None = Field(None, description="Operator handling.")
    acknowledged_by: str | None = None
    acknowledged_at: datetime | None = None
    assignee: str | None = None
    resolution: Resolution | None = None


class AnomalyDetail(AnomalySummary):
    evidence: EvidenceOut
    lineage: list[LineageOut]
    resolved_by: str | None = None
    resolved_at: datetime | None = None
    notes: list[str] = Field(default_factory=list)
    actions: list[ActionOut] = Field(default_factory=list, description="Every operator action, oldest first.")
    notifications: list[NotificationOut] = Field(
        default_factory=list, description="Who was told (webhook, e-mail, MQTT), oldest first."
    )


class AnomalyPage(BaseModel):
    items: list[AnomalySummary]
    next_cursor: str | None = Field(None, description="Pass as ?cursor= to get the next page; null on the last page.")


class LiveMessage(BaseModel):
    """What the WebSocket sends: anomalies (new and updated revisions) and heartbeats."""

    type: Literal["anomaly", "action", "heartbeat", "hello"]
    anomaly: AnomalySummary | None = None
    action: ActionOut | None = None
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


class ApiKeyIn(BaseModel):
    name: str = Field(min_length=1, max_length=200, pattern=TEXT)
    role: Literal["viewer", "operator", "admin"] = "viewer"
    cameras: list[Annotated[str, Field(pattern=CAMERA_ID)]] | None = Field(
        None, description="Cameras this key may read; null for all."
    )
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
        origin=event.origin.value,
        run_id=event.run_id,
    )
