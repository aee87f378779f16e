"""Reads what the platform produced for a set of cameras: media refs, scores and anomalies from Kafka,
evidence frames from the object store. The only IO module of ``reports``.

Topics are read without a consumer group (partitions assigned from the beginning, up to the end offsets seen
when reading starts), so collecting never moves any service's offsets.
"""

from __future__ import annotations

import io
import logging
import time
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

from confluent_kafka import OFFSET_BEGINNING, OFFSET_END, Consumer, KafkaError, KafkaException, TopicPartition

from anomaly_core.errors import PermanentError, TransientError
from anomaly_core.kafka_logs import client_logger
from anomaly_core.objectstore import ObjectStore
from anomaly_core.settings import KafkaSettings
from anomaly_core.settling import settled
from reports.build import CameraInputs
from schemas.records import (
    AnomalyEvent,
    AudioChunkRef,
    AudioScore,
    FrameRef,
    ObjectRef,
    PoseScore,
    SceneScore,
)

log = logging.getLogger(__name__)
#: Errors a consumer reports on every poll while the broker is down: once per outage, not once per poll.
_kafka_log = client_logger(f"{__name__}.kafka")
T = TypeVar("T")
THUMBNAIL_WIDTH = 320


class Decoder(Protocol):
    """What collecting needs from the serde (``anomaly_core.serde.AvroSerde``): bytes of a topic to a record."""

    def decode(self, topic: str, data: bytes, cls: type[T]) -> T: ...


@dataclass(frozen=True, slots=True)
class Polled:
    topic: str
    key: str | None
    record: Any
    partition: int = -1
    offset: int = -1
    #: The record's Kafka timestamp (when its producer handed it over), epoch milliseconds.
    timestamp_ms: int = 0


class TopicReader:
    """Follows topics from the beginning (or the end) with one consumer and no consumer group, decoding each
    topic's records as its record class."""

    def __init__(
        self, kafka: KafkaSettings, serde: Decoder, sources: Mapping[str, type], *, from_beginning: bool = True
    ) -> None:
        self.kafka = kafka
        self.serde = serde
        self.sources = dict(sources)
        self.from_beginning = from_beginning
        self.undecodable = 0
        self.missing: list[str] = []
        self._consumer: Consumer | None = None
        self._partitions: list[TopicPartition] = []
        self._ends: dict[tuple[str, int], int] = {}
        self._next: dict[tuple[str, int], int] = {}

    def _open(self) -> Consumer:
        if self._consumer is None:
            conf: dict[str, Any] = {
                **self.kafka.client_config(),
                # A group id is required by librdkafka even for manual assignment; nothing is ever committed to it.
                "group.id": f"anomaly-reader-{uuid.uuid4().hex[:12]}",
                "enable.auto.commit": False,
                "enable.auto.offset.store": False,
                "enable.partition.eof": False,
                "logger": client_logger(),
            }
            consumer = Consumer(conf)
            start = OFFSET_BEGINNING if self.from_beginning else OFFSET_END
            try:
                meta = consumer.list_topics(timeout=10).topics
            except KafkaException as exc:  # the broker does not answer: try again on the next call
                consumer.close()
                raise TransientError(f"cannot list topics: {exc}") from exc
            for topic in self.sources:
                found = meta.get(topic)
                if found is None or found.error is not None:
                    self.missing.append(topic)
                    continue
                self._partitions += [TopicPartition(topic, p, start) for p in sorted(found.partitions)]
            # End offsets are asked for before the assignment: once partitions are assigned, librdkafka queues
            # these queries behind its own offset lookups and each one takes a fraction of a second.
            self._ends = {
                (tp.topic, tp.partition): settled(consumer.get_watermark_offsets, tp, timeout=10, cached=False)[1]
                for tp in self._partitions
            }
            consumer.assign(self._partitions)
            self._consumer = consumer
        return self._consumer

    def poll(self, max_records: int = 1000, timeout_s: float = 0.2) -> list[Polled]:
        """New records since the last call; undecodable ones are counted and skipped."""
        consumer = self._open()
        if not self._partitions:
            return []
        out: list[Polled] = []
        for msg in consumer.consume(max_records, timeout_s):
            err = msg.error()
            if err is not None:
                if err.code() != KafkaError._PARTITION_EOF:
                    _kafka_log.warning("reading %s: %s", msg.topic(), err)
                continue
            value, topic, partition, offset = msg.value(), msg.topic(), msg.partition(), msg.offset()
            if topic is None or partition is None or offset is None:
                continue
            self._next[(topic, partition)] = offset + 1
            if value is None or topic not in self.sources:
                continue
            try:
                record: Any = self.serde.decode(topic, value, self.sources[topic])
            except PermanentError as exc:
                self.undecodable += 1
                log.debug("skipping undecodable record %s[%s]@%s: %s", topic, msg.partition(), msg.offset(), exc)
                continue
            key = msg.key()
            shown_key = key.decode("utf-8", "replace") if key is not None else None
            out.append(Polled(topic, shown_key, record, partition, offset, msg.timestamp()[1]))
        return out

    def read_to_end(self, timeout_s: float = 30.0) -> list[Polled]:
        """Everything from the beginning up to the end offsets seen when the reader opened."""
        self._open()
        out: list[Polled] = []
        deadline = time.monotonic() + timeout_s

        def behind() -> list[tuple[str, int]]:
            return [tp for tp, high in self._ends.items() if self._next.get(tp, 0) < high]

        while behind() and time.monotonic() < deadline:
            out += self.poll()
        if behind():
            raise TransientError(f"could not read {sorted({t for t, _ in behind()})} to the end in {timeout_s:.0f} s")
        return out

    def close(self) -> None:
        if self._consumer is not None:
            self._consumer.close()
            self._consumer = None


class TopicTail(Generic[T]):
    """One topic of records of one class, followed from the beginning or the end (see ``TopicReader``)."""

    def __init__(
        self, kafka: KafkaSettings, serde: Decoder, topic: str, cls: type[T], from_beginning: bool = True
    ) -> None:
        self._reader = TopicReader(kafka, serde, {topic: cls}, from_beginning=from_beginning)

    def poll(self, max_records: int = 1000, timeout_s: float = 0.2) -> list[tuple[str | None, T]]:
        return [(p.key, p.record) for p in self._reader.poll(max_records, timeout_s)]

    def close(self) -> None:
        self._reader.close()


@dataclass(frozen=True, slots=True)
class RunTopics:
    """Topic names of one run (already prefixed)."""

    frames: str
    audio_chunks: str
    pose: str
    scene: str
    audio: str
    anomalies: str


def read_topics(
    kafka: KafkaSettings, serde: Decoder, sources: Mapping[str, type], cameras: Iterable[str]
) -> dict[str, dict[str, list[Any]]]:
    """Every record of the topics keyed by one of ``cameras``: topic -> camera -> records (a missing topic is empty)."""
    wanted = set(cameras)
    grouped: dict[str, dict[str, list[Any]]] = {t: {c: [] for c in wanted} for t in sources}
    reader = TopicReader(kafka, serde, sources)
    try:
        polled = reader.read_to_end()
    finally:
        reader.close()
    for item in polled:
        camera = item.key if item.key is not None else getattr(item.record, "camera_id", None)
        if camera in wanted:
            grouped[item.topic][camera].append(item.record)
    return grouped


def collect_cameras(
    kafka: KafkaSettings,
    serde: Decoder,
    topics: RunTopics,
    sources: Mapping[str, str],
    *,
    notes: Mapping[str, list[str]] | None = None,
    durations: Mapping[str, float | None] | None = None,
    store: ObjectStore | None = None,
) -> list[CameraInputs]:
    """``CameraInputs`` for each camera in ``sources`` (camera id -> source file), ready for the pure builder."""
    cameras = list(sources)
    classes = {
        topics.frames: FrameRef,
        topics.audio_chunks: AudioChunkRef,
        topics.pose: PoseScore,
        topics.scene: SceneScore,
        topics.audio: AudioScore,
        topics.anomalies: AnomalyEvent,
    }
    found = read_topics(kafka, serde, classes, cameras)
    frames, chunks, pose = found[topics.frames], found[topics.audio_chunks], found[topics.pose]
    scene, audio, anomalies = found[topics.scene], found[topics.audio], found[topics.anomalies]
    out: list[CameraInputs] = []
    for camera in cameras:
        thumbs = fetch_thumbnails(store, anomalies[camera]) if store is not None else {}
        out.append(
            CameraInputs(
                camera_id=camera,
                source=sources[camera],
                frames=frames[camera],
                audio_chunks=chunks[camera],
                pose=pose[camera],
                scene=scene[camera],
                audio=audio[camera],
                anomalies=anomalies[camera],
                thumbnails=thumbs,
                notes=list((notes or {}).get(camera, [])),
                duration_s=(durations or {}).get(camera),
            )
        )
    return out


def fetch_thumbnails(store: ObjectStore, events: Iterable[AnomalyEvent]) -> dict[str, bytes]:
    """A small JPEG of each incident's best evidence frame (its newest revision's), by anomaly id."""
    best: dict[str, tuple[int, ObjectRef]] = {}
    for event in events:
        ref = event.evidence.best_frame or (event.evidence.frames[0] if event.evidence.frames else None)
        if ref is not None and event.revision >= best.get(event.anomaly_id, (-1, ref))[0]:
            best[event.anomaly_id] = (event.revision, ref)
    out: dict[str, bytes] = {}
    for anomaly_id, (_, ref) in best.items():
        try:
            out[anomaly_id] = shrink_jpeg(store.get(ref))
        except (PermanentError, TransientError, OSError) as exc:
            log.warning("no thumbnail for anomaly %s (%s/%s): %s", anomaly_id, ref.bucket, ref.key, exc)
    return out


def shrink_jpeg(data: bytes, width: int = THUMBNAIL_WIDTH) -> bytes:
    from PIL import Image

    with Image.open(io.BytesIO(data)) as img:
        rgb = img.convert("RGB")
        if rgb.width > width:
            rgb = rgb.resize((width, max(1, round(rgb.height * width / rgb.width))))
        buf = io.BytesIO()
        rgb.save(buf, format="JPEG", quality=80)
        return buf.getvalue()
