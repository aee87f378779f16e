"""The body size limit answers 413 for declared and for streamed bodies, before the handler runs."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
from fastapi import FastAPI, Request

from api import errors
from api.limits import BodySizeLimit


def make_app() -> tuple[FastAPI, list[int]]:
    seen: list[int] = []
    app = FastAPI()
    errors.install(app)

    @app.post("/echo")
    async def echo(request: Request) -> dict[str, int]:
        body = await request.body()
        seen.append(len(body))
        return {"n": len(body)}

    @app.post("/json")
    async def json_body(payload: dict[str, str]) -> dict[str, int]:
        seen.append(len(payload))
        return {"n": len(payload)}

    app.add_middleware(BodySizeLimit, max_bytes=100)
    return app, seen


async def _post(app: FastAPI, path: str, **kw: object) -> httpx.Response:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        return await client.post(path, **kw)  # type: ignore[arg-type]


def test_small_body_passes() -> None:
    app, seen = make_app()
    response = asyncio.run(_post(app, "/echo", content=b"x" * 100))
    assert response.status_code == 200 and seen == [100]


def test_declared_oversize_is_refused_without_calling_the_handler() -> None:
    app, seen = make_app()
    response = asyncio.run(_post(app, "/echo", content=b"x" * 101))
    assert response.status_code == 413
    assert response.json() == {"error": "payload_too_large", "detail": "request body over 100 bytes"}
    assert seen == []


def test_streamed_oversize_is_cut_off() -> None:
    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(5):
            yield b"y" * 40

    app, seen = make_app()
    response = asyncio.run(_post(app, "/json", content=chunks(), headers={"content-type": "application/json"}))
    assert response.status_code == 413
    assert response.json()["error"] == "payload_too_large"
    assert seen == []
