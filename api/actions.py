"""Operator actions as commands: what a request may do to an anomaly (pure rules), and the publisher that puts
the accepted action on ``anomalies.actions.v1`` before anything else sees it.

The order is: decide (these rules, on the projected row) -> publish and wait for the brokers (acks=all) ->
apply to the projection (``anomaly_core.operator_actions``, the same statements the sink runs). The event is in
the log before the row changes, so a rebuild reproduces every answer the API gave.
"""

from __future__ import annotations

import logging
import threading
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from anomaly_core.errors import TransientError
from anomaly_core.settings import KafkaSettings
from api.errors import ApiError, ServiceUnavailableError
from schemas.records import ActionKind, AnomalyAction, Resolution

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ActionRequest:
    """A validated request body, before the API gives it an actor, a time and (when absent) an id."""

    kind: ActionKind
    note: str | None = None
    assignee: str | None = None
    resolution: Resolution | None = None
    action_id: str | None = None


def conflict(detail: str) -> ApiError:
    return ApiError(409, "conflict", detail)


def new_action(request: ActionRequest, *, anomaly_id: str, camera_id: str, actor: str, at: datetime) -> AnomalyAction:
    """The event for ``request``; ``at`` is cut to what Avro's timestamp-millis holds, so the row the API writes
    and the one a rebuild writes from the event are the same."""
    at = at.replace(microsecond=at.microsecond // 1000 * 1000)
    return AnomalyAction(
        action_id=request.action_id or str(uuid.uuid4()),
        anomaly_id=anomaly_id,
        camera_id=camera_id,
        kind=request.kind,
        actor=actor,
        at=at,
        assignee=request.assignee,
        resolution=request.resolution,
        note=request.note,
    )


def same_command(stored: dict[str, Any], action: AnomalyAction) -> bool:
    """Whether a stored action (a row of ``anomaly_actions``) is the one ``action`` asks for again."""
    return (
        str(stored["anomaly_id"]) == action.anomaly_id
        and stored["kind"] == action.kind.value
        and stored["actor"] == action.actor
        and stored["assignee"] == action.assignee
        and stored["resolution"] == (action.resolution.value if action.resolution else None)
        and stored["note"] == action.note
    )


def check_allowed(status: str, resolution: str | None, kind: ActionKind) -> None:
    """409 when ``kind`` makes no sense on an anomaly in ``status``: a resolved anomaly only takes notes."""
    if status == "RESOLVED" and kind is not ActionKind.NOTE:
        raise conflict(f"the anomaly is already resolved ({resolution}); only notes can be added")


class ActionPublisher:
    """Publishes actions keyed by camera id and waits for the brokers; one at a time (actions are human-paced).

    Nothing connects until the first action.
    """

    def __init__(self, kafka: KafkaSettings, topic: str, timeout_s: float) -> None:
        self.topic = topic
        self._kafka = kafka
        self._timeout_s = timeout_s
        self._lock = threading.Lock()
        self._producer: Any = None
        self._serde: Any = None

    def publish(self, action: AnomalyAction) -> None:
        """Blocks until the event is acknowledged (acks=all); ``ServiceUnavailableError`` when it is not in time."""
        from anomaly_core.producer import Delivery

        with self._lock:
            try:
                producer, serde = self._clients()
                producer.send(Delivery(self.topic, action.camera_id.encode(), serde.encode(self.topic, action)))
                failed = producer.wait(self._timeout_s)
            except TransientError as exc:
                logger.warning("action %s not published: %s", action.action_id, exc)
                raise ServiceUnavailableError("kafka") from exc
            if failed:
                logger.warning("action %s not published: %s", action.action_id, failed[0].failed)
                raise ServiceUnavailableError("kafka")

    def _clients(self) -> tuple[Any, Any]:
        if self._producer is None:
            from anomaly_core.producer import ReliableProducer
            from anomaly_core.registry import RegistryClient
            from anomaly_core.serde import AvroSerde

            self._serde = AvroSerde(RegistryClient(self._kafka.schema_registry_url, timeout_s=self._timeout_s))
            self._producer = ReliableProducer(
                self._kafka, client_id="anomaly-api", config={"delivery.timeout.ms": int(self._timeout_s * 1000)}
            )
        return self._producer, self._serde

    def close(self) -> None:
        with self._lock:
            if self._producer is not None:
                self._producer.flush(2.0)
                self._producer = None
