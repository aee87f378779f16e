"""What a notification says, per target format: pure functions from a ``Notice`` to bytes or text.

A ``Notice`` is one change of one alert for one target. Its ``idempotency_key`` (anomaly id, revision, and the
action or escalation step) is the same on every retry and after a restart, so a receiver can drop a repeat.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from typing import Any

from notify.alert import Alert
from notify.config import Change
from schemas.records import AnomalyAction

#: The MQTT event type of each change (Frigate-style new/update/end).
_MQTT_TYPE = {Change.OPENED: "new", Change.CLOSED: "end", Change.RESOLVED: "end"}
_SEVERITY_COLOUR = {"LOW": "#4a90d9", "MEDIUM": "#f5a623", "HIGH": "#e8590c", "CRITICAL": "#d0021b"}


@dataclass(frozen=True, slots=True)
class Notice:
    target: str
    alert: Alert
    change: Change
    #: What makes this notice unique per alert: ``r<revision>``, ``a<action id>``, ``e<level>`` or ``test``.
    step: str
    created_at: datetime
    evidence_url: str | None = None
    link_template: str | None = None
    action: AnomalyAction | None = None
    escalation_level: int = 0
    test: bool = False

    @property
    def idempotency_key(self) -> str:
        return f"{self.alert.anomaly_id}:{self.alert.revision}:{self.step}"

    @property
    def title(self) -> str:
        a = self.alert
        kinds = ", ".join(k.lower().replace("_", " ") for k in a.kinds) or "anomaly"
        prefix = "[TEST] " if self.test else ""
        return f"{prefix}{a.severity.value} {kinds} on camera {a.camera_id} ({_headline(self)})"

    @property
    def link(self) -> str | None:
        if not self.link_template:
            return None
        return self.link_template.format(anomaly_id=self.alert.anomaly_id, camera_id=self.alert.camera_id)


def _headline(notice: Notice) -> str:
    change = notice.change
    if notice.action is not None:
        who = notice.action.actor
        resolution = notice.action.resolution
        extra = resolution.value if resolution else notice.action.assignee or ""
        return f"{change.value} by {who}{': ' + extra.lower().replace('_', ' ') if extra else ''}"
    if change is Change.ESCALATED:
        return f"not acknowledged, escalation level {notice.escalation_level}"
    return change.value.replace("_", " ")


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def document(notice: Notice) -> dict[str, Any]:
    """The generic JSON document (also the MQTT message body): everything a receiver needs, nothing private."""
    a = notice.alert
    action = notice.action
    return {
        "type": "anomaly.notification",
        "test": notice.test,
        "idempotency_key": notice.idempotency_key,
        "target": notice.target,
        "change": notice.change.value,
        "title": notice.title,
        "sent_at": _iso(notice.created_at),
        "escalation_level": notice.escalation_level,
        "anomaly": {
            "id": a.anomaly_id,
            "camera_id": a.camera_id,
            "revision": a.revision,
            "state": a.state.value,
            "severity": a.severity.value,
            "kinds": list(a.kinds),
            "score": round(a.score, 4),
            "reasons": list(a.reasons),
            "incident_start": _iso(a.incident_start),
            "incident_end": _iso(a.incident_end),
            "caption": a.caption,
            "transcript": a.transcript,
            "acknowledged_by": a.acknowledged_by,
            "acknowledged_at": _iso(a.acknowledged_at),
            "resolution": a.resolution,
            "assignee": a.assignee,
        },
        "action": None
        if action is None
        else {
            "id": action.action_id,
            "kind": action.kind.value,
            "actor": action.actor,
            "at": _iso(action.at),
            "assignee": action.assignee,
            "resolution": action.resolution.value if action.resolution else None,
            "note": action.note,
        },
        "evidence_url": notice.evidence_url,
        "url": notice.link,
    }


def _facts(notice: Notice) -> list[tuple[str, str]]:
    a = notice.alert
    facts = [
        ("Camera", a.camera_id),
        ("Severity", a.severity.value),
        ("Kinds", ", ".join(a.kinds) or "-"),
        ("State", a.state.value),
        ("Started", _iso(a.incident_start) or "-"),
        ("Revision", str(a.revision)),
    ]
    if a.reasons:
        facts.append(("Why", "; ".join(a.reasons[:3])))
    if notice.action is not None and notice.action.note:
        facts.append(("Note", notice.action.note))
    return facts


def slack(notice: Notice) -> dict[str, Any]:
    """A Slack incoming-webhook message (Block Kit, with ``text`` as the notification fallback)."""
    fields = [{"type": "mrkdwn", "text": f"*{name}*\n{value}"} for name, value in _facts(notice)]
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": notice.title[:150]}},
        {"type": "section", "fields": fields[:10]},
    ]
    links = [f"<{url}|{label}>" for label, url in (("Open", notice.link), ("Frame", notice.evidence_url)) if url]
    if links:
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": " · ".join(links)}]})
    return {
        "text": notice.title,
        "blocks": blocks,
        "attachments": [{"color": _SEVERITY_COLOUR[notice.alert.severity.value], "fallback": notice.title}],
    }


def teams(notice: Notice) -> dict[str, Any]:
    """A Microsoft Teams message with an Adaptive Card (the Workflows / incoming-webhook format)."""
    body: list[dict[str, Any]] = [
        {"type": "TextBlock", "text": notice.title, "weight": "Bolder", "size": "Medium", "wrap": True},
        {"type": "FactSet", "facts": [{"title": name, "value": value} for name, value in _facts(notice)]},
    ]
    if notice.evidence_url:
        body.append({"type": "Image", "url": notice.evidence_url, "altText": "evidence frame"})
    actions = [{"type": "Action.OpenUrl", "title": "Open", "url": notice.link}] if notice.link else []
    card = {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.4",
        "body": body,
        "actions": actions,
    }
    return {
        "type": "message",
        "attachments": [{"contentType": "application/vnd.microsoft.card.adaptive", "content": card}],
    }


FORMATS = {"generic": document, "slack": slack, "teams": teams}


def webhook_body(notice: Notice, fmt: str) -> bytes:
    """The exact bytes POSTed (and signed) for a webhook of format ``fmt``."""
    return json.dumps(FORMATS[fmt](notice), separators=(",", ":"), sort_keys=True).encode()


def mqtt_type(notice: Notice) -> str:
    return _MQTT_TYPE.get(notice.change, "update")


def mqtt_topics(prefix: str, camera_id: str) -> tuple[str, str]:
    """(events topic, retained state topic) of a camera; MQTT wildcards in a camera id are replaced."""
    safe = camera_id.replace("/", "_").replace("+", "_").replace("#", "_")
    return f"{prefix}/{safe}/events", f"{prefix}/{safe}/state"


def mqtt_event(notice: Notice) -> bytes:
    return json.dumps({**document(notice), "type": mqtt_type(notice)}, separators=(",", ":")).encode()


def mqtt_state(notice: Notice) -> bytes:
    """The retained last state of the camera: its newest alert, or that it has none open."""
    doc = document(notice)
    active = mqtt_type(notice) != "end"
    return json.dumps({"active": active, "anomaly": doc["anomaly"], "updated_at": doc["sent_at"]}).encode()


def email(notice: Notice, sender: str, to: list[str], attachment: bytes | None = None) -> EmailMessage:
    """A plain-text e-mail; the evidence frame linked (presigned URL) or attached as JPEG."""
    message = EmailMessage()
    message["Subject"] = notice.title
    message["From"] = sender
    message["To"] = ", ".join(to)
    message["Message-ID"] = f"<{notice.idempotency_key.replace(':', '.')}@anomaly.notify>"
    message["X-Anomaly-Idempotency-Key"] = notice.idempotency_key
    lines = [notice.title, ""]
    lines += [f"{name}: {value}" for name, value in _facts(notice)]
    if notice.link:
        lines += ["", f"Open: {notice.link}"]
    if notice.evidence_url:
        lines += ["", f"Evidence frame (link expires): {notice.evidence_url}"]
    message.set_content("\n".join(lines) + "\n")
    if attachment is not None:
        message.add_attachment(attachment, maintype="image", subtype="jpeg", filename="evidence.jpg")
    return message
