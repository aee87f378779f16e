"""``anomaly bench infra``: how many score events per second the serde + Kafka path moves on one core.

Encodes PoseScore events (33 keypoints each) in the wire format through the real registry, produces them with
the runtime's idempotent producer settings, consumes them back in batches and decodes them to records.
The process (and the librdkafka threads it starts) is pinned to one CPU; the broker runs elsewhere.
"""

from __future__ import annotations

import gc
import os
import platform
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from confluent_kafka import Consumer, KafkaError, Producer, TopicPartition
from confluent_kafka.admin import NewTopic

from anomaly_core.admin import admin_client
from anomaly_core.producer import producer_config
from anomaly_core.registry import RegistryClient
from anomaly_core.serde import AvroSerde
from anomaly_core.settings import KafkaSettings
from anomaly_core.topics import SCORES_POSE
from bench.common import pin_to_one_cpu
from schemas.records import Keypoint, ModelInfo, ObjectRef, PoseScore, SourceRef

_T0 = datetime(2024, 5, 17, 8, 30, tzinfo=UTC)


@dataclass(frozen=True)
class InfraBenchResult:
    events: int
    value_bytes: int
    produce_s: float
    consume_s: float
    produce_cpu_s: float
    consume_cpu_s: float
    events_per_s: float
    events_per_cpu_s: float
    produce_events_per_s: float
    consume_events_per_s: float
    encode_us: float
    decode_us: float
    cpu: int | None
    machine: str
    load_average: float
    topic: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def pose_events(n: int, cameras: int = 8) -> list[PoseScore]:
    """``n`` distinct PoseScore events with 33 keypoints, spread over ``cameras`` cameras."""
    events = []
    for i in range(n):
        # multiples of 1/1024: exact in float32, so a decoded event equals the one produced
        keypoints = [
            Keypoint((j * 7 + i) % 1024 / 1024, (j * 13 + i) % 1024 / 1024, -j / 64, 0.5 + j / 128) for j in range(33)
        ]
        at = _T0 + timedelta(milliseconds=200 * i)
        events.append(
            PoseScore(
                event_id=str(uuid.UUID(int=i + 1, version=4)),
                camera_id=f"cam-{i % cameras}",
                source=SourceRef(str(uuid.UUID(int=10**9 + i, version=4)), "media.frames.v1", i % 6, i),
                event_time=at,
                model=ModelInfo("mediapipe-blazepose-full", "0.10.21"),
                processed_at=at + timedelta(milliseconds=35),
                latency_ms=35.25,
                frame=ObjectRef("anomaly-frames", f"cam-{i % cameras}/{i:08d}.jpg", f"{i:064x}", 48_213, "image/jpeg"),
                person_present=True,
                keypoints=keypoints,
                torso_angle_deg=12.5,
                hip_height=0.453125,
                bbox_aspect=0.625,
                mean_visibility=0.90625,
            )
        )
    return events


def run_infra_bench(
    kafka: KafkaSettings,
    *,
    events: int = 100_000,
    batch: int = 1000,
    cpu: int | None = None,
    pin: bool = True,
    progress: Callable[[str, int], None] | None = None,
) -> InfraBenchResult:
    """Produces then consumes ``events`` PoseScore events through a fresh one-partition topic."""
    pinned = pin_to_one_cpu(cpu) if pin else None
    report = progress or (lambda _phase, _done: None)
    topic = f"bench.{uuid.uuid4().hex[:8]}.{SCORES_POSE}"
    admin = admin_client(kafka)
    admin.create_topics([NewTopic(topic, num_partitions=1, replication_factor=kafka.replication_factor)])[topic].result(
        30
    )
    registry = RegistryClient(kafka.schema_registry_url)
    serde = AvroSerde(registry)
    records = pose_events(events)
    serde.schema_id(topic, PoseScore)  # registration is a one-off, not part of the steady state
    # The input events are long-lived: keep the garbage collector from rescanning them during the timed phases
    # (a service holds one batch at a time; here all events exist at once).
    gc.collect()
    gc.freeze()
    try:
        produce, value_bytes = _produce(kafka, serde, topic, records, report)
        consume = _consume(kafka, serde, topic, records, batch=batch, report=report)
        encode_us, decode_us = _codec_costs(serde, topic, records[:5000])
    finally:
        admin.delete_topics([topic])
        registry.close()
        gc.unfreeze()
    return InfraBenchResult(
        events=events,
        value_bytes=value_bytes // events,
        produce_s=round(produce.wall_s, 3),
        consume_s=round(consume.wall_s, 3),
        produce_cpu_s=round(produce.cpu_s, 3),
        consume_cpu_s=round(consume.cpu_s, 3),
        events_per_s=round(events / (produce.wall_s + consume.wall_s)),
        events_per_cpu_s=round(events / (produce.cpu_s + consume.cpu_s)),
        produce_events_per_s=round(events / produce.wall_s),
        consume_events_per_s=round(events / consume.wall_s),
        encode_us=round(encode_us, 2),
        decode_us=round(decode_us, 2),
        cpu=pinned,
        machine=f"{platform.node()} {platform.machine()} {os.cpu_count()} CPUs, Python {platform.python_version()}",
        load_average=round(os.getloadavg()[0], 2),
        topic=topic,
    )


@dataclass(frozen=True)
class _Phase:
    wall_s: float
    cpu_s: float  # CPU time of this process (all its threads) during the phase


class _Clock:
    def __init__(self) -> None:
        self.wall, self.cpu = time.perf_counter(), time.process_time()

    def stop(self) -> _Phase:
        return _Phase(time.perf_counter() - self.wall, time.process_time() - self.cpu)


def _produce(
    kafka: KafkaSettings, serde: AvroSerde, topic: str, records: list[PoseScore], report: Callable[[str, int], None]
) -> tuple[_Phase, int]:
    producer = Producer(producer_config(kafka, "bench-infra"))
    failures: list[KafkaError] = []

    def delivered(err: KafkaError | None, _msg: Any) -> None:
        if err is not None:
            failures.append(err)

    encode, produce, size = serde.encode, producer.produce, 0
    clock = _Clock()
    for i, record in enumerate(records):
        value = encode(topic, record)
        size += len(value)
        while True:
            try:
                produce(topic, value, record.camera_id.encode(), on_delivery=delivered)
                break
            except BufferError:
                producer.poll(0.01)
        if i % 5000 == 4999:
            producer.poll(0)
            report("produce", i + 1)
    remaining = producer.flush(60)
    phase = clock.stop()
    if remaining or failures:
        raise RuntimeError(f"{remaining} unacknowledged, {len(failures)} failed deliveries, e.g. {failures[:1]}")
    report("produce", len(records))
    return phase, size


def _consume(
    kafka: KafkaSettings,
    serde: AvroSerde,
    topic: str,
    records: list[PoseScore],
    *,
    batch: int,
    report: Callable[[str, int], None],
) -> _Phase:
    """Consumes and decodes every event, checking one in a thousand against what was produced."""
    consumer = Consumer(
        {**kafka.client_config(), "group.id": f"bench-{uuid.uuid4().hex[:8]}", "enable.auto.commit": False}
    )
    consumer.assign([TopicPartition(topic, 0, 0)])
    decode, count = serde.decode, 0
    try:
        clock = _Clock()
        while count < len(records):
            for msg in consumer.consume(num_messages=batch, timeout=1.0):
                if msg.error() is not None:
                    raise RuntimeError(f"consume error: {msg.error()}")
                event = decode(topic, msg.value(), PoseScore)
                if count % 1000 == 0 and event != records[count]:
                    raise RuntimeError(f"event {count} decoded differently from what was produced")
                count += 1
            report("consume", count)
        phase = clock.stop()
    finally:
        consumer.close()
    return phase


def _codec_costs(serde: AvroSerde, topic: str, records: list[PoseScore]) -> tuple[float, float]:
    """CPU microseconds per event of encode and decode alone (no Kafka), for the breakdown."""
    started = time.process_time()
    values = [serde.encode(topic, r) for r in records]
    encode_s = time.process_time() - started
    started = time.process_time()
    for value in values:
        serde.decode(topic, value, PoseScore)
    decode_s = time.process_time() - started
    return encode_s / len(records) * 1e6, decode_s / len(records) * 1e6
