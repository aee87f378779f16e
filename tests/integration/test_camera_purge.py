"""`anomaly cameras purge` against the real MinIO and PostgreSQL: the purged camera leaves nothing in the buckets or
in any table (found by their columns, so tables added later are checked too), and the other camera keeps all."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from anomaly_core.db import migrate
from anomaly_core.objectstore import ObjectStore
from anomaly_core.purge import key_tables
from anomaly_core.settings import ObjectStoreSettings
from bench.sample_events import anomaly_event
from tests.api_harness import insert_anomalies, insert_camera

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
T0 = datetime(2026, 4, 1, 12, 0, tzinfo=UTC)
GONE, KEPT = "cam-gone", "cam-kept"


@pytest.fixture
def buckets(object_store_settings: ObjectStoreSettings) -> Iterator[ObjectStoreSettings]:
    tag = uuid.uuid4().hex[:10]
    settings = object_store_settings.model_copy(
        update={f"{kind}_bucket": f"t-purge-{kind}-{tag}" for kind in ("frames", "audio", "evidence")}
    )
    store = ObjectStore.from_settings(settings)
    names = [settings.frames_bucket, settings.audio_bucket, settings.evidence_bucket]
    for name in names:
        store.ensure_bucket(name)
    yield settings
    for name in names:
        for obj in store.client.list_objects(name, recursive=True):
            store.client.remove_object(name, obj.object_name or "")
        store.client.remove_bucket(name)


def _seed(dsn: str, settings: ObjectStoreSettings, camera: str) -> None:
    """Media of every kind, a registry entry, an anomaly whose evidence names an object outside the camera's
    folders, and a row in each table that hangs off an anomaly."""
    store = ObjectStore.from_settings(settings)
    day = "2026/04/01"
    frame = store.put(
        settings.frames_bucket, f"frames/{camera}/{day}/{'a' * 64}.jpg", b"\xff\xd8" + camera.encode(), "image/jpeg"
    )
    store.put(settings.audio_bucket, f"audio/{camera}/{day}/{'b' * 64}.wav", b"RIFF" + camera.encode(), "audio/wav")
    store.put(settings.evidence_bucket, f"evidence/{camera}/clip.mp4", b"mp4" + camera.encode(), "video/mp4")
    shared = store.put(settings.evidence_bucket, f"exports/{camera}-frame.jpg", b"\xff\xd8", "image/jpeg")
    event = anomaly_event(camera, best_frame=shared, start=T0)
    insert_anomalies(dsn, [event, anomaly_event(camera, best_frame=frame, start=T0)])
    insert_camera(dsn, camera)
    with psycopg.connect(dsn) as conn:
        conn.execute("insert into anomaly_acks (anomaly_id, acked_by) values (%s, 'key:ops')", (event.anomaly_id,))
        tables = {t.name for t in key_tables(conn)}
        if "anomaly_actions" in tables:
            conn.execute(
                "insert into anomaly_actions (action_id, anomaly_id, camera_id, kind, actor, at)"
                " values (%s, %s, %s, 'NOTE', 'key:ops', now())",
                (str(uuid.uuid4()), event.anomaly_id, camera),
            )
        if "notifications" in tables:
            conn.execute(
                "insert into notifications (anomaly_id, step, target, camera_id, revision, channel, change, status,"
                " detail, idempotency_key) values (%s, 'r1', 'ops', %s, 1, 'webhook', 'new', 'sent', '', 'k')",
                (event.anomaly_id, camera),
            )


def _purge(dsn: str, settings: ObjectStoreSettings, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "DATABASE_URL": dsn,
        "S3_ENDPOINT_URL": settings.endpoint_url,
        "S3_ACCESS_KEY": settings.access_key.get_secret_value(),
        "S3_SECRET_KEY": settings.secret_key.get_secret_value(),
        "S3_FRAMES_BUCKET": settings.frames_bucket,
        "S3_AUDIO_BUCKET": settings.audio_bucket,
        "S3_EVIDENCE_BUCKET": settings.evidence_bucket,
    }
    return subprocess.run(
        [sys.executable, "-m", "anomaly_cli.main", "cameras", "purge", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _objects(settings: ObjectStoreSettings, camera: str) -> list[str]:
    store = ObjectStore.from_settings(settings)
    names = [settings.frames_bucket, settings.audio_bucket, settings.evidence_bucket]
    return [
        f"{bucket}/{o.object_name}"
        for bucket in names
        for o in store.client.list_objects(bucket, recursive=True)
        if camera in (o.object_name or "")
    ]


def _rows(dsn: str, camera: str) -> dict[str, int]:
    """The camera's rows in every table with a camera_id column, and in anomaly_acks (keyed by anomaly only)."""
    with psycopg.connect(dsn) as conn:
        counts = {
            t.name: conn.execute(
                sql.SQL("select count(*) from {} where camera_id = %s").format(sql.Identifier(t.name)), (camera,)
            ).fetchone()[0]  # type: ignore[index]
            for t in key_tables(conn)
            if t.camera
        }
        counts["anomaly_acks"] = conn.execute(
            "select count(*) from anomaly_acks where acked_by = 'key:ops' and anomaly_id not in"
            " (select anomaly_id from anomalies)"
        ).fetchone()[0]  # type: ignore[index]
    return counts


def test_purge_leaves_nothing_of_the_camera_and_everything_of_the_others(
    pg_dsn: str, buckets: ObjectStoreSettings
) -> None:
    migrate(pg_dsn)
    for camera in (GONE, KEPT):
        _seed(pg_dsn, buckets, camera)
    before = _rows(pg_dsn, KEPT)

    refused = _purge(pg_dsn, buckets, GONE, "--json")
    assert refused.returncode == 2 and "--yes" in refused.stderr
    dry = _purge(pg_dsn, buckets, GONE, "--dry-run", "--json")
    assert dry.returncode == 0, dry.stderr
    counted = json.loads(dry.stdout)
    assert counted["dry_run"] and counted["total_objects"] == 4 and counted["rows"]["anomaly_acks"] == 1
    assert len(_objects(buckets, GONE)) == 4  # nothing removed yet

    done = _purge(pg_dsn, buckets, GONE, "--yes", "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["registered"] and report["total_objects"] == 4
    assert report["rows"] == counted["rows"] and report["rows"]["anomalies"] == 2 and report["rows"]["cameras"] == 1
    assert _objects(buckets, GONE) == []
    assert all(n == 0 for n in _rows(pg_dsn, GONE).values()), _rows(pg_dsn, GONE)

    assert len(_objects(buckets, KEPT)) == 4
    assert _rows(pg_dsn, KEPT) == before
