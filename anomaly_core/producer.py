"""An idempotent Kafka producer whose every delivery report is accounted for.

``send`` hands a record to librdkafka; ``wait`` blocks until each record sent since the last ``wait`` is
acknowledged by the brokers (acks=all) or has failed. Failures are returned to the caller (who retries or
refuses to commit), and logged with topic[partition]; nothing is ignored.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from confluent_kafka import KafkaError, KafkaException, Producer

from anomaly_core.errors import TransientError
from anomaly_core.kafka_logs import client_logger
from anomaly_core.settings import KafkaSettings

log = logging.getLogger(__name__)

PRODUCER_DEFAULTS: dict[str, Any] = {
    # Exactly-once per partition from this producer: retries never duplicate or reorder.
    "enable.idempotence": True,
    "acks": "all",
    # A few ms of batching costs little latency and saves most per-request overhead.
    "linger.ms": 5,
    "batch.num.messages": 10000,
    # librdkafka retries internally until this; after it, a record is reported failed and we retry the batch.
    "delivery.timeout.ms": 30000,
}


@dataclass(slots=True)
class Delivery:
    """One record handed to the producer and what became of it."""

    topic: str
    key: bytes | None
    value: bytes
    acked: bool = False
    failed: KafkaError | None = None
    in_flight: bool = False
    #: -1: the partition follows the key; >= 0: the caller's choice. After the ack: where it landed.
    partition: int = -1
    offset: int = -1

    @property
    def done(self) -> bool:
        return self.acked or self.failed is not None


def producer_config(kafka: KafkaSettings, client_id: str, overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    # librdkafka's lines through client_logger: one per broker outage, not one per reconnect attempt.
    base = {**kafka.client_config(), **PRODUCER_DEFAULTS, "client.id": client_id, "logger": client_logger()}
    return {**base, **(overrides or {})}


class ReliableProducer:
    """Wraps ``confluent_kafka.Producer`` with delivery tracking (not thread-safe: one owner thread)."""

    def __init__(
        self,
        kafka: KafkaSettings,
        *,
        client_id: str,
        config: dict[str, Any] | None = None,
        on_ack: Callable[[Delivery], None] | None = None,
    ) -> None:
        self._producer = Producer(producer_config(kafka, client_id, config))
        self._on_ack = on_ack
        self._in_flight: list[Delivery] = []

    @property
    def raw(self) -> Producer:
        return self._producer

    def send(self, delivery: Delivery) -> Delivery:
        """Queues ``delivery``; waits for queue space when librdkafka's local queue is full."""
        delivery.acked, delivery.failed = False, None

        def report(err: KafkaError | None, msg: Any) -> None:
            delivery.in_flight = False
            if err is None:
                delivery.acked = True
                delivery.partition, delivery.offset = msg.partition(), msg.offset()
                if self._on_ack is not None:
                    self._on_ack(delivery)
            else:
                delivery.failed = err
                # the partition stays as the caller chose it (or unchosen) for the retry
                partition = msg.partition() if msg is not None else delivery.partition
                log.error(
                    "delivery failed %s[%s]: %s",
                    delivery.topic,
                    partition,
                    err,
                    extra={"topic": delivery.topic, "partition": partition, "error": str(err)},
                )

        while True:
            try:
                # A partition chosen by the caller (>= 0) is kept: the fusion's state changelog must sit on the
                # partition number of the inputs it checkpoints, whatever its key hashes to.
                if delivery.partition >= 0:
                    self._producer.produce(
                        delivery.topic, delivery.value, delivery.key, delivery.partition, on_delivery=report
                    )
                else:
                    self._producer.produce(delivery.topic, delivery.value, delivery.key, on_delivery=report)
                delivery.in_flight = True
                break
            except BufferError:
                self._producer.poll(0.05)  # local queue full: serve delivery reports to make room
            except KafkaException as exc:
                # e.g. unknown topic with auto-create off, or a fatal idempotence error
                err = exc.args[0] if exc.args else None
                if isinstance(err, KafkaError) and err.fatal():
                    raise
                delivery.failed = err if isinstance(err, KafkaError) else KafkaError(KafkaError._FAIL, str(exc))
                log.error("produce to %s refused: %s", delivery.topic, exc, extra={"topic": delivery.topic})
                return delivery
        self._in_flight.append(delivery)
        return delivery

    def wait(self, timeout_s: float, *, idle: Callable[[], None] | None = None) -> list[Delivery]:
        """Blocks until every in-flight record is acknowledged or failed; returns the failed ones.

        ``idle`` runs about every 0.5 s while waiting (the runtime keeps its consumer in the group there).
        Raises TransientError if some records are still unacknowledged after ``timeout_s``.
        """
        deadline = time.monotonic() + timeout_s
        self._producer.poll(0)
        while not all(d.done for d in self._in_flight):
            left = deadline - time.monotonic()
            if left <= 0:
                pending = sum(not d.done for d in self._in_flight)
                raise TransientError(
                    f"{pending} records not acknowledged after {timeout_s:.0f}s (brokers unreachable?)"
                )
            if self._producer.flush(min(left, 0.5)) and idle is not None:
                idle()
        failed = [d for d in self._in_flight if d.failed is not None]
        self._in_flight = [d for d in self._in_flight if not d.done]
        return failed

    def flush(self, timeout_s: float) -> int:
        """Waits for everything queued; the number of records still not delivered."""
        remaining: int = self._producer.flush(timeout_s)
        return remaining

    def in_flight(self) -> int:
        return sum(not d.done for d in self._in_flight)
