"""Each sender against a real receiver: an HTTP server checking signatures, an SMTP server (aiosmtpd) with
authentication, and the stack's Mosquitto (messages and the retained state)."""

from __future__ import annotations

import json
import queue
import socket
import ssl
import subprocess
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, Envelope, LoginPassword

from anomaly_core.objectstore import ObjectStore
from anomaly_core.settings import MqttSettings, ObjectStoreSettings
from notify.alert import Alert
from notify.config import Change, parse_config
from notify.delivery import TargetChannel
from notify.metrics import NotifyMetrics
from notify.payloads import Notice
from notify.senders import build_sender
from schemas.records import ObjectRef, Severity
from tests.integration._notify import hook_server
from tests.notify_samples import sample_alert

pytestmark = pytest.mark.integration
NOW = datetime.now(UTC).replace(microsecond=0)


def alert(camera: str = "cam-1", frame: ObjectRef | None = None) -> Alert:
    return sample_alert(
        anomaly_id=str(uuid.uuid4()),
        camera_id=camera,
        severity=Severity.CRITICAL,
        incident_start=NOW,
        incident_end=NOW,
        best_frame=frame,
    )


def channel(yaml_target: str, env: dict[str, str] | None = None, fetch: Any = None) -> TargetChannel:
    target = parse_config(f"targets: [{yaml_target}]", env=env or {}).targets[0]
    return TargetChannel(target, target.kind, build_sender(target, fetch), NotifyMetrics())


def test_webhook_signed_retried_after_a_500_and_given_up_after_timeouts() -> None:
    with hook_server(b"hook-secret", {"/flaky": [500, 200]}, slow_s=1.5) as hook:
        target = (
            "{{name: ops, kind: webhook, url: '{url}', secret: '${{HOOK_SECRET}}', format: {fmt}, timeout_s: 0.5,"
            " retries: {{attempts: 2, initial_s: 0.01, max_s: 0.05}}}}"
        )
        flaky = channel(target.format(url=f"{hook.url}/flaky", fmt="slack"), {"HOOK_SECRET": "hook-secret"})
        notice = Notice("ops", alert(), Change.OPENED, "r1", NOW)
        outcome = flaky.deliver(notice)
        assert outcome.ok and outcome.attempts == 2, outcome
        received = hook.received("/flaky")
        assert [r["status"] for r in received] == [500, 200]
        assert all(r["signed"] for r in received)
        assert {r["headers"]["Idempotency-Key"] for r in received} == {notice.idempotency_key}
        assert received[1]["body"]["text"] == notice.title  # the Slack format

        slow = channel(target.format(url=f"{hook.url}/slow", fmt="generic"), {"HOOK_SECRET": "hook-secret"})
        failed = slow.deliver(notice)
        assert not failed.ok and failed.attempts == 2
        assert "no answer within 0.5 s" in failed.detail
        assert len(hook.received("/slow")) == 2


def test_webhook_refusal_is_not_retried_and_the_circuit_opens() -> None:
    with hook_server(b"k", {"/gone": [404]}) as hook:
        gone = channel(
            f"{{name: ops, kind: webhook, url: '{hook.url}/gone', secret: k,"
            " breaker: {failures: 2, cooldown_s: 600}}"
        )
        notice = Notice("ops", alert(), Change.OPENED, "r1", NOW)
        first = gone.deliver(notice)
        assert not first.ok and first.attempts == 1 and "HTTP 404" in first.detail
        gone.deliver(notice)
        refused = gone.deliver(notice)
        assert not refused.ok and refused.attempts == 0 and "circuit open" in refused.detail
        assert len(hook.received("/gone")) == 2


class _Inbox:
    def __init__(self) -> None:
        self.messages: queue.Queue[Envelope] = queue.Queue()

    async def handle_DATA(self, _server: Any, _session: Any, envelope: Envelope) -> str:
        self.messages.put(envelope)
        return "250 OK"


@contextmanager
def smtp_server(tls: ssl.SSLContext | None = None) -> Iterator[tuple[int, _Inbox]]:
    """A real SMTP server (aiosmtpd) on a free port; user ``alerts`` / ``mail-secret``; STARTTLS with ``tls``."""
    inbox = _Inbox()

    def authenticate(_server: Any, _session: Any, _envelope: Any, mechanism: str, data: Any) -> AuthResult:
        ok = isinstance(data, LoginPassword) and data.login == b"alerts" and data.password == b"mail-secret"
        return AuthResult(success=ok, handled=False)

    with socket.socket() as probe:  # aiosmtpd needs a port number up front
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(
        inbox,
        hostname="127.0.0.1",
        port=port,
        authenticator=authenticate,
        tls_context=tls,
        require_starttls=tls is not None,
        auth_require_tls=tls is not None,
    )
    controller.start()
    try:
        yield port, inbox
    finally:
        controller.stop()


def test_email_with_authentication_the_frame_attached_and_linked(
    object_store_settings: ObjectStoreSettings, bucket: str
) -> None:
    with smtp_server() as (port, inbox):
        _attached_and_linked(port, inbox, object_store_settings, bucket)


def _attached_and_linked(port: int, inbox: _Inbox, object_store_settings: ObjectStoreSettings, bucket: str) -> None:
    store = ObjectStore.from_settings(object_store_settings)
    jpeg = b"\xff\xd8\xff\xe0" + b"frame" * 100
    frame = store.put(bucket, "cam-1/frame.jpg", jpeg, "image/jpeg")
    mail = channel(
        f"{{name: mail, kind: email, host: 127.0.0.1, port: {port}, starttls: false, username: alerts,"
        " password: '${MAIL_PASSWORD}', from: alerts@site.example, to: [ops@site.example], evidence: attach,"
        " retries: {attempts: 1}}",
        {"MAIL_PASSWORD": "mail-secret"},
        fetch=store.get,
    )
    link = store.presign_get(frame, 600)
    outcome = mail.deliver(Notice("mail", alert(frame=frame), Change.OPENED, "r1", NOW, evidence_url=link))
    assert outcome.ok, outcome
    envelope = inbox.messages.get(timeout=10)
    assert envelope.rcpt_tos == ["ops@site.example"]
    from email import message_from_bytes, policy

    message = message_from_bytes(envelope.original_content or b"", policy=policy.default)
    assert "CRITICAL fall on camera cam-1" in str(message["Subject"])
    attachments = list(message.iter_attachments())  # type: ignore[attr-defined]
    assert [a.get_content() for a in attachments] == [jpeg]
    assert link in message.get_body(("plain",)).get_content()  # type: ignore[attr-defined, union-attr]

    wrong = channel(
        f"{{name: mail, kind: email, host: 127.0.0.1, port: {port}, starttls: false, username: alerts,"
        " password: wrong, from: alerts@site.example, to: [ops@site.example], retries: {attempts: 1}}"
    )
    refused = wrong.deliver(Notice("mail", alert(), Change.OPENED, "r1", NOW))
    assert not refused.ok and "SMTP 535" in refused.detail


def test_email_over_starttls_with_login(tmp_path: Path) -> None:
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    self_signed = ["-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1"]
    san = ["-addext", "subjectAltName=IP:127.0.0.1"]
    subprocess.run(["openssl", "req", *self_signed, *san, "-keyout", str(key), "-out", str(cert)], check=True)
    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls.load_cert_chain(cert, key)
    with smtp_server(tls) as (port, inbox):  # login is refused before STARTTLS
        mail = channel(
            f"{{name: mail, kind: email, host: 127.0.0.1, port: {port}, starttls: true, ca_file: '{cert}',"
            " username: alerts, password: mail-secret, from: alerts@site.example, to: [ops@site.example],"
            " retries: {attempts: 1}}"
        )
        outcome = mail.deliver(Notice("mail", alert(), Change.OPENED, "r1", NOW))
        assert outcome.ok, outcome
        assert inbox.messages.get(timeout=10).rcpt_tos == ["ops@site.example"]
        untrusted = channel(
            f"{{name: mail, kind: email, host: 127.0.0.1, port: {port}, from: alerts@site.example,"
            " to: [ops@site.example], retries: {attempts: 1}}"
        )
        refused = untrusted.deliver(Notice("mail", alert(), Change.OPENED, "r1", NOW))
        assert not refused.ok and "CERTIFICATE_VERIFY_FAILED" in refused.detail


def _subscribe(host: str, port: int, topic: str) -> tuple[mqtt.Client, queue.Queue[Any]]:
    got: queue.Queue[Any] = queue.Queue()
    ready = threading.Event()
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"test-{uuid.uuid4().hex[:8]}")
    # An empty payload clears a retained message; it is not a notification.
    client.on_message = lambda _c, _u, msg: (
        got.put((msg.topic, json.loads(msg.payload), msg.retain)) if msg.payload else None
    )
    client.on_subscribe = lambda *_args: ready.set()
    client.connect(host, port)
    client.loop_start()
    client.subscribe(topic, qos=1)
    assert ready.wait(10), "subscription not acknowledged"
    return client, got


def test_mqtt_new_update_end_and_the_retained_state(stack_env: Any) -> None:
    url = MqttSettings().url
    host_port = url.split("://", 1)[1]
    host, port = host_port.rsplit(":", 1)
    prefix = f"t{uuid.uuid4().hex[:8]}/anomaly"
    client, got = _subscribe(host, int(port), f"{prefix}/+/events")
    try:
        sender = channel(f"{{name: broker, kind: mqtt, url: '{url}', topic_prefix: '{prefix}'}}")
        first = alert("lobby")
        for change, step in ((Change.OPENED, "r1"), (Change.SEVERITY_UP, "r2"), (Change.CLOSED, "r3")):
            assert sender.deliver(Notice("broker", first, change, step, NOW)).ok
        events = [got.get(timeout=10) for _ in range(3)]
        assert [(t, body["type"]) for t, body, _ in events] == [
            (f"{prefix}/lobby/events", "new"),
            (f"{prefix}/lobby/events", "update"),
            (f"{prefix}/lobby/events", "end"),
        ]
        assert all(body["anomaly"]["id"] == first.anomaly_id for _, body, _ in events)
        sender.close()
    finally:
        client.loop_stop()
        client.disconnect()
    late, state = _subscribe(host, int(port), f"{prefix}/+/state")  # subscribes after the fact: gets it retained
    try:
        topic, body, retained = state.get(timeout=10)
        assert topic == f"{prefix}/lobby/state" and retained
        assert body["active"] is False and body["anomaly"]["id"] == first.anomaly_id
    finally:
        late.publish(f"{prefix}/lobby/state", b"", retain=True).wait_for_publish(5)  # clear the retained state
        late.loop_stop()
        late.disconnect()
