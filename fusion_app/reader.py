"""Bounded reads of topics: from the beginning (or a timestamp) up to the end offsets seen at the start.

Used where a finite history is wanted rather than a live subscription: restoring checkpoints, rebuilding the
projection, backtests. No consumer group offsets are read or written.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, TopicPartition

from anomaly_core.errors import TransientError
from anomaly_core.settings import KafkaSettings
from anomaly_core.settling import settled


def read_range(
    kafka: KafkaSettings,
    topics: list[str],
    *,
    partitions: list[int] | None = None,
    from_ms: int | None = None,
    to_ms: int | None = None,
    batch: int = 1000,
    timeout_s: float = 600.0,
) -> Iterator[list[Any]]:
    """Yields batches of records (``confluent_kafka.Message``) of ``topics`` until every partition is read to the
    end offset it had when the read started; ``to_ms`` drops records stamped later."""
    consumer = Consumer(
        {
            **kafka.client_config(),
            "group.id": f"reader-{uuid.uuid4().hex[:8]}",
            "enable.auto.commit": False,
            "enable.partition.eof": True,
        }
    )
    try:
        ends = _assign(consumer, topics, partitions, from_ms)
        done: set[tuple[str, int]] = set()
        deadline = time.monotonic() + timeout_s
        while len(done) < len(ends):
            if time.monotonic() > deadline:
                raise TransientError(f"reading {', '.join(topics)} did not reach the end offsets in {timeout_s:.0f}s")
            out = [m for m in consumer.consume(batch, timeout=0.5) if _keep(m, ends, done, to_ms)]
            if out:
                yield out
    finally:
        consumer.close()


def _assign(
    consumer: Consumer, topics: list[str], partitions: list[int] | None, from_ms: int | None
) -> dict[tuple[str, int], int]:
    """Assigns the partitions that have something to read; returns their end offsets."""
    ends: dict[tuple[str, int], int] = {}
    starts: list[TopicPartition] = []
    for topic in topics:
        info = settled(consumer.list_topics, topic, timeout=10.0).topics.get(topic)
        if info is None or info.error is not None:
            raise TransientError(f"topic {topic} not found")
        for p in sorted(info.partitions):
            if partitions is not None and p not in partitions:
                continue
            low, high = settled(consumer.get_watermark_offsets, TopicPartition(topic, p), timeout=10.0)
            start = _start(consumer, topic, p, from_ms, high)
            if high > max(low, start):
                ends[(topic, p)] = high
                starts.append(TopicPartition(topic, p, start))
    if starts:
        consumer.assign(starts)
    return ends


def _keep(msg: Any, ends: dict[tuple[str, int], int], done: set[tuple[str, int]], to_ms: int | None) -> bool:
    """Whether to yield ``msg``; marks partitions that reached their end."""
    tp = (msg.topic(), msg.partition())
    err = msg.error()
    if err is not None:
        if err.code() != KafkaError._PARTITION_EOF:
            raise TransientError(f"reading {tp[0]}[{tp[1]}]: {err}")
        done.add(tp)
        return False
    if msg.offset() >= ends[tp] - 1:
        done.add(tp)
    return bool(msg.offset() < ends[tp] and (to_ms is None or msg.timestamp()[1] <= to_ms))


def _start(consumer: Consumer, topic: str, partition: int, from_ms: int | None, high: int) -> int:
    if from_ms is None:
        return OFFSET_BEGINNING
    (found,) = settled(consumer.offsets_for_times, [TopicPartition(topic, partition, from_ms)], timeout=10.0)
    offset: int = found.offset
    return offset if offset >= 0 else high
