"""Producer counters: Prometheus series (labelled by camera) and the same figures as a plain summary."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field, fields
from typing import Any

from anomaly_core import metrics

_SIZE_BUCKETS = (1e3, 1e4, 3e4, 1e5, 3e5, 1e6, 3e6)


@dataclass
class ProducerStats:
    """What one camera's producer did; printed by ``--json`` and asserted by tests."""

    camera_id: str
    frames_decoded: int = 0
    frames_captured: int = 0
    frames_published: int = 0
    scene_frames_published: int = 0  # of frames_published, those for the scene stage too (the rest: pose only)
    frames_dropped: int = 0
    audio_chunks_captured: int = 0
    audio_chunks_published: int = 0
    audio_chunks_dropped: int = 0
    audio_seconds_published: float = 0.0
    bytes_stored: int = 0
    upload_retries: int = 0
    upload_seconds_total: float = 0.0
    corrupt_skipped: int = 0
    reconnects: int = 0
    elapsed_s: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def add(self, **deltas: float) -> None:
        with self._lock:
            for name, delta in deltas.items():
                setattr(self, name, getattr(self, name) + delta)

    def summary(self) -> dict[str, Any]:
        with self._lock:
            data: dict[str, Any] = {f.name: getattr(self, f.name) for f in fields(self) if not f.name.startswith("_")}
        uploads = self.frames_published + self.audio_chunks_published
        data["upload_ms_mean"] = round(1000 * self.upload_seconds_total / uploads, 2) if uploads else None
        data["frames_per_second"] = round(self.frames_published / self.elapsed_s, 2) if self.elapsed_s else None
        data["upload_seconds_total"] = round(self.upload_seconds_total, 3)
        data["elapsed_s"] = round(self.elapsed_s, 3)
        return data


class ProducerMetrics:
    """The Prometheus side of ``ProducerStats`` for one camera."""

    def __init__(self, camera_id: str) -> None:
        labels = ("camera",)
        self.captured = metrics.counter(
            "anomaly_producer_frames_captured_total", "Frames kept by sampling", labels
        ).labels(camera_id)
        self.published = metrics.counter(
            "anomaly_producer_frames_published_total", "FrameRefs acknowledged by Kafka", labels
        ).labels(camera_id)
        self.dropped = metrics.counter(
            "anomaly_producer_dropped_total", "Jobs dropped by the capture queue policy", ("camera", "kind")
        )
        self.scene_published = metrics.counter(
            "anomaly_producer_scene_frames_published_total",
            "FrameRefs for the scene stage acknowledged by Kafka (the others are for pose only)",
            labels,
        ).labels(camera_id)
        self.audio_published = metrics.counter(
            "anomaly_producer_audio_chunks_published_total", "AudioChunkRefs acknowledged by Kafka", labels
        ).labels(camera_id)
        self.upload_seconds = metrics.histogram(
            "anomaly_producer_upload_seconds", "Object store put latency (durable)", ("camera", "kind")
        )
        self.bytes_stored = metrics.counter(
            "anomaly_producer_bytes_stored_total", "Bytes written to the object store", ("camera", "kind")
        )
        self.object_size = metrics.histogram(
            "anomaly_producer_object_bytes", "Size of stored objects", ("camera", "kind"), buckets=_SIZE_BUCKETS
        )
        self.upload_retries = metrics.counter(
            "anomaly_producer_upload_retries_total", "Object store puts retried after a transient error", labels
        ).labels(camera_id)
        self.corrupt = metrics.counter(
            "anomaly_producer_corrupt_skipped_total", "Corrupt packets or frames skipped", labels
        ).labels(camera_id)
        self.reconnects = metrics.counter("anomaly_producer_reconnects_total", "Live source reconnects", labels).labels(
            camera_id
        )
        self.queue_depth = metrics.gauge(
            "anomaly_producer_queue_depth", "Jobs waiting between capture and upload", labels
        ).labels(camera_id)
        self.camera_id = camera_id
