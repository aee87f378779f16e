"""One sender per target kind; ``build_sender`` picks it."""

from __future__ import annotations

from collections.abc import Callable

from notify.config import EmailTarget, MqttTarget, WebhookTarget
from notify.senders.base import Sender
from schemas.records import ObjectRef


def build_sender(
    target: WebhookTarget | EmailTarget | MqttTarget, fetch: Callable[[ObjectRef], bytes] | None = None
) -> Sender:
    """The sender of ``target`` (``fetch``: reads an evidence frame, for e-mails that attach it)."""
    if isinstance(target, WebhookTarget):
        from notify.senders.webhook import WebhookSender

        return WebhookSender(target)
    if isinstance(target, EmailTarget):
        from notify.senders.email import EmailSender

        return EmailSender(target, fetch)
    from notify.senders.mqtt import MqttSender

    return MqttSender(target)
