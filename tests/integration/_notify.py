"""Helpers of the notification tests: a real HTTP receiver that checks signatures, anomaly events and actions."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from bench.sample_events import anomaly_event
from schemas.records import (
    ActionKind,
    AnomalyAction,
    AnomalyEvent,
    AnomalyKind,
    AnomalyState,
    Severity,
)


@dataclass
class Hook:
    """What the receiver got: one entry per request, with whether its signature matched."""

    secret: bytes
    #: path -> status codes to answer in turn (the last one repeats); "slow" paths do not answer in time.
    script: dict[str, list[int]] = field(default_factory=dict)
    slow_s: float = 0.0
    requests: list[dict[str, Any]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    url: str = ""

    def received(self, path: str) -> list[dict[str, Any]]:
        with self.lock:
            return [r for r in self.requests if r["path"] == path]

    def keys(self, path: str, status: int = 200) -> list[str]:
        return [r["headers"]["Idempotency-Key"] for r in self.received(path) if r["status"] == status]


@contextmanager
def hook_server(secret: bytes, script: dict[str, list[int]] | None = None, slow_s: float = 0.0) -> Iterator[Hook]:
    hook = Hook(secret, dict(script or {}), slow_s)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            expected = "sha256=" + hmac.new(hook.secret, body, hashlib.sha256).hexdigest()
            with hook.lock:
                answers = hook.script.get(self.path, [200])
                status = answers.pop(0) if len(answers) > 1 else answers[0]
                entry = {
                    "path": self.path,
                    "headers": dict(self.headers),
                    "body": json.loads(body),
                    "signed": hmac.compare_digest(expected, self.headers.get("X-Anomaly-Signature", "")),
                    "status": status,
                }
                hook.requests.append(entry)
            if self.path.startswith("/slow"):
                time.sleep(hook.slow_s)
            self.send_response(status)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *_args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    hook.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield hook
    finally:
        server.shutdown()
        server.server_close()


def event(
    anomaly_id: str,
    camera: str,
    revision: int,
    *,
    severity: Severity = Severity.HIGH,
    state: AnomalyState = AnomalyState.OPEN,
    kinds: tuple[AnomalyKind, ...] = (AnomalyKind.FALL,),
) -> AnomalyEvent:
    """Revision ``revision`` of alert ``anomaly_id``."""
    sample = anomaly_event(camera, severity.value, kinds=kinds)
    return replace(sample, anomaly_id=anomaly_id, revision=revision, state=state)


def action(anomaly_id: str, camera: str, kind: ActionKind, actor: str = "key:op") -> AnomalyAction:
    return AnomalyAction(
        action_id=str(uuid.uuid4()),
        anomaly_id=anomaly_id,
        camera_id=camera,
        kind=kind,
        actor=actor,
        at=datetime.now(UTC).replace(microsecond=0),
    )
