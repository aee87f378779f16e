"""Prometheus metrics of the API. Labels are route templates and status codes only, never raw paths,
keys, tokens or camera ids, so ``/metrics`` can be scraped without authentication."""

from __future__ import annotations

import time

from starlette.types import Message, Receive, Scope, Send

from anomaly_core.metrics import counter, gauge, histogram
from api.asgi import HttpMiddleware

REQUESTS = counter("anomaly_api_requests_total", "HTTP requests", ("method", "route", "status"))
LATENCY = histogram("anomaly_api_request_seconds", "HTTP request latency", ("route",))
AUTH_FAILURES = counter("anomaly_api_auth_failures_total", "Requests refused with 401 or 403", ("status",))
RATE_LIMITED = counter("anomaly_api_rate_limited_total", "Requests refused with 429")
WS_CLIENTS = gauge("anomaly_api_ws_clients", "Open live WebSocket connections")
WS_DROPPED = counter("anomaly_api_ws_dropped_total", "Live WebSocket clients dropped for being too slow")
LIVE_EVENTS = counter("anomaly_api_live_events_total", "Anomaly events fanned out to live clients")


def _route_template(scope: Scope) -> str:
    # The router records the matched route in the scope; its path is the template, e.g. /v1/anomalies/{anomaly_id}.
    route = scope.get("route")
    return str(getattr(route, "path", None) or "unmatched")


class RequestMetrics(HttpMiddleware):
    """ASGI middleware counting HTTP requests by route template."""

    async def http(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = time.perf_counter()
        status = 500

        async def recording_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, recording_send)
        finally:
            route = _route_template(scope)
            REQUESTS.labels(scope["method"], route, str(status)).inc()
            LATENCY.labels(route).observe(time.perf_counter() - started)
            if status in (401, 403):
                AUTH_FAILURES.labels(str(status)).inc()
            elif status == 429:
                RATE_LIMITED.inc()
