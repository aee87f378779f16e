"""``WS /v1/ws/anomalies``: live anomaly events (new and updated revisions) for one client.

Credentials come from ``?token=``, a ``bearer.<token>`` subprotocol (what browsers can send), or a first
message ``{"type": "auth", "token": ...}``. Problems close the socket after the handshake so the
client sees a close code: 1008 for credentials, camera scope or a too slow reader, 1013 when the key
already holds MAX_CONCURRENT_CONNECTIONS sockets.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from datetime import UTC, datetime

from fastapi import APIRouter, WebSocket, WebSocketDisconnect

from api.auth import Principal
from api.errors import ApiError
from api.fanout import Subscriber
from api.metrics import WS_CLIENTS, WS_DROPPED
from api.models import LiveMessage
from api.queries import SEVERITY_ORDER
from api.services import Services

router = APIRouter(tags=["live"])

SUBPROTOCOL = "anomaly.v1"
TOKEN_SUBPROTOCOL_PREFIX = "bearer."  # noqa: S105 - a prefix, not a secret
POLICY_VIOLATION = 1008
TRY_AGAIN_LATER = 1013


class RefusedError(Exception):
    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason[:120]  # a close reason must fit in a control frame


def token_from_subprotocols(offered: list[str]) -> str | None:
    for proto in offered:
        if proto.startswith(TOKEN_SUBPROTOCOL_PREFIX):
            return proto[len(TOKEN_SUBPROTOCOL_PREFIX) :]
    return None


def _text(message: LiveMessage) -> str:
    return message.model_dump_json(exclude_none=True)


async def _first_message_token(ws: WebSocket, timeout_s: float) -> str | None:
    try:
        raw = await asyncio.wait_for(ws.receive_text(), timeout_s)
    except (TimeoutError, WebSocketDisconnect, KeyError, RuntimeError):
        return None
    try:
        data = json.loads(raw)
    except ValueError:
        return None
    if isinstance(data, dict) and data.get("type") == "auth" and isinstance(data.get("token"), str):
        return str(data["token"])
    return None


async def _authenticate(ws: WebSocket, svc: Services) -> Principal:
    token = ws.query_params.get("token") or token_from_subprotocols(list(ws.scope.get("subprotocols", [])))
    if not token:
        token = await _first_message_token(ws, svc.settings.api.ws_auth_timeout_seconds)
    try:
        return await svc.auth.authenticate(token)
    except ApiError as exc:
        code = TRY_AGAIN_LATER if exc.status >= 500 else POLICY_VIOLATION  # an outage is not the client's fault
        raise RefusedError(code, exc.detail) from exc


def _scope(ws: WebSocket, principal: Principal) -> tuple[frozenset[str] | None, int]:
    requested = ws.query_params.getlist("camera")
    try:
        cameras = principal.visible(requested or None)
    except ApiError as exc:
        raise RefusedError(POLICY_VIOLATION, exc.detail) from exc
    minimum = ws.query_params.get("min_severity")
    if minimum is not None and minimum not in SEVERITY_ORDER:
        raise RefusedError(POLICY_VIOLATION, f"min_severity must be one of {', '.join(SEVERITY_ORDER)}")
    return cameras, SEVERITY_ORDER.index(minimum) if minimum else 0


async def _close(ws: WebSocket, code: int, reason: str) -> None:
    # A stalled reader can block even the close frame; give up after a second.
    with contextlib.suppress(Exception):
        await asyncio.wait_for(ws.close(code, reason), 1.0)


async def _send_loop(ws: WebSocket, subscriber: Subscriber) -> None:
    # A plain ``await get()`` (no timeout wrapper) resumes on the loop iteration right after a publish and
    # then drains the queue without yielding while the socket is writable: bursts reach fast readers whole.
    while True:
        await ws.send_text(await subscriber.queue.get())


async def _heartbeat_loop(subscriber: Subscriber, every_s: float) -> None:
    """Queues a heartbeat whenever the socket had nothing to send for ``every_s``."""
    while True:
        await asyncio.sleep(every_s)
        if subscriber.queue.empty():
            subscriber.queue.put_nowait(_text(LiveMessage(type="heartbeat", ts=datetime.now(UTC))))


async def _receive_loop(ws: WebSocket) -> None:
    """Returns when the client goes away; what clients send after authenticating is ignored."""
    while True:
        message = await ws.receive()
        if message["type"] == "websocket.disconnect":
            return


async def _serve(ws: WebSocket, svc: Services, subscriber: Subscriber) -> None:
    try:
        await ws.send_text(_text(LiveMessage(type="hello", ts=datetime.now(UTC))))
    except (WebSocketDisconnect, OSError, RuntimeError):
        return
    overflow = asyncio.create_task(subscriber.overflowed.wait())
    tasks: set[asyncio.Task[object]] = {
        asyncio.create_task(_send_loop(ws, subscriber)),
        asyncio.create_task(_heartbeat_loop(subscriber, svc.settings.api.ws_heartbeat_seconds)),
        asyncio.create_task(_receive_loop(ws)),
        overflow,
    }
    try:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    if overflow in done:
        WS_DROPPED.inc()
        await _close(ws, POLICY_VIOLATION, "client too slow: live queue overflowed")


@router.websocket("/v1/ws/anomalies")
async def live_anomalies(ws: WebSocket) -> None:
    svc: Services = ws.app.state.services
    offered = list(ws.scope.get("subprotocols", []))
    await ws.accept(subprotocol=SUBPROTOCOL if SUBPROTOCOL in offered else None)
    try:
        principal = await _authenticate(ws, svc)
        cameras, min_rank = _scope(ws, principal)
        if not svc.connections.acquire(principal.subject):
            limit = svc.settings.api.max_concurrent_connections
            raise RefusedError(TRY_AGAIN_LATER, f"this key already has {limit} live connections")
    except RefusedError as refused:
        await _close(ws, refused.code, refused.reason)
        return
    subscriber = svc.hub.subscribe(cameras, min_rank)
    WS_CLIENTS.inc()
    try:
        await _serve(ws, svc, subscriber)
    finally:
        svc.hub.unsubscribe(subscriber)
        svc.connections.release(principal.subject)
        WS_CLIENTS.dec()
