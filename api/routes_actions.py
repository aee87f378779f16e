"""``POST /v1/anomalies/{anomaly_id}/actions``: acknowledge, assign, resolve or annotate an anomaly (operator).

A command: the rules (``api.actions``) decide on the projected row, the event goes to anomalies.actions.v1 and
the brokers acknowledge it, then the projection applies it (the sink and a rebuild apply the same event again
without effect), and the WebSocket pushes it to every client.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path
from fastapi.responses import JSONResponse

from anomaly_core import operator_actions
from api import queries
from api.actions import ActionRequest, check_allowed, conflict, new_action, same_command
from api.deps import Operator, Svc
from api.errors import error_responses
from api.models import ActionIn, ActionOut, AssignIn, ResolveIn
from api.routes_anomalies import visible_row
from schemas.records import ActionKind

router = APIRouter(prefix="/v1", tags=["actions"])
_REPLAYED: dict[int | str, dict[str, Any]] = {
    200: {"model": ActionOut, "description": "The same action again (same action_id): nothing done"}
}


@router.post(
    "/anomalies/{anomaly_id}/actions",
    response_model=ActionOut,
    status_code=201,
    responses=_REPLAYED | error_responses(400, 401, 403, 404, 409, 413, 422, 429, 503),
    summary="Act on an anomaly: acknowledge, assign, resolve (with a reason) or add a note (operator)",
)
async def act(principal: Operator, svc: Svc, anomaly_id: Annotated[uuid.UUID, Path()], body: ActionIn) -> JSONResponse:
    row = await visible_row(svc, principal, anomaly_id)
    request = ActionRequest(
        kind=ActionKind(body.kind),
        note=body.note,
        assignee=body.assignee if isinstance(body, AssignIn) else None,
        resolution=body.resolution if isinstance(body, ResolveIn) else None,
        action_id=str(body.action_id) if body.action_id else None,
    )
    action = new_action(
        request,
        anomaly_id=str(anomaly_id),
        camera_id=str(row["camera_id"]),
        actor=principal.subject,
        at=datetime.now(UTC),
    )
    if request.action_id is not None:
        async with svc.db.connection() as conn:
            stored = await queries.get_action(conn, request.action_id)
        if stored is not None:
            if not same_command(stored, action):
                raise conflict(f"action_id {request.action_id} was already used for another action")
            return _answer(ActionOut.from_row(stored), 200)
    check_allowed(str(row["status"]), row.get("resolution"), action.kind)
    await asyncio.to_thread(svc.actions.publish, action)
    async with svc.db.connection() as conn:
        await operator_actions.apply_one(conn, action)
    return _answer(ActionOut.from_record(action), 201)


def _answer(action: ActionOut, status: int) -> JSONResponse:
    return JSONResponse(action.model_dump(mode="json"), status_code=status)
