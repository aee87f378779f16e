"""Wires settings to running pipelines: object store, schema registry, Kafka publisher, camera rows.

One process runs one or many cameras; they share the object store client and one idempotent Kafka producer,
each camera in its own thread (decoding and JPEG encoding release the GIL).
"""

from __future__ import annotations

import logging
import threading
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime

from anomaly_core.backoff import Backoff, Retry, give_up_after
from anomaly_core.errors import TransientError
from anomaly_core.objectstore import ObjectStore
from anomaly_core.registry import RegistryClient
from anomaly_core.serde import AvroSerde
from anomaly_core.settings import KafkaSettings, ObjectStoreSettings, ProcessingSettings
from anomaly_core.topics import MEDIA_AUDIO, MEDIA_FRAMES, topic_name
from producers.camera_config import CameraConfig, register_camera
from producers.metrics import ProducerStats
from producers.motion import GateSettings
from producers.pipeline import CameraPipeline, Destinations, PipelineOptions, StoreUnavailableError
from producers.publisher import RefPublisher
from producers.sources import ReadOptions, SourceSpec, parse_source
from schemas.records import AudioChunkRef, FrameRef

log = logging.getLogger(__name__)


@dataclass
class Services:
    store: ObjectStore
    publisher: RefPublisher
    dest: Destinations


def destinations(kafka: KafkaSettings, store: ObjectStoreSettings) -> Destinations:
    return Destinations(
        frames_topic=topic_name(MEDIA_FRAMES, kafka.topic_prefix),
        audio_topic=topic_name(MEDIA_AUDIO, kafka.topic_prefix),
        frames_bucket=store.frames_bucket,
        audio_bucket=store.audio_bucket,
    )


def ensure_buckets(store: ObjectStore, buckets: list[str], timeout_s: float) -> None:
    """Creates the buckets, retrying while the store is unreachable (up to ``timeout_s``)."""

    def create() -> None:
        for bucket in buckets:
            store.ensure_bucket(bucket)

    def unavailable(exc: Exception) -> StoreUnavailableError:
        return StoreUnavailableError(f"object store unavailable for {timeout_s:.0f}s: {exc}")

    def retrying(exc: Exception, delay: float) -> None:
        log.warning("object store not ready (%s); retrying in %.1fs", exc, delay)

    Retry(retrying, Backoff(initial_s=0.5, max_s=5.0), give_up=give_up_after(timeout_s, unavailable)).call(create)


def build_services(
    kafka: KafkaSettings,
    store_settings: ObjectStoreSettings,
    *,
    client_id: str,
    kafka_timeout_s: float,
    store_timeout_s: float,
) -> Services:
    dest = destinations(kafka, store_settings)
    store = ObjectStore.from_settings(store_settings)
    ensure_buckets(store, [dest.frames_bucket, dest.audio_bucket], store_timeout_s)
    serde = AvroSerde(RegistryClient(kafka.schema_registry_url))
    publisher = RefPublisher(kafka, serde, client_id=client_id, timeout_s=kafka_timeout_s)
    publisher.require_topics([dest.frames_topic, dest.audio_topic])
    publisher.prepare([(dest.frames_topic, FrameRef), (dest.audio_topic, AudioChunkRef)])
    return Services(store, publisher, dest)


def try_register(dsn: str, camera: CameraConfig, spec: SourceSpec) -> bool:
    """Registers the camera; a database outage is logged and does not stop ingestion (the row is metadata)."""
    from anomaly_core.db import migrate

    try:
        migrate(dsn)
        register_camera(dsn, camera, spec.kind)
    except TransientError as exc:
        log.warning("camera %s not registered (database unavailable: %s)", camera.camera_id, exc)
        return False
    return True


@dataclass
class CameraRun:
    camera: CameraConfig
    pipeline: CameraPipeline
    error: BaseException | None = None
    thread: threading.Thread | None = field(default=None, repr=False)

    @property
    def stats(self) -> ProducerStats:
        return self.pipeline.stats


def run_all(runs: list[CameraRun]) -> None:
    """Runs every camera in its own thread until all have ended; errors are kept per camera."""

    def target(run: CameraRun) -> None:
        try:
            run.pipeline.run()
        except Exception as exc:
            run.error = exc
            log.error("camera %s stopped: %s", run.camera.camera_id, exc)

    for run in runs:
        run.thread = threading.Thread(target=target, args=(run,), name=f"camera-{run.camera.camera_id}")
        run.thread.start()
    for run in runs:
        assert run.thread is not None
        while run.thread.is_alive():
            run.thread.join(0.5)


def make_pipeline(
    spec: SourceSpec, read: ReadOptions, opts: PipelineOptions, services: Services, stop: threading.Event
) -> CameraPipeline:
    return CameraPipeline(spec, read, opts, services.dest, services.store, services.publisher, stop)


def camera_run(
    camera: CameraConfig,
    services: Services,
    stop: threading.Event,
    processing: ProcessingSettings,
    *,
    video: bool,
    origin: datetime | None,
    store_timeout_s: float,
    register_dsn: str | None = None,
) -> CameraRun:
    """One camera's pipeline, sampled like the deployment (the camera's own rate or skip first); its row is
    registered when ``register_dsn`` is given. Raises ``SourceError`` for a source that cannot be used."""
    spec = parse_source(camera.source)
    read = ReadOptions(video=video, audio=camera.audio, loop=camera.loop, start_s=camera.start, end_s=camera.end)
    gate = GateSettings.from_settings(processing)
    gate = replace(gate, rate=gate.rate if camera.rate is None else camera.rate)
    gate = replace(gate, skip=gate.skip if camera.skip is None else camera.skip)
    opts = PipelineOptions(
        camera_id=camera.camera_id,
        **asdict(gate),
        jpeg_quality=processing.jpeg_quality,
        audio_chunk_seconds=processing.audio_chunk_seconds,
        realtime=camera.realtime,
        max_frames=camera.max_frames,
        origin=origin,
        store_timeout_s=store_timeout_s,
        upload_workers=processing.max_workers,
    )
    pipeline = make_pipeline(spec, read, opts, services, stop)
    if register_dsn is not None:
        try_register(register_dsn, camera, spec)
    return CameraRun(camera, pipeline)
