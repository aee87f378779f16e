"""``create_app(settings)``: the API process, assembled.

Reading order: services (pool, auth, limits, live hub) -> error handlers -> routes -> middleware.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from api import (
    errors,
    routes_actions,
    routes_anomalies,
    routes_cameras,
    routes_health,
    routes_keys,
    routes_ui,
    routes_ws,
)
from api.headers import NoSniff
from api.limits import BodySizeLimit
from api.metrics import RequestMetrics
from api.services import Services
from api.settings import AppSettings

DESCRIPTION = """
Anomalies detected on camera video and sound: query them, follow them live, fetch their evidence.

Authenticate with an API key (`Authorization: Bearer ak_...` or `X-API-Key: ak_...`) or an HS256 JWT
bearer token. Roles: **viewer** reads, **operator** also acts on anomalies (acknowledge, assign, resolve, note),
**admin** also manages keys. Every error answers `{"error": <code>, "detail": <message>}`.
"""


def create_app(settings: AppSettings) -> FastAPI:
    services = Services.build(settings)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await services.start()
        try:
            yield
        finally:
            await services.stop()

    app = FastAPI(
        title="Anomaly platform API",
        version="1.0.0",
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url="/docs",
        redoc_url=None,
    )
    app.state.services = services
    errors.install(app)

    for module in (routes_health, routes_anomalies, routes_actions, routes_cameras, routes_keys, routes_ws, routes_ui):
        app.include_router(module.router)
    app.mount("/static", routes_ui.static_files(), name="static")

    # Added innermost first: metrics see every answer, including CORS preflights and 413s.
    app.add_middleware(BodySizeLimit, max_bytes=settings.api.max_body_bytes)
    if settings.api.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.api.cors_origins,
            allow_methods=["GET", "POST", "DELETE"],
            allow_headers=["Authorization", "X-API-Key", "Content-Type"],
            allow_credentials=False,  # credentials travel in headers, never cookies
            max_age=600,
        )
    app.add_middleware(NoSniff)
    app.add_middleware(RequestMetrics)
    return app
