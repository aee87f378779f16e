"""What several benchmarks share: pinning to one CPU and a producer that notes when each record was handed over."""

from __future__ import annotations

import os
import time
from typing import Any

from anomaly_core.producer import Delivery, ReliableProducer
from anomaly_core.serde import AvroSerde
from anomaly_core.settings import KafkaSettings


def pin_to_one_cpu(cpu: int | None = None) -> int | None:
    """Pins this thread, and the threads it starts later, to one CPU (the last one by default)."""
    if not hasattr(os, "sched_setaffinity"):
        return None
    allowed = sorted(os.sched_getaffinity(0))
    chosen = allowed[-1] if cpu is None else cpu
    os.sched_setaffinity(0, {chosen})
    return chosen


class TimedPublisher:
    """Produces records with the services' idempotent producer and notes the wall time just before each
    ``produce``: ``send`` returns it, and once a record is acknowledged ``produced_at`` has it by
    (topic, partition, offset)."""

    def __init__(self, kafka: KafkaSettings, serde: AvroSerde, *, client_id: str) -> None:
        self.serde = serde
        self.produced_at: dict[tuple[str, int, int], float] = {}
        self._handed: dict[int, float] = {}
        self._producer = ReliableProducer(kafka, client_id=client_id, on_ack=self._acked)

    def encode(self, topic: str, record: Any) -> bytes:
        return self.serde.encode(topic, record)

    def send(self, topic: str, key: bytes, value: bytes) -> float:
        """Hands one encoded record to the producer (waiting for queue space); the wall time it was handed over."""
        handed = time.time()
        delivery = Delivery(topic, key, value)
        self._handed[id(delivery)] = handed
        self._producer.send(delivery)
        self._producer.raw.poll(0)
        return handed

    def flush(self, timeout_s: float) -> None:
        self._producer.flush(timeout_s)

    def _acked(self, delivery: Delivery) -> None:
        handed = self._handed.pop(id(delivery), None)
        if handed is not None:
            self.produced_at[(delivery.topic, delivery.partition, delivery.offset)] = handed
