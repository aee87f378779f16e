"""Camera producer against the real stack: exact frame counts, content-addressed objects, gap-free audio, the
motion gate's stages on the published FrameRefs, and a store outage mid-run that loses nothing (a private MinIO
server is stopped, never the shared one)."""

from __future__ import annotations

import hashlib
import itertools
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from confluent_kafka import Consumer, TopicPartition

from anomaly_core.objectstore import ObjectStore
from anomaly_core.registry import RegistryClient
from anomaly_core.serde import AvroSerde
from anomaly_core.settings import KafkaSettings, ObjectStoreSettings
from producers.audio import decode_wav
from producers.pipeline import PipelineOptions
from producers.runner import build_services, make_pipeline
from producers.samples import write_clip
from producers.sources import ReadOptions, parse_source
from schemas.records import AudioChunkRef, FrameRef, FrameStage
from tests import private_minio as private_minio_fixtures
from tests.media_fixtures import tone_clip
from tests.private_minio import PrivateMinio

pytestmark = pytest.mark.integration
# A fixture shared with other test modules (pytest finds it as a module attribute).
private_minio = private_minio_fixtures.private_minio

T0 = datetime(2026, 4, 1, 9, 0, tzinfo=UTC)


def _consume(kafka: KafkaSettings, topic: str, cls: type, expected: int, serde: AvroSerde) -> list:
    """Every record of ``topic`` (all partitions, from the start); waits for ``expected`` then drains a moment."""
    consumer = Consumer({**kafka.client_config(), "group.id": f"t-{topic}", "enable.auto.commit": False})
    try:
        partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
        consumer.assign([TopicPartition(topic, p, 0) for p in partitions])
        out: list = []
        deadline = time.monotonic() + 30
        quiet_until = None
        while time.monotonic() < deadline:
            msg = consumer.poll(0.2)
            if msg is None:
                if len(out) >= expected:
                    quiet_until = quiet_until or time.monotonic() + 1.0
                    if time.monotonic() > quiet_until:
                        break
                continue
            assert msg.error() is None, msg.error()
            record = serde.decode(topic, msg.value(), cls)
            assert msg.key().decode() == record.camera_id
            out.append(record)
        return sorted(out, key=lambda r: r.seq)
    finally:
        consumer.close()


def _settings(
    kafka_settings: KafkaSettings, store: ObjectStoreSettings, prefix: str, bucket: str
) -> tuple[KafkaSettings, ObjectStoreSettings]:
    kafka = kafka_settings.model_copy(update={"topic_prefix": prefix})
    return kafka, store.model_copy(update={"frames_bucket": bucket, "audio_bucket": bucket})


def _check_frames(
    refs: list[FrameRef], n: int, camera: str, store: ObjectStore, bucket: str, per_second: int = 1
) -> None:
    """``n`` frames, ``per_second`` of them per second of media time, each an intact stored JPEG."""
    step_ms = 1000 // per_second
    assert [r.seq for r in refs] == list(range(n))
    assert [r.captured_at for r in refs] == [T0 + timedelta(milliseconds=step_ms * i) for i in range(n)]
    assert [r.media_offset_ms for r in refs] == [step_ms * i for i in range(n)]
    stored = {o.object_name for o in store.client.list_objects(bucket, prefix="frames/", recursive=True)}
    assert len(stored) == n
    for ref in refs:
        assert ref.camera_id == camera and ref.object.key in stored
        assert ref.object.key == f"frames/{camera}/2026/04/01/{ref.object.sha256}.jpg"
        data = store.get(ref.object)  # verifies the sha256 too
        assert hashlib.sha256(data).hexdigest() == ref.object.sha256 and data[:2] == b"\xff\xd8"


def test_clip_gives_one_scene_frame_per_second_pose_at_five_and_gap_free_audio(
    tmp_path: Path, kafka_settings, object_store_settings, unique_prefix, make_topics, bucket
) -> None:
    # Every frame of the tone clip moves (a bar sweeping over noise), so the motion gate keeps pose at
    # POSE_FRAME_RATE=5 for the whole clip; the scene stage gets the FRAME_PROCESSING_RATE=1 frames.
    seconds = 6
    n = seconds * 5
    clip = tone_clip(tmp_path / "clip.mp4", seconds, fps=10, width=160, height=120)
    topics = make_topics(["media.frames.v1", "media.audio.v1"])
    kafka, store_settings = _settings(kafka_settings, object_store_settings, unique_prefix, bucket)
    services = build_services(kafka, store_settings, client_id="t-producer", kafka_timeout_s=30, store_timeout_s=30)
    opts = PipelineOptions(camera_id="cam-it", rate=1.0, origin=T0, audio_chunk_seconds=2.0)
    stats = make_pipeline(parse_source(str(clip)), ReadOptions(), opts, services, threading.Event()).run()
    assert stats.frames_published == n and stats.frames_dropped == 0
    assert stats.scene_frames_published == seconds

    serde = AvroSerde(RegistryClient(kafka.schema_registry_url))
    frames = _consume(kafka, topics["media.frames.v1"], FrameRef, n, serde)
    assert len(frames) == n
    _check_frames(frames, n, "cam-it", services.store, bucket, per_second=5)
    assert (frames[0].width, frames[0].height) == (160, 120)
    scene = [f for f in frames if f.is_for(FrameStage.SCENE)]
    assert [f.captured_at for f in scene] == [T0 + timedelta(seconds=i) for i in range(seconds)]
    assert all(f.stages == [FrameStage.POSE] for f in frames if f not in scene)
    assert all(f.motion > 0 for f in frames[1:])

    chunks = _consume(kafka, topics["media.audio.v1"], AudioChunkRef, 3, serde)
    assert [c.seq for c in chunks] == list(range(len(chunks)))
    assert chunks[0].media_offset_ms == 0 and chunks[0].start_at == T0
    for a, b in itertools.pairwise(chunks):
        assert a.media_offset_ms + a.duration_ms == b.media_offset_ms  # no gap, no overlap
        assert a.start_at + timedelta(milliseconds=a.duration_ms) == b.start_at
    assert abs(chunks[-1].media_offset_ms + chunks[-1].duration_ms - seconds * 1000) <= 25
    for chunk in chunks:
        samples, rate = decode_wav(services.store.get(chunk.object))
        assert rate == chunk.sample_rate == 16_000 and chunk.channels == 1
        assert round(len(samples) * 1000 / rate) == chunk.duration_ms


def _gate_clip(path: Path, *, fps: int = 10, still_s: int = 4, moving_s: int = 2, after_s: int = 4) -> Path:
    """A textured room, still for ``still_s``, a square crossing it for ``moving_s``, then still again."""
    rng = np.random.default_rng(7)
    room = np.kron(rng.integers(40, 200, (6, 8), dtype=np.uint8), np.ones((20, 20), dtype=np.uint8))
    room = np.repeat(room[:, :, None], 3, axis=2)

    def frames() -> Iterator[np.ndarray]:
        for i in range((still_s + moving_s + after_s) * fps):
            img = room.copy()
            step = min(max(i - still_s * fps, 0), moving_s * fps)
            x = 5 + step * 5
            img[40:70, x : x + 30] = 250
            yield img

    write_clip(path, frames(), fps=fps, width=160, height=120)
    return path


def test_producer_publishes_stages_from_the_motion_gate(
    tmp_path: Path, kafka_settings, object_store_settings, unique_prefix, make_topics, bucket
) -> None:
    """At the defaults: pose at 1 fps while still, 5 fps while the square moves and 2 s after; scene only for
    base frames that changed (and the first one)."""
    clip = _gate_clip(tmp_path / "gate.mp4")
    topics = make_topics(["media.frames.v1", "media.audio.v1"])
    kafka, store_settings = _settings(kafka_settings, object_store_settings, unique_prefix, bucket)
    services = build_services(kafka, store_settings, client_id="t-gate", kafka_timeout_s=30, store_timeout_s=30)
    opts = PipelineOptions(camera_id="cam-gate", origin=T0)
    stats = make_pipeline(parse_source(str(clip)), ReadOptions(audio=False), opts, services, threading.Event()).run()
    assert stats.frames_decoded == 100

    serde = AvroSerde(RegistryClient(kafka.schema_registry_url))
    frames = _consume(kafka, topics["media.frames.v1"], FrameRef, stats.frames_published, serde)
    assert len(frames) == stats.frames_published
    at = [f.media_offset_ms / 1000 for f in frames]
    assert all(f.is_for(FrameStage.POSE) for f in frames)
    base = [t for t in at if t == int(t)]
    assert base == [float(s) for s in range(10)]  # FRAME_PROCESSING_RATE=1 frames are always published
    extra = [t for t in at if t != int(t)]
    assert extra and all(4.0 < t <= 8.0 for t in extra)  # pose-only frames: the motion and the 2 s hold
    assert len([t for t in at if 4.0 <= t < 6.0]) == 10  # POSE_FRAME_RATE=5 while moving
    scene = [f.media_offset_ms / 1000 for f in frames if f.is_for(FrameStage.SCENE)]
    assert scene == [0.0, 5.0, 6.0]  # the first frame, then only frames that changed since the last scene frame
    assert stats.scene_frames_published == len(scene)
    moving = [f for f in frames if 4.0 < f.media_offset_ms / 1000 <= 6.0]
    assert all(f.motion > 0.003 for f in moving)
    assert all(f.motion == 0.0 for f in frames if f.media_offset_ms / 1000 < 4.0 or f.media_offset_ms > 6500)


@pytest.mark.slow
def test_store_outage_mid_run_loses_no_frame(
    tmp_path: Path, kafka_settings, object_store_settings, unique_prefix, make_topics, private_minio: PrivateMinio
) -> None:
    seconds = 7
    n = seconds * 5  # a 5 fps clip that moves everywhere: the motion gate publishes every frame for pose
    clip = tone_clip(tmp_path / "clip.mp4", seconds, fps=5, width=96, height=64, audio=False)
    topics = make_topics(["media.frames.v1", "media.audio.v1"])
    store_settings = private_minio.store_settings
    kafka, store_settings = _settings(kafka_settings, store_settings, unique_prefix, "frames")
    services = build_services(kafka, store_settings, client_id="t-outage", kafka_timeout_s=30, store_timeout_s=60)
    # --realtime: the file plays like a live camera, so the outage falls in the middle of the run.
    opts = PipelineOptions(camera_id="cam-outage", rate=1.0, origin=T0, realtime=True)
    pipeline = make_pipeline(parse_source(str(clip)), ReadOptions(audio=False), opts, services, threading.Event())
    result: dict = {}
    runner = threading.Thread(target=lambda: result.setdefault("stats", pipeline.run()))
    runner.start()
    deadline = time.monotonic() + 20
    while pipeline.stats.frames_published < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert pipeline.stats.frames_published >= 2
    private_minio.kill()
    time.sleep(3.0)
    private_minio.start()
    runner.join(60)
    assert not runner.is_alive()

    stats = result["stats"]
    assert stats.upload_retries > 0, "the outage did not hit an upload"
    assert stats.frames_published == n and stats.frames_dropped == 0
    serde = AvroSerde(RegistryClient(kafka.schema_registry_url))
    frames = _consume(kafka, topics["media.frames.v1"], FrameRef, n, serde)
    assert len(frames) == n
    _check_frames(frames, n, "cam-outage", services.store, "frames", per_second=5)


def test_cameras_are_registered_once_and_updated(pg_dsn: str) -> None:
    import psycopg

    from anomaly_core.db import migrate
    from producers.camera_config import CameraConfig, register_camera
    from schemas.records import SourceKind

    migrate(pg_dsn)
    cam = CameraConfig("door", "Front door", "rtsp://admin:hunter2@10.1.1.5/live", "hall")
    register_camera(pg_dsn, cam, SourceKind.STREAM, started=T0)
    register_camera(pg_dsn, CameraConfig("door", "Door", "rtsp://10.1.1.6/live"), SourceKind.STREAM, started=T0)
    with psycopg.connect(pg_dsn) as conn:
        rows = conn.execute(
            "select camera_id, name, source, source_kind, location, last_started_at from cameras"
        ).fetchall()
    assert rows == [("door", "Door", "rtsp://10.1.1.6/live", "STREAM", "", T0)]
    register_camera(pg_dsn, cam, SourceKind.STREAM)
    with psycopg.connect(pg_dsn) as conn:
        (source,) = conn.execute("select source from cameras where camera_id = 'door'").fetchone()
    assert "hunter2" not in source and source == "rtsp://admin:***@10.1.1.5/live"


def test_retention_rules_and_the_evidence_limit(object_store_settings, bucket: str) -> None:
    from producers.retention import BucketRetention, apply_lifecycle, current_lifecycle_days, sweep_bucket

    store = ObjectStore.from_settings(object_store_settings)
    rule = BucketRetention(bucket, "evidence", timedelta(days=3), max_objects=2)
    apply_lifecycle(store.client, rule)
    assert current_lifecycle_days(store.client, bucket) == 3
    for i in range(5):
        store.put(bucket, f"ev/{i}.jpg", b"x" * (i + 1), "image/jpeg")
        time.sleep(0.01)
    now = datetime.now(UTC)
    dry = sweep_bucket(store.client, rule, now, dry_run=True)
    assert (dry.scanned, dry.over_limit, dry.deleted) == (5, 3, 0)
    done = sweep_bucket(store.client, rule, now, dry_run=False)
    assert done.deleted == 3 and not done.errors
    assert len(list(store.client.list_objects(bucket, recursive=True))) == 2
    # everything is older than a retention of zero seconds from an hour ahead
    later = sweep_bucket(
        store.client, BucketRetention(bucket, "frames", timedelta(0)), now + timedelta(hours=1), dry_run=False
    )
    assert later.expired == 2 and later.deleted == 2
