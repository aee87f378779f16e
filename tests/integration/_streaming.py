"""Helpers of the serde/runtime integration tests: raw produce, read-back, committed offsets, a service thread."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from confluent_kafka import Consumer, Producer, TopicPartition

from anomaly_core.runtime import ServiceSpec, run_service
from anomaly_core.settings import KafkaSettings


def produce_raw(kafka: KafkaSettings, topic: str, records: list[tuple[bytes | None, bytes | None]]) -> None:
    """Publishes (key, value) byte pairs in order and waits until every one is acknowledged."""
    producer = Producer({**kafka.client_config(), "enable.idempotence": True, "linger.ms": 5})
    errors: list[Any] = []

    def report(err: Any, _msg: Any) -> None:
        if err is not None:
            errors.append(err)

    for key, value in records:
        producer.produce(topic, value=value, key=key, on_delivery=report)
        producer.poll(0)
    assert producer.flush(30) == 0, "records not acknowledged"
    assert not errors, errors


def read_all(kafka: KafkaSettings, topic: str, *, expect: int, timeout_s: float = 60.0) -> list[Any]:
    """Reads ``topic`` from the beginning (no group) until ``expect`` records arrived or the timeout passed."""
    return read_until(kafka, topic, lambda records: len(records) >= expect, timeout_s=timeout_s)


def read_until(
    kafka: KafkaSettings, topic: str, done: Callable[[list[Any]], bool], *, timeout_s: float = 60.0
) -> list[Any]:
    """Reads ``topic`` from the beginning until ``done(records)`` holds or the timeout passed."""
    consumer = Consumer(
        {
            **kafka.client_config(),
            "group.id": f"reader-{uuid.uuid4().hex[:8]}",
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
        }
    )
    try:
        metadata = consumer.list_topics(topic, timeout=10)
        partitions = list(metadata.topics[topic].partitions)
        consumer.assign([TopicPartition(topic, p, 0) for p in partitions])
        records: list[Any] = []
        deadline = time.monotonic() + timeout_s
        while not done(records) and time.monotonic() < deadline:
            batch = consumer.consume(num_messages=500, timeout=0.5)
            records += [msg for msg in batch if msg.error() is None]
        # a moment more: catches records beyond what was awaited (duplicates are allowed, extras are interesting)
        records += [msg for msg in consumer.consume(num_messages=500, timeout=0.3) if msg.error() is None]
        return records
    finally:
        consumer.close()


def end_offsets(kafka: KafkaSettings, topic: str) -> dict[int, int]:
    consumer = Consumer({**kafka.client_config(), "group.id": f"probe-{uuid.uuid4().hex[:8]}"})
    try:
        partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
        return {p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1] for p in partitions}
    finally:
        consumer.close()


def committed_offsets(kafka: KafkaSettings, group: str, topic: str) -> dict[int, int]:
    consumer = Consumer({**kafka.client_config(), "group.id": group, "enable.auto.commit": False})
    try:
        partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
        committed = consumer.committed([TopicPartition(topic, p) for p in partitions], timeout=10)
        return {tp.partition: tp.offset for tp in committed}
    finally:
        consumer.close()


def wait_until(predicate: Callable[[], bool], *, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s}s waiting for {what}")
        time.sleep(0.2)


@contextmanager
def in_thread(run: Callable[[], object], stop: threading.Event, *, name: str, what: str) -> Iterator[None]:
    """Runs ``run`` in a daemon thread; sets ``stop`` when the block ends and re-raises the thread's error, if any."""
    failure: list[BaseException] = []

    def target() -> None:
        try:
            run()
        except BaseException as exc:
            failure.append(exc)

    thread = threading.Thread(target=target, name=name, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(60)
        assert not thread.is_alive(), f"{what} did not stop within 60 s"
    if failure:
        raise failure[0]


@contextmanager
def service_thread(spec: ServiceSpec[Any], kafka: KafkaSettings) -> Iterator[threading.Event]:
    """Runs ``spec`` in a thread; stops it (and re-raises its error, if any) when the block ends."""
    stop = threading.Event()
    with in_thread(lambda: run_service(spec, kafka, stop=stop), stop, name=f"service-{spec.name}", what="service"):
        yield stop
