"""The one ``anomalies.v1`` consumer of an API process, feeding the fan-out hub.

A confluent-kafka consumer runs in a daemon thread. It has a group id of its own and commits nothing:
every API process must see every event (broadcast, not work sharing), and a restart only needs what
happens from then on. Partitions are assigned at their high watermarks, so ``ready`` means "anything
produced from now on will be delivered". Each event is decoded, its best frame presigned and the JSON
built once in this thread; the event loop only queues the finished text.
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
from api.models import LiveMessage, summary_from_event
from api.queries import SEVERITY_ORDER
from schemas.records import AnomalyEvent, ObjectRef

logger = logging.getLogger(__name__)

Decode = Callable[[bytes], AnomalyEvent]
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


class LiveTail:
    """Tails ``topic`` and hands each decoded event to ``deliver`` on the event loop."""

    def __init__(
        self,
        *,
        kafka: KafkaSettings,
        topic: str,
        decode: Decode,
        sign: Sign | None,
        deliver: Callable[[Broadcast], object],
        loop: asyncio.AbstractEventLoop,
    ) -> None:
        self._kafka = kafka
        self._topic = topic
        self._decode = decode
        self._sign = sign
        self._deliver = deliver
        self._loop = loop
        self._stop = threading.Event()
        self.ready = threading.Event()
        self.received = 0
        self.undecodable = 0
        self._thread = threading.Thread(target=self._run, name="live-tail", daemon=True)

    @property
    def topic(self) -> str:
        return self._topic

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
            assigned: set[int] = set()
            next_refresh = 0.0
            while not self._stop.is_set():
                if time.monotonic() >= next_refresh:
                    assigned = self._assign_new(consumer, assigned)
                    next_refresh = time.monotonic() + (_METADATA_REFRESH_S if assigned else 1.0)
                msg = consumer.poll(0.2)
                if msg is not None:
                    self._handle(msg)
        except Exception:
            logger.exception("live tail of %s stopped", self._topic)
        finally:
            consumer.close()

    def _assign_new(self, consumer: Consumer, assigned: set[int]) -> set[int]:
        """Adds partitions not yet assigned (the topic may appear, or grow, after we start)."""
        try:
            meta = consumer.list_topics(self._topic, timeout=5.0).topics.get(self._topic)
        except KafkaException as exc:
            logger.warning("live tail: no metadata for %s yet: %s", self._topic, exc)
            return assigned
        if meta is None or meta.error is not None or not meta.partitions:
            return assigned
        fresh = [p for p in meta.partitions if p not in assigned]
        if fresh:
            positions = []
            for partition in fresh:
                _, high = consumer.get_watermark_offsets(TopicPartition(self._topic, partition), timeout=5.0)
                positions.append(TopicPartition(self._topic, partition, high))
            consumer.incremental_assign(positions)
            assigned = assigned | set(fresh)
            logger.info("live tail of %s: %d partitions assigned", self._topic, len(assigned))
        if assigned and not self.ready.is_set():
            self.ready.set()
        return assigned

    def _handle(self, msg: Message) -> None:
        error = msg.error()
        if error is not None:
            if error.code() != KafkaError._PARTITION_EOF:
                logger.warning("live tail of %s: %s", self._topic, error)
            return
        raw = msg.value()
        if raw is None:
            return
        self.received += 1
        delay = 0.2
        while not self._stop.is_set():
            try:
                event = self._decode(raw)
                broadcast = broadcast_for(event, self._sign)
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
