"""Encryption at rest against the real MinIO: what the platform writes reports server-side encryption, the stack's
buckets use the stack's own KMS key, and a stack started before that key existed is moved onto it by `up`."""

from __future__ import annotations

import shutil
import stat
import tempfile
import threading
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from anomaly_core.objectstore import ObjectStore, encryption_of
from anomaly_core.settings import DatabaseSettings, KafkaSettings, ObjectStoreSettings, StackSettings
from devstack import kms_key, process
from devstack.health import ProbeError
from devstack.manager import Stack
from devstack.minio import Minio
from devstack.paths import StackPaths
from devstack.ports import free_port
from devstack.service import StackContext
from producers.pipeline import PipelineOptions
from producers.runner import build_services, make_pipeline
from producers.sources import ReadOptions, parse_source
from tests.integration._streaming import wait_until
from tests.media_fixtures import tone_clip

pytestmark = pytest.mark.integration
T0 = datetime(2026, 4, 1, 12, 0, tzinfo=UTC)


def _answers(minio: Minio) -> bool:
    try:
        minio.probe(deep=False, timeout_s=2.0)
    except ProbeError:
        return False
    return True


def _remove_buckets(store: ObjectStore, buckets: list[str]) -> None:
    for name in buckets:
        if store.client.bucket_exists(name):
            for obj in store.client.list_objects(name, recursive=True):
                store.client.remove_object(name, obj.object_name)
            store.client.remove_bucket(name)


@pytest.fixture
def new_buckets(object_store_settings: ObjectStoreSettings) -> Iterator[ObjectStoreSettings]:
    """Settings naming frames/audio/evidence buckets that do not exist yet (the platform creates them)."""
    tag = uuid.uuid4().hex[:10]
    settings = object_store_settings.model_copy(
        update={f"{kind}_bucket": f"t-{kind}-{tag}" for kind in ("frames", "audio", "evidence")}
    )
    yield settings
    _remove_buckets(
        ObjectStore.from_settings(settings), [settings.frames_bucket, settings.audio_bucket, settings.evidence_bucket]
    )


def test_stack_buckets_use_the_stacks_own_kms_key(object_store_settings: ObjectStoreSettings) -> None:
    minio = Minio(StackContext.from_env())
    mode = stat.S_IMODE(minio.kms_key_path.stat().st_mode)
    assert mode == 0o600, f"{minio.kms_key_path} has mode {mode:o}"
    name, _ = kms_key.parse_key(kms_key.read_key(minio.kms_key_path))
    store = ObjectStore.from_settings(object_store_settings)
    for bucket in minio.buckets:
        config = store.client.get_bucket_encryption(bucket)
        assert config is not None, f"{bucket} has no default encryption"
        assert (config.rule.sse_algorithm, config.rule.kms_master_key_id) == ("aws:kms", name), bucket
    key = f"t-encryption/{uuid.uuid4().hex}.jpg"
    store.put(object_store_settings.evidence_bucket, key, b"\xff\xd8evidence", "image/jpeg")
    try:
        meta = store.client.stat_object(object_store_settings.evidence_bucket, key).metadata
        assert meta is not None and encryption_of(meta) == "aws:kms"
        assert meta["X-Amz-Server-Side-Encryption-Aws-Kms-Key-Id"].endswith(name)
    finally:
        store.client.remove_object(object_store_settings.evidence_bucket, key)


def test_every_frame_audio_chunk_and_evidence_object_is_encrypted(
    tmp_path: Path,
    kafka_settings: KafkaSettings,
    new_buckets: ObjectStoreSettings,
    unique_prefix: str,
    make_topics: Callable[[list[str]], dict[str, str]],
) -> None:
    make_topics(["media.frames.v1", "media.audio.v1"])
    kafka = kafka_settings.model_copy(update={"topic_prefix": unique_prefix})
    clip = tone_clip(tmp_path / "clip.mp4", 3, fps=5, width=96, height=64)
    services = build_services(kafka, new_buckets, client_id="t-encryption", kafka_timeout_s=30, store_timeout_s=30)
    opts = PipelineOptions(camera_id="cam-sse", rate=1.0, origin=T0, audio_chunk_seconds=1.0)
    stats = make_pipeline(parse_source(str(clip)), ReadOptions(), opts, services, threading.Event()).run()
    assert stats.frames_published > 0
    store = services.store
    store.ensure_bucket(new_buckets.evidence_bucket)  # as the evidence writer does before its first clip
    store.put(new_buckets.evidence_bucket, "evidence/cam-sse/clip.mp4", clip.read_bytes(), "video/mp4")

    written = {
        bucket: [o.object_name for o in store.client.list_objects(bucket, recursive=True)]
        for bucket in (new_buckets.frames_bucket, new_buckets.audio_bucket, new_buckets.evidence_bucket)
    }
    assert all(written.values()), written
    clear = [f"{b}/{k}" for b, keys in written.items() for k in keys if store.encryption(b, k) is None]
    assert clear == [], f"stored without server-side encryption: {clear}"


def test_kms_setting_names_the_key_of_new_buckets(new_buckets: ObjectStoreSettings) -> None:
    name, _ = kms_key.parse_key(kms_key.read_key(Minio(StackContext.from_env()).kms_key_path))
    store = ObjectStore.from_settings(new_buckets.model_copy(update={"sse": "kms", "sse_kms_key_id": name}))
    store.ensure_bucket(new_buckets.frames_bucket)
    store.put(new_buckets.frames_bucket, "frames/cam/x.jpg", b"\xff\xd8", "image/jpeg")
    assert store.encryption(new_buckets.frames_bucket, "frames/cam/x.jpg") == "aws:kms"


@pytest.fixture
def private_stack() -> Iterator[StackContext]:
    """A stack folder and MinIO port of this test only (the shared MinIO is never restarted by tests)."""
    root = Path(tempfile.mkdtemp(prefix="anomaly-kms-test-"))
    stack = StackSettings(STACK_DIR=root)
    s3 = ObjectStoreSettings(S3_ENDPOINT_URL=f"http://127.0.0.1:{free_port()}")
    ctx = StackContext(stack, KafkaSettings(), DatabaseSettings(), s3, StackPaths.from_settings(stack))
    yield ctx
    Stack(ctx).down(["minio"])
    shutil.rmtree(root, ignore_errors=True)


def test_up_restarts_a_minio_started_without_the_key_and_encrypts_from_then_on(private_stack: StackContext) -> None:
    minio = Minio(private_stack)
    if not minio.installed():
        pytest.skip("MinIO is not built yet; `anomaly stack up` builds it")
    # What an older checkout left running: MinIO without a KMS key, and no key file.
    minio.prepare()
    launch = minio.launch()
    old = process.spawn(
        process.Launch(launch.argv, {k: v for k, v in launch.env.items() if k != "MINIO_KMS_SECRET_KEY"}, launch.cwd),
        minio.log_path,
        minio.pidfile,
    )
    minio.kms_key_path.unlink()
    store = ObjectStore.from_settings(private_stack.s3.model_copy(update={"sse": "off"}))
    wait_until(lambda: _answers(minio), timeout_s=60, what="MinIO without a key")
    bucket = private_stack.s3.frames_bucket
    store.ensure_bucket(bucket)
    store.put(bucket, "frames/cam/before.jpg", b"\xff\xd8before", "image/jpeg")

    result = Stack(private_stack).up(["minio"])
    assert result.started == ["minio"] and not process.is_alive(old)
    assert stat.S_IMODE(minio.kms_key_path.stat().st_mode) == 0o600
    store.put(bucket, "frames/cam/after.jpg", b"\xff\xd8after", "image/jpeg")
    assert store.encryption(bucket, "frames/cam/after.jpg") == "aws:kms"
    # Objects written before the migration stay readable, and stay unencrypted (docs/security.md says so).
    assert store.encryption(bucket, "frames/cam/before.jpg") is None
    assert store.client.get_object(bucket, "frames/cam/before.jpg").read() == b"\xff\xd8before"

    again = Stack(private_stack).up(["minio"])
    assert again.already_running == ["minio"] and again.started == []
