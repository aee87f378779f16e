"""Webhooks: the JSON body POSTed with its HMAC-SHA256 signature, idempotency key and timestamps."""

from __future__ import annotations

import hashlib
import hmac
import time

import httpx

from notify.config import WebhookTarget
from notify.payloads import Notice, webhook_body
from notify.senders.base import SendError

SIGNATURE_HEADER = "X-Anomaly-Signature"
IDEMPOTENCY_HEADER = "Idempotency-Key"


def signature(secret: bytes, body: bytes) -> str:
    """The ``X-Anomaly-Signature`` value: ``sha256=`` and the hex HMAC-SHA256 of the body under the secret."""
    return "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()


def headers_for(notice: Notice, body: bytes, secret: bytes, now_s: float) -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        "User-Agent": "anomaly-notify/1",
        SIGNATURE_HEADER: signature(secret, body),
        IDEMPOTENCY_HEADER: notice.idempotency_key,
        "X-Anomaly-Timestamp": str(int(now_s)),
        "X-Anomaly-Event": notice.change.value,
    }


class WebhookSender:
    def __init__(self, target: WebhookTarget) -> None:
        self.target = target
        self._client = httpx.Client(timeout=target.timeout_s, follow_redirects=False)

    def send(self, notice: Notice) -> str:
        body = webhook_body(notice, self.target.format)
        secret = self.target.secret.get_secret_value().encode()
        headers = {**self.target.headers, **headers_for(notice, body, secret, time.time())}
        try:
            response = self._client.post(self.target.url, content=body, headers=headers)
        except httpx.TimeoutException as exc:
            raise SendError(
                f"no answer within {self.target.timeout_s:g} s ({type(exc).__name__})", transient=True
            ) from exc
        except httpx.HTTPError as exc:
            raise SendError(f"{type(exc).__name__}: {exc}", transient=True) from exc
        status = response.status_code
        if status < 300:
            return f"HTTP {status}"
        reason = f"HTTP {status}: {response.text[:200]}".rstrip(": ")
        # 408/429 and server errors may pass; any other refusal will be refused again.
        raise SendError(reason, transient=status >= 500 or status in (408, 425, 429))

    def close(self) -> None:
        self._client.close()
