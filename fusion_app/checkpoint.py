"""Per-camera state checkpoints on a compacted changelog topic, and their restore after a restart or a rebalance.

Record key ``<group>|<camera>`` (so a replay group never overwrites the live worker's state), value the encoded
state, and the record sits on the SAME partition number as the camera's inputs: restoring input partition ``p``
reads changelog partition ``p`` only.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass

from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import AdminClient, NewTopic

from anomaly_core.admin import admin_client
from anomaly_core.errors import TransientError
from anomaly_core.producer import Delivery
from anomaly_core.settings import KafkaSettings
from fusion_app.camera_state import CameraState
from fusion_app.reader import read_range
from fusion_app.statecodec import Pending, StateEncoder, StateFormatError, decode_state

log = logging.getLogger(__name__)

#: Compaction settings of the changelog: roll segments often so a restore reads little more than one record
#: per camera.
STATE_TOPIC_CONFIG = {
    "cleanup.policy": "compact",
    "segment.ms": "60000",
    "min.cleanable.dirty.ratio": "0.1",
    "max.compaction.lag.ms": "120000",
}


@dataclass(frozen=True, slots=True)
class Restored:
    state: CameraState
    outbox: list[Pending]
    partition: int


def state_key(group: str, camera: str) -> bytes:
    return f"{group}|{camera}".encode()


class Changelog:
    """Builds the changelog records of one worker group (one encoder, so observations are encoded once)."""

    def __init__(self, topic: str, group: str) -> None:
        self.topic = topic
        self.group = group
        self.encoder = StateEncoder()

    def record(self, partition: int, state: CameraState, outbox: Sequence[Pending] = ()) -> Delivery:
        """The checkpoint of ``state``, pinned to the partition of the camera's inputs."""
        value = self.encoder.encode(state, outbox)
        return Delivery(self.topic, state_key(self.group, state.camera_id), value, partition=partition)


def partition_count(admin: AdminClient, topic: str, wait_s: float = 15.0) -> int | None:
    """Partitions of ``topic``; None if it still does not exist after ``wait_s`` (metadata of a topic created a
    moment ago reaches every broker with a delay)."""
    deadline = time.monotonic() + wait_s
    while True:
        try:
            meta = admin.list_topics(topic, timeout=10.0)
        except KafkaException as exc:
            raise TransientError(f"cannot read metadata of {topic}: {exc}") from exc
        info = meta.topics.get(topic)
        if info is not None and info.error is None and info.partitions:
            return len(info.partitions)
        if time.monotonic() > deadline:
            return None
        time.sleep(0.2)


def ensure_state_topic(kafka: KafkaSettings, state_topic: str, input_topics: list[str]) -> int:
    """Checks that the inputs are co-partitioned and the changelog matches them (creating it if missing)."""
    admin = admin_client(kafka)
    counts = {t: partition_count(admin, t) for t in input_topics}
    missing = [t for t, n in counts.items() if n is None]
    if missing:
        raise RuntimeError(f"input topics missing: {', '.join(missing)} (run `anomaly topics create`)")
    if len(set(counts.values())) != 1:
        raise RuntimeError(f"inputs are not co-partitioned: {counts}")
    n = next(iter(counts.values()))
    assert n is not None
    have = partition_count(admin, state_topic, wait_s=0.0)
    if have is None:
        spec = NewTopic(
            state_topic, num_partitions=n, replication_factor=kafka.replication_factor, config=STATE_TOPIC_CONFIG
        )
        for topic, future in admin.create_topics([spec]).items():
            try:
                future.result()
                log.info("created changelog %s with %d partitions", topic, n)
            except KafkaException as exc:
                if exc.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
                    raise
        have = n
    if have != n:
        raise RuntimeError(f"changelog {state_topic} has {have} partitions, the inputs {n}")
    return n


def restore(
    kafka: KafkaSettings, topic: str, group: str, partitions: list[int], timeout_s: float = 120.0
) -> dict[str, Restored]:
    """The newest checkpoint of every camera of ``group`` on changelog ``partitions``."""
    if not partitions:
        return {}
    prefix = state_key(group, "")
    latest: dict[bytes, tuple[int, bytes | None]] = {}
    for batch in read_range(kafka, [topic], partitions=partitions, timeout_s=timeout_s):
        for msg in batch:
            key = msg.key() or b""
            if key.startswith(prefix):
                latest[key] = (msg.partition(), msg.value())
    restored: dict[str, Restored] = {}
    for key, (partition, value) in latest.items():
        found = read_checkpoint(group, key, value)
        if found is not None:
            camera, state, outbox = found
            restored[camera] = Restored(state, outbox, partition)
    return restored


def read_checkpoint(group: str, key: bytes, value: bytes | None) -> tuple[str, CameraState, list[Pending]] | None:
    """Camera, state and outbox of one changelog record; None for another group's key, a tombstone, or a state
    this version cannot read (logged: that camera starts empty)."""
    prefix = state_key(group, "")
    if value is None or not key.startswith(prefix):
        return None
    camera = key[len(prefix) :].decode()
    try:
        state, outbox = decode_state(value)
    except StateFormatError:
        log.exception("checkpoint of %s unreadable; the camera starts empty", camera)
        return None
    return camera, state, outbox
