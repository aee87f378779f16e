"""Publishes FrameRef/AudioChunkRef records once their objects are durable; settles delivery reports in batches.

Kafka outage policy: references are kept (bounded by the capture queue, the upload window and librdkafka's
local queue) and retried until Kafka acknowledges them; if it acknowledges nothing for ``timeout_s`` the
producer stops with ``KafkaUnavailableError`` (a clear message, non-zero exit). The objects already stored are
harmless: they are content-addressed and expire with the bucket's retention.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from confluent_kafka import KafkaException

from anomaly_core.backoff import Backoff, Retry, give_up_after
from anomaly_core.errors import TransientError
from anomaly_core.producer import Delivery, ReliableProducer
from anomaly_core.serde import AvroSerde
from anomaly_core.settings import KafkaSettings

log = logging.getLogger(__name__)


class KafkaUnavailableError(Exception):
    """Kafka (or the schema registry) did not accept references for longer than the configured timeout."""


class RefPublisher:
    """Thread-safe: several camera pipelines may share one publisher (one idempotent producer per process)."""

    def __init__(
        self,
        kafka: KafkaSettings,
        serde: AvroSerde,
        *,
        client_id: str,
        timeout_s: float = 120.0,
        batch: int = 64,
        max_delay_s: float = 1.0,
        config: dict[str, Any] | None = None,
    ) -> None:
        self.timeout_s = timeout_s
        self.batch = batch
        self.max_delay_s = max_delay_s
        self._serde = serde
        self._callbacks: dict[int, Callable[[], None]] = {}
        self._lock = threading.RLock()
        self._pending = 0
        self._last_settle = time.monotonic()
        self._producer = ReliableProducer(kafka, client_id=client_id, config=config, on_ack=self._acked)

    def _acked(self, delivery: Delivery) -> None:
        callback = self._callbacks.pop(id(delivery), None)
        if callback is not None:
            callback()

    def prepare(self, topics_and_types: list[tuple[str, type]]) -> None:
        """Registers the value schemas up front, so a registry outage shows at start and not mid-stream."""
        for topic, cls in topics_and_types:

            def register(topic: str = topic, cls: type = cls) -> int:
                return self._serde.schema_id(topic, cls)

            self._retry(register, f"registering {cls.__name__} on {topic}")

    def require_topics(self, topics: list[str]) -> None:
        """Waits (up to ``timeout_s``) for the brokers to answer, then checks the topics exist: producing to a
        missing topic would only fail after the delivery timeout, with a less helpful message."""
        deadline = time.monotonic() + self.timeout_s
        while True:
            try:
                metadata = self._producer.raw.list_topics(timeout=min(5.0, self.timeout_s))
                break
            except KafkaException as exc:
                if time.monotonic() >= deadline:
                    raise KafkaUnavailableError(f"Kafka unreachable for {self.timeout_s:.0f}s: {exc}") from exc
                log.warning("Kafka not reachable yet (%s); retrying", exc)
        missing = [t for t in topics if t not in metadata.topics]
        if missing:
            raise KafkaUnavailableError(
                f"topic(s) {', '.join(missing)} do not exist; create them with `anomaly topics create`"
            )

    def publish(self, topic: str, key: str, record: Any, on_ack: Callable[[], None] | None = None) -> None:
        """Encodes and sends one record; every ``batch`` records (or ``max_delay_s``) waits for the acks.
        ``on_ack`` runs once Kafka has acknowledged the record."""
        value = self._retry(lambda: self._serde.encode(topic, record), f"encoding for {topic}")
        with self._lock:
            self._send(Delivery(topic, key.encode(), value), on_ack)
            self._pending += 1
            self._producer.raw.poll(0)
            if self._pending >= self.batch or time.monotonic() - self._last_settle >= self.max_delay_s:
                self._settle()

    def flush(self) -> None:
        """Returns once every record published so far is acknowledged (or raises KafkaUnavailableError)."""
        with self._lock:
            self._settle()

    def _settle(self) -> None:
        deadline = time.monotonic() + self.timeout_s
        warned = 0.0
        while True:
            try:
                failed = self._producer.wait(min(5.0, max(0.1, deadline - time.monotonic())))
            except TransientError:
                failed = None  # still in flight: the broker is unreachable for now
            if failed == [] and self._producer.in_flight() == 0:
                self._pending = 0
                self._last_settle = time.monotonic()
                return
            now = time.monotonic()
            if now >= deadline:
                raise KafkaUnavailableError(
                    f"Kafka did not acknowledge {self._producer.in_flight() + len(failed or [])} references within "
                    f"{self.timeout_s:.0f}s; stopping (stored objects stay in the bucket; rerun once Kafka is back)"
                )
            if now - warned > 10:
                log.warning("Kafka is not acknowledging references; keeping them and retrying")
                warned = now
            for delivery in failed or []:
                # librdkafka gave up on it (delivery timeout): hand it back, the idempotent producer orders retries.
                self._send(
                    Delivery(delivery.topic, delivery.key, delivery.value), self._callbacks.pop(id(delivery), None)
                )

    def _send(self, delivery: Delivery, on_ack: Callable[[], None] | None) -> None:
        if on_ack is not None:
            self._callbacks[id(delivery)] = on_ack
        sent = self._producer.send(delivery)
        if sent.failed is not None and not sent.in_flight:
            # Refused before leaving the process (unknown topic, oversized record): waiting cannot fix that.
            self._callbacks.pop(id(delivery), None)
            raise KafkaUnavailableError(f"Kafka refused a record for {delivery.topic}: {sent.failed}")

    def _retry(self, fn: Callable[[], Any], what: str) -> Any:
        def unavailable(exc: Exception) -> KafkaUnavailableError:
            return KafkaUnavailableError(f"schema registry unavailable for {self.timeout_s:.0f}s ({what}): {exc}")

        def retrying(exc: Exception, delay: float) -> None:
            log.warning("%s failed (%s); retrying in %.1fs", what, exc, delay)

        retry = Retry(retrying, Backoff(initial_s=0.5, max_s=10.0), give_up=give_up_after(self.timeout_s, unavailable))
        return retry.call(fn)

    def close(self) -> None:
        self.flush()
