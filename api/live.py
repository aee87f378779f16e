"""The one consumer of ``anomalies.v1`` and ``anomalies.actions.v1`` in an API process, feeding the fan-out hub.

A confluent-kafka consumer runs in a daemon thread. It has a group id of its own and commits nothing:
every API process must see every event (broadcast, not work sharing), and a restart only needs what
happens from then on. Partitions are assigned at their high watermarks, so ``ready`` means "anything
produced from now on will be delivered". Each record is decoded, an anomaly's best frame presigned and the JSON
built once in this thread (``render``); the event loop only queues the finished text.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

from confluent_kafka import Consumer, KafkaError, KafkaException, Message, TopicPartition

from anomaly_core.errors import DecodeError, TransientError
from anomaly_core.kafka_logs import client_logger
from anomaly_core.settings import KafkaSettings
from api.fanout import Broadcast
from api.models import ActionOut, LiveMessage, summary_from_event
from api.queries import SEVERITY_ORDER
from schemas.records import AnomalyAction, AnomalyEvent, ObjectRef

logger = logging.getLogger(__name__)

#: (topic, raw value) -> the broadcast; raises DecodeError for a bad record, TransientError to be retried.
Render = Callable[[str, bytes], Broadcast]
Sign = Callable[[ObjectRef], str]

_METADATA_REFRESH_S = 30.0


def client_config(kafka: KafkaSettings) -> dict[str, Any]:
    """librdkafka settings for the API's clients: logs through Python logging, calm reconnects."""
    return {
        **kafka.client_config(),
        "logger": client_logger("api.kafka"),
        "log.connection.close": False,
        "reconnect.backoff.ms": 500,
        "reconnect.backoff.max.ms": 10_000,
    }


def broadcast_for(event: AnomalyEvent, sign: Sign | None) -> Broadcast:
    """The wire text of one live anomaly (pure apart from URL signing)."""
    url = sign(event.evidence.best_frame) if sign and event.evidence.best_frame else None
    message = LiveMessage(type="anomaly", anomaly=summary_from_event(event, url))
    return Broadcast(
        camera_id=event.camera_id,
        severity_rank=SEVERITY_ORDER.index(event.severity.value),
        text=message.model_dump_json(),
    )


def action_broadcast(action: AnomalyAction) -> Broadcast:
    """The wire text of one operator action; every severity filter lets it through (it carries no severity)."""
    message = LiveMessage(type="action", action=ActionOut.from_record(action))
    return Broadcast(camera_id=action.camera_id, severity_rank=len(SEVERITY_ORDER), text=message.model_dump_json())


class LiveTail:
    """Tails ``topics`` and hands each rendered record to ``deliver`` on the event loop."""

    def __init__(
        self,
        *,
        kafka: KafkaSettings,
        topics: list[str],
        render: Render,
        deliver: Callable[[Broadcast], object],
        loop: asyncio.AbstractEventLoop,
    ) -> None:
        self._kafka = kafka
        self._topics = topics
        self._render = render
        self._deliver = deliver
        self._loop = loop
        self._stop = threading.Event()
        self.ready = threading.Event()
        self.received = 0
        self.undecodable = 0
        self._thread = threading.Thread(target=self._run, name="live-tail", daemon=True)

    @property
    def topics(self) -> list[str]:
        return self._topics

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout_s: float = 5.0) -> None:
        self._stop.set()
        self._thread.join(timeout_s)

    def _config(self) -> dict[str, Any]:
        group = f"anomaly-api-live-{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        return {
            **client_config(self._kafka),
            "group.id": group,
            "enable.auto.commit": False,
            "enable.auto.offset.store": False,
            "auto.offset.reset": "latest",
            "fetch.wait.max.ms": 50,
            "socket.keepalive.enable": True,
        }

    def _run(self) -> None:
        consumer = Consumer(self._config())
        try:
            assigned: set[tuple[str, int]] = set()
            next_refresh = 0.0
            while not self._stop.is_set():
                if time.monotonic() >= next_refresh:
                    assigned = self._assign_new(consumer, assigned)
                    next_refresh = time.monotonic() + (_METADATA_REFRESH_S if assigned else 1.0)
                msg = consumer.poll(0.2)
                if msg is not None:
                    self._handle(msg)
        except Exception:
            logger.exception("live tail of %s stopped", ", ".join(self._topics))
        finally:
            consumer.close()

    def _assign_new(self, consumer: Consumer, assigned: set[tuple[str, int]]) -> set[tuple[str, int]]:
        """Adds partitions not yet assigned (a topic may appear, or grow, after we start)."""
        fresh: list[tuple[str, int]] = []
        for topic in self._topics:
            try:
                meta = consumer.list_topics(topic, timeout=5.0).topics.get(topic)
            except KafkaException as exc:
                logger.warning("live tail: no metadata for %s yet: %s", topic, exc)
                continue
            if meta is None or meta.error is not None or not meta.partitions:
                continue
            fresh += [(topic, p) for p in meta.partitions if (topic, p) not in assigned]
        if fresh:
            positions = []
            for topic, partition in fresh:
                _, high = consumer.get_watermark_offsets(TopicPartition(topic, partition), timeout=5.0)
                positions.append(TopicPartition(topic, partition, high))
            consumer.incremental_assign(positions)
            assigned = assigned | set(fresh)
            logger.info("live tail of %s: %d partitions assigned", ", ".join(self._topics), len(assigned))
        # Ready once every topic has partitions assigned: nothing produced from now on is missed.
        if {t for t, _ in assigned} == set(self._topics) and not self.ready.is_set():
            self.ready.set()
        return assigned

    def _handle(self, msg: Message) -> None:
        error = msg.error()
        if error is not None:
            if error.code() != KafkaError._PARTITION_EOF:
                logger.warning("live tail of %s: %s", msg.topic(), error)
            return
        raw = msg.value()
        if raw is None:
            return
        self.received += 1
        delay = 0.2
        while not self._stop.is_set():
            try:
                broadcast = self._render(str(msg.topic()), raw)
            except DecodeError as exc:
                # Read-only view: the writer's DLQ owns bad records; here they are only counted and logged.
                self.undecodable += 1
                logger.warning("live tail: undecodable %s[%s]@%s: %s", msg.topic(), msg.partition(), msg.offset(), exc)
                return
            except TransientError as exc:
                logger.warning("live tail: registry unavailable, retrying in %.1fs: %s", delay, exc)
                self._stop.wait(delay)
                delay = min(delay * 2, 5.0)
                continue
            self._loop.call_soon_threadsafe(self._deliver, broadcast)
            return
