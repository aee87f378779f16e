"""``/healthz`` (the process answers), ``/readyz`` (its dependencies answer) and ``/metrics``."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest

from api.deps import Svc
from api.models import Readiness
from api.services import Services

router = APIRouter(tags=["health"])
logger = logging.getLogger(__name__)


@router.get("/healthz", summary="Liveness: the process is serving")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


async def _check(name: str, probe: Awaitable[object], timeout_s: float) -> tuple[str, str]:
    try:
        await asyncio.wait_for(probe, timeout_s)
    except Exception as exc:
        # The reason is logged, not returned: driver messages can name hosts and users.
        logger.warning("readiness: %s unreachable: %s", name, type(exc).__name__)
        return name, "unreachable"
    return name, "ok"


async def readiness(svc: Services) -> Readiness:
    timeout = svc.settings.api.db_timeout_seconds
    results = await asyncio.gather(
        _check("kafka", asyncio.to_thread(svc.kafka_ping, timeout), timeout + 1),
        _check("postgres", svc.db.ping(), timeout + 1),
        _check("object_store", asyncio.to_thread(svc.store.ping), timeout + 1),
    )
    checks = dict(results)
    failed = sorted(name for name, state in checks.items() if state != "ok")
    return Readiness(status="unavailable" if failed else "ready", checks=checks, failed=failed)


@router.get(
    "/readyz",
    response_model=Readiness,
    responses={503: {"model": Readiness, "description": "A dependency is unreachable"}},
    summary="Readiness: Kafka, PostgreSQL and the object store answer",
)
async def readyz(svc: Svc) -> JSONResponse:
    result = await readiness(svc)
    return JSONResponse(result.model_dump(), status_code=503 if result.failed else 200)


@router.get("/metrics", summary="Prometheus metrics", response_class=Response)
async def metrics() -> Response:
    return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)
