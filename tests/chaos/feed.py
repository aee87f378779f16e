"""Media references as producers publish them, at a steady pace from a thread: a few stored JPEG frames and WAV
chunks referenced again and again under new event ids, so the processors have work for as long as a test
injects faults. Every published reference is recorded: it is the oracle of what must be scored."""

from __future__ import annotations

import threading
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import cv2
import numpy as np
from confluent_kafka import Producer

from anomaly_core.objectstore import ObjectStore
from anomaly_core.registry import RegistryClient
from anomaly_core.serde import AvroSerde
from anomaly_core.settings import KafkaSettings
from anomaly_core.topics import MEDIA_AUDIO, MEDIA_FRAMES, topic_name
from producers.figure import person_frame
from schemas.records import AudioChunkRef, FrameRef, ObjectRef
from tests.model_fixtures import wav_bytes

CHUNK_MS = 2000


def jpeg(bgr: np.ndarray) -> bytes:
    return bytes(cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, 85])[1])


def frame_ref(ref: ObjectRef, camera: str, seq: int, size: tuple[int, int] = (320, 240)) -> FrameRef:
    now = datetime.now(UTC)
    return FrameRef(
        event_id=str(uuid.uuid4()), camera_id=camera, seq=seq, captured_at=now, media_offset_ms=seq * 200,
        object=ref, width=size[0], height=size[1],
    )  # fmt: skip


def chunk_ref(ref: ObjectRef, camera: str, seq: int) -> AudioChunkRef:
    now = datetime.now(UTC)
    return AudioChunkRef(
        event_id=str(uuid.uuid4()), camera_id=camera, seq=seq, start_at=now, media_offset_ms=seq * CHUNK_MS,
        duration_ms=CHUNK_MS, sample_rate=16_000, channels=1, object=ref,
    )  # fmt: skip


@dataclass
class Feed:
    """Publishes ``frames_per_s`` frame references (cycling over ``cameras``) and one silent audio chunk per
    camera every ``CHUNK_MS``, until ``stop()``."""

    kafka: KafkaSettings
    store: ObjectStore
    bucket: str
    cameras: int = 4
    frames_per_s: float = 10.0
    audio: bool = True
    #: topic -> event ids published (and acknowledged), in publish order
    published: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))

    def __post_init__(self) -> None:
        self.serde = AvroSerde(RegistryClient(self.kafka.schema_registry_url))
        self.frames_topic = topic_name(MEDIA_FRAMES, self.kafka.topic_prefix)
        self.audio_topic = topic_name(MEDIA_AUDIO, self.kafka.topic_prefix)
        self.images = [
            self.store.put(self.bucket, f"feed/{i}.jpg", jpeg(person_frame(320, 240, seed=i)), "image/jpeg")
            for i in range(3)
        ]
        self.silence = self.store.put(self.bucket, "feed/silence.wav", wav_bytes(np.zeros(32_000)), "audio/wav")
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="feed", daemon=True)
        self._errors: list[Any] = []

    def start(self) -> Feed:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(60)
        assert not self._thread.is_alive(), "the feed did not stop"
        assert not self._errors, self._errors[:3]

    def _run(self) -> None:
        producer = Producer({**self.kafka.client_config(), "enable.idempotence": True, "linger.ms": 5})
        cameras = [f"feed-{self.kafka.topic_prefix}{c}".replace(".", "-") for c in range(self.cameras)]
        seq, chunk_seq = 0, 0
        next_chunk = time.monotonic()
        while not self._stop.is_set():
            camera = cameras[seq % len(cameras)]
            image = self.images[seq % len(self.images)]
            self._send(producer, self.frames_topic, frame_ref(image, camera, seq // len(cameras)))
            seq += 1
            if self.audio and time.monotonic() >= next_chunk:
                for cam in cameras:
                    self._send(producer, self.audio_topic, chunk_ref(self.silence, cam, chunk_seq))
                chunk_seq += 1
                next_chunk += CHUNK_MS / 1000
            producer.poll(0)
            self._stop.wait(1 / self.frames_per_s)
        if producer.flush(60) != 0:
            self._errors.append("references not acknowledged within 60 s")

    def _send(self, producer: Producer, topic: str, record: FrameRef | AudioChunkRef) -> None:
        def done(err: Any, _msg: Any) -> None:
            if err is None:
                self.published[topic].append(record.event_id)
            else:
                self._errors.append(err)

        value = self.serde.encode(topic, record)
        producer.produce(topic, key=record.camera_id.encode(), value=value, on_delivery=done)
