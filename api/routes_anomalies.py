"""``/v1/anomalies``: filtered, cursor-paginated lists; one anomaly with evidence URLs and its operator actions."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query
from pydantic import BeforeValidator, Field

from api import cursor, queries
from api.auth import Principal
from api.deps import Svc, Viewer
from api.errors import AUTHENTICATED, error_responses, invalid, not_found
from api.models import (
    CAMERA_ID,
    TEXT,
    ActionOut,
    AnomalyDetail,
    AnomalyPage,
    LineageOut,
    NotificationOut,
    summary_from_row,
)
from api.presign import evidence_from_json
from api.queries import AnomalyFilter
from api.services import Services
from schemas.records import AnomalyKind, AnomalyState, Severity


def _not_a_number(value: object) -> object:
    # pydantic would read a number as a Unix time; the contract says ISO 8601, and a number is refused.
    if isinstance(value, str) and re.fullmatch(r"\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\s*", value):
        raise ValueError("expected an ISO 8601 date-time, e.g. 2025-03-01T12:00:00Z")
    return value


IsoTime = Annotated[datetime, BeforeValidator(_not_a_number)]
#: What ``api.cursor.encode`` writes (unpadded base64url); a cursor of this shape may still be refused (422).
CURSOR = r"^[A-Za-z0-9_-]*$"
CameraId = Annotated[str, Field(pattern=CAMERA_ID)]


class HandlingStatus(StrEnum):
    NEW = "NEW"
    ACKNOWLEDGED = "ACKNOWLEDGED"
    RESOLVED = "RESOLVED"


router = APIRouter(prefix="/v1", tags=["anomalies"], responses=error_responses(*AUTHENTICATED))


def _utc(ts: datetime | None) -> datetime | None:
    if ts is None:
        return None
    return ts.replace(tzinfo=UTC) if ts.tzinfo is None else ts  # a time without offset is read as UTC


class ListParams:
    """Query parameters shared by every anomaly list."""

    def __init__(
        self,
        *,
        since: Annotated[IsoTime | None, Query(description="Incidents starting at or after (ISO 8601).")] = None,
        until: Annotated[
            IsoTime | None, Query(description="Incidents starting before (ISO 8601); not after `since`: no rows.")
        ] = None,
        severity: Annotated[list[Severity] | None, Query(description="Any of these severities.")] = None,
        min_severity: Annotated[Severity | None, Query(description="This severity or higher.")] = None,
        kind: Annotated[list[AnomalyKind] | None, Query(description="Having any of these kinds.")] = None,
        state: Annotated[list[AnomalyState] | None, Query(description="Any of these states.")] = None,
        status: Annotated[list[HandlingStatus] | None, Query(description="Any of these operator statuses.")] = None,
        rules_version: Annotated[str | None, Query(max_length=100, pattern=TEXT)] = None,
        limit: Annotated[int, Query(ge=1, le=500)] = 50,
        cursor: Annotated[
            str | None, Query(max_length=256, pattern=CURSOR, description="next_cursor of the previous page.")
        ] = None,
    ) -> None:
        self.since = _utc(since)
        self.until = _utc(until)
        self.severities = frozenset(s.value for s in severity) if severity else None
        if min_severity is not None:
            at_least = frozenset(queries.severities_at_least(min_severity.value))
            self.severities = at_least if self.severities is None else self.severities & at_least
        self.kinds = frozenset(k.value for k in kind) if kind else None
        self.states = frozenset(s.value for s in state) if state else None
        self.statuses = frozenset(s.value for s in status) if status else None
        self.rules_version = rules_version
        self.limit = limit
        self.cursor = cursor

    def digest(self, cameras: list[str] | None) -> str:
        return cursor.filter_digest(
            {
                "cameras": cameras or [],
                "since": self.since.isoformat() if self.since else None,
                "until": self.until.isoformat() if self.until else None,
                "severities": sorted(self.severities or []),
                "kinds": sorted(self.kinds or []),
                "states": sorted(self.states or []),
                "statuses": sorted(self.statuses or []),
                "rules_version": self.rules_version,
            }
        )


async def anomaly_page(
    svc: Services, principal: Principal, params: ListParams, cameras: list[str] | None
) -> AnomalyPage:
    """A page of anomalies the caller may see (used by both list endpoints)."""
    visible = principal.visible(cameras)
    digest = params.digest(cameras)
    try:
        after = cursor.decode(params.cursor, digest) if params.cursor else None
    except cursor.CursorError as exc:
        raise invalid(f"query.cursor: {exc}") from exc
    flt = AnomalyFilter(
        cameras=visible,
        since=params.since,
        until=params.until,
        severities=params.severities,
        kinds=params.kinds,
        rules_version=params.rules_version,
        states=params.states,
        statuses=params.statuses,
    )
    async with svc.db.connection() as conn:
        rows, last = await queries.list_anomalies(conn, flt, after, params.limit)
    return AnomalyPage(
        items=[summary_from_row(r, svc.signer.best_frame_url(r.get("best_frame"))) for r in rows],
        next_cursor=cursor.encode(last, digest) if last else None,
    )


@router.get("/anomalies", response_model=AnomalyPage, summary="List anomalies, newest first")
async def list_anomalies(
    principal: Viewer,
    svc: Svc,
    params: Annotated[ListParams, Depends()],
    camera: Annotated[list[CameraId] | None, Query(description="Any of these cameras.", max_length=100)] = None,
) -> AnomalyPage:
    return await anomaly_page(svc, principal, params, camera)


async def visible_row(svc: Services, principal: Principal, anomaly_id: uuid.UUID) -> dict[str, Any]:
    async with svc.db.connection() as conn:
        row = await queries.get_anomaly(conn, str(anomaly_id))
    if row is None:
        raise not_found(f"anomaly {anomaly_id} not found")
    principal.require_camera(str(row["camera_id"]))
    return row


@router.get(
    "/anomalies/{anomaly_id}",
    response_model=AnomalyDetail,
    responses=error_responses(404),
    summary="One anomaly with evidence",
)
async def get_anomaly(principal: Viewer, svc: Svc, anomaly_id: Annotated[uuid.UUID, Path()]) -> AnomalyDetail:
    row = await visible_row(svc, principal, anomaly_id)
    async with svc.db.connection() as conn:
        actions = await queries.list_actions(conn, str(anomaly_id))
        notifications = await queries.list_notifications(conn, str(anomaly_id))
    summary = summary_from_row(row, svc.signer.best_frame_url(row.get("best_frame")))
    lineage = row.get("lineage") or []
    return AnomalyDetail(
        **summary.model_dump(),
        evidence=svc.signer.evidence(evidence_from_json(row.get("evidence"))),
        lineage=[_lineage(entry) for entry in lineage if isinstance(entry, dict)],
        resolved_by=row.get("resolved_by"),
        resolved_at=row.get("resolved_at"),
        notes=list(row.get("notes") or []),
        actions=[ActionOut.from_row(a) for a in actions],
        notifications=[NotificationOut.model_validate(n) for n in notifications],
    )


def _lineage(entry: dict[str, object]) -> LineageOut:
    model = entry.get("model")
    model = model if isinstance(model, dict) else {}
    return LineageOut(
        event_id=str(entry.get("event_id", "")),
        modality=str(entry.get("modality", "")),
        topic=str(entry.get("topic", "")),
        partition=int(str(entry.get("partition", -1))),
        offset=int(str(entry.get("offset", -1))),
        model_name=str(model.get("name", "")),
        model_version=str(model.get("version", "")),
    )
