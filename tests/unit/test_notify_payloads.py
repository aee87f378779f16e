"""Notification payloads and the webhook signature (pure)."""

from __future__ import annotations

import hashlib
import hmac
import json

from notify.config import Change
from notify.payloads import Notice, document, email, mqtt_event, mqtt_state, mqtt_topics, webhook_body
from notify.senders.webhook import headers_for, signature
from schemas.records import Severity
from tests.notify_samples import NOON, sample_alert

ALERT = sample_alert(
    camera_id="lobby/1",
    revision=3,
    severity=Severity.CRITICAL,
    kinds=("FALL", "PERSON_DOWN"),
    score=0.91,
    reasons=("torso horizontal for 4 s",),
)
NOTICE = Notice(
    "ops",
    ALERT,
    Change.SEVERITY_UP,
    "r3",
    NOON,
    evidence_url="http://s3/f.jpg",
    link_template="http://d/a/{anomaly_id}",
)


def test_generic_document_and_idempotency_key() -> None:
    doc = json.loads(webhook_body(NOTICE, "generic"))
    assert doc == document(NOTICE)
    assert doc["idempotency_key"] == f"{ALERT.anomaly_id}:3:r3"
    assert doc["anomaly"]["severity"] == "CRITICAL" and doc["anomaly"]["kinds"] == ["FALL", "PERSON_DOWN"]
    assert doc["url"] == f"http://d/a/{ALERT.anomaly_id}"
    assert doc["sent_at"] == "2026-12-02T12:00:00Z"


def test_slack_and_teams_shapes() -> None:
    slack = json.loads(webhook_body(NOTICE, "slack"))
    assert slack["text"].startswith("CRITICAL fall, person down on camera lobby/1")
    assert slack["blocks"][0]["type"] == "header"
    teams = json.loads(webhook_body(NOTICE, "teams"))
    card = teams["attachments"][0]
    assert card["contentType"] == "application/vnd.microsoft.card.adaptive"
    assert card["content"]["type"] == "AdaptiveCard"


def test_signature_is_the_hmac_of_the_exact_body() -> None:
    body = webhook_body(NOTICE, "generic")
    headers = headers_for(NOTICE, body, b"k", 1_700_000_000.0)
    expected = "sha256=" + hmac.new(b"k", body, hashlib.sha256).hexdigest()
    assert headers["X-Anomaly-Signature"] == expected == signature(b"k", body)
    assert headers["Idempotency-Key"] == NOTICE.idempotency_key
    assert headers["X-Anomaly-Timestamp"] == "1700000000"


def test_mqtt_and_email() -> None:
    assert mqtt_topics("anomaly", "lobby/1") == ("anomaly/lobby_1/events", "anomaly/lobby_1/state")
    assert json.loads(mqtt_event(NOTICE))["type"] == "update"
    opened = Notice("ops", ALERT, Change.OPENED, "r1", NOON)
    ended = Notice("ops", ALERT, Change.CLOSED, "r4", NOON)
    assert json.loads(mqtt_event(opened))["type"] == "new"
    assert json.loads(mqtt_state(ended))["active"] is False
    message = email(NOTICE, "alerts@site.example", ["ops@site.example"], attachment=b"\xff\xd8jpeg")
    assert message["Subject"] == NOTICE.title
    text = message.get_body(("plain",))
    assert text is not None and "http://s3/f.jpg" in text.get_content()
    assert [p.get_filename() for p in message.iter_attachments()] == ["evidence.jpg"]
