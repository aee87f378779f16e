"""``/v1/cameras``: the cameras a caller may see, and one camera's anomalies."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path

from api import queries
from api.auth import Role
from api.deps import Svc, Viewer
from api.errors import AUTHENTICATED, error_responses
from api.models import CAMERA_ID, AnomalyPage, Camera, CameraList
from api.routes_anomalies import ListParams, anomaly_page

router = APIRouter(prefix="/v1/cameras", tags=["cameras"], responses=error_responses(*AUTHENTICATED))

CameraId = Annotated[str, Path(min_length=1, max_length=64, pattern=CAMERA_ID)]


@router.get("", response_model=CameraList, summary="Cameras this caller may read")
async def list_cameras(principal: Viewer, svc: Svc) -> CameraList:
    async with svc.db.connection() as conn:
        rows = await queries.list_cameras(conn, principal.cameras)
    show_source = principal.has_role(Role.ADMIN)  # internal stream addresses are not for every viewer
    return CameraList(items=[Camera.model_validate(r if show_source else r | {"source": None}) for r in rows])


@router.get("/{camera_id}/anomalies", response_model=AnomalyPage, summary="One camera's anomalies, newest first")
async def camera_anomalies(
    principal: Viewer, svc: Svc, camera_id: CameraId, params: Annotated[ListParams, Depends()]
) -> AnomalyPage:
    principal.require_camera(camera_id)
    return await anomaly_page(svc, principal, params, [camera_id])
