"""The PostgreSQL projection against the real stack: one row per anomaly whatever the redelivery, older revisions
never overwrite newer ones, rebuild equals live, and a database outage commits nothing until it is back."""

from __future__ import annotations

import random
import re
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import psycopg
import pytest
from psycopg.rows import dict_row

from anomaly_core.db import migrate
from anomaly_core.registry import RegistryClient
from anomaly_core.runtime import ServiceSpec
from anomaly_core.serde import AvroSerde
from anomaly_core.settings import KafkaSettings
from bench.fusion_scenarios import SCENARIOS
from fusion_app.codecs import FusionTopics
from fusion_app.events import to_event
from fusion_app.offline import run_offline, with_offsets
from fusion_app.projection import Projection
from fusion_app.rebuild import rebuild
from fusion_app.rules import load_rules
from schemas.convert import from_avro
from schemas.records import AnomalyEvent, Evidence
from tests.integration._streaming import committed_offsets, end_offsets, produce_raw, service_thread, wait_until

pytestmark = pytest.mark.integration
RULES = load_rules()


@pytest.fixture(scope="module")
def dsn(pg_dsn: str) -> str:
    migrate(pg_dsn)
    return pg_dsn


@pytest.fixture
def anomaly_kafka(kafka_settings: KafkaSettings, make_topics, unique_prefix: str) -> KafkaSettings:
    make_topics(["anomalies.v1"])
    return kafka_settings.model_copy(update={"topic_prefix": unique_prefix})


def revisions(names: list[str]) -> list[AnomalyEvent]:
    """Every revision the fusion publishes for the scripted scenarios, in publish order."""
    t0 = (int(datetime.now(UTC).timestamp()) - 60) * 1000
    records = sorted(
        (r for name in names for r in SCENARIOS[name](f"{name}-{uuid.uuid4().hex[:6]}", t0)), key=lambda r: r.event_time
    )
    run = run_offline(with_offsets(records), RULES, batch_size=7)
    return [to_event(i, datetime.now(UTC).replace(microsecond=0)) for i in run.published]


def publish_events(kafka: KafkaSettings, events: list[AnomalyEvent]) -> None:
    topic = FusionTopics.for_prefix(kafka.topic_prefix).anomalies
    with RegistryClient(kafka.schema_registry_url) as registry:
        serde = AvroSerde(registry)
        produce_raw(kafka, topic, [(e.camera_id.encode(), serde.encode(topic, e)) for e in events])


def sink_spec(kafka: KafkaSettings, projection: Projection) -> ServiceSpec[AnomalyEvent]:
    return ServiceSpec(
        name="projection-test",
        group_id=kafka.topic_prefix + "projection",
        input_topics=[FusionTopics.for_prefix(kafka.topic_prefix).anomalies],
        input_record=AnomalyEvent,
        handler=projection.handler(),
        max_batch=50,
        max_wait_ms=10,
        backoff_initial_s=0.05,
        backoff_max_s=0.5,
    )


def caught_up(kafka: KafkaSettings) -> bool:
    topic = FusionTopics.for_prefix(kafka.topic_prefix).anomalies
    committed = committed_offsets(kafka, kafka.topic_prefix + "projection", topic)
    return all(committed.get(p, -1) >= end for p, end in end_offsets(kafka, topic).items() if end > 0)


def table(dsn: str, cameras: set[str]) -> dict[str, dict[str, Any]]:
    with psycopg.connect(dsn, row_factory=dict_row) as conn:
        rows = conn.execute("select * from anomalies where camera_id = any(%s)", (sorted(cameras),)).fetchall()
    return {str(r["anomaly_id"]): {k: v for k, v in r.items() if k not in ("created_at", "updated_at")} for r in rows}


def test_one_row_per_anomaly_with_its_newest_revision_whatever_the_redelivery(anomaly_kafka: KafkaSettings, dsn: str):
    events = revisions(["fall", "help", "fire"])
    newest = {e.anomaly_id: e for e in events}  # publish order: the last one of each id is its newest revision
    # Redelivery and disorder: everything twice, shuffled, plus a stale first revision after everything.
    noisy = events + random.Random(7).sample(events, len(events)) + [e for e in events if e.revision == 1]
    publish_events(anomaly_kafka, noisy)
    with service_thread(sink_spec(anomaly_kafka, Projection(dsn)), anomaly_kafka):
        wait_until(lambda: caught_up(anomaly_kafka), timeout_s=60, what="the sink to commit everything")
    rows = table(dsn, {e.camera_id for e in events})
    assert set(rows) == set(newest)
    for anomaly_id, row in rows.items():
        event = newest[anomaly_id]
        assert row["revision"] == event.revision and row["state"] == "CLOSED"
        assert row["kinds"] == [k.value for k in event.kinds]
        assert row["reasons"] == event.reasons
        # Evidence and lineage are stored in their Avro shape: the API reads them back as records.
        assert from_avro(Evidence, row["evidence"]) == event.evidence
        assert len(row["lineage"]) == len(event.lineage)


def test_rebuild_equals_live(anomaly_kafka: KafkaSettings, dsn: str):
    events = revisions(["fall", "fire", "fight", "help"])
    publish_events(anomaly_kafka, events + events[::3])
    with service_thread(sink_spec(anomaly_kafka, Projection(dsn)), anomaly_kafka):
        wait_until(lambda: caught_up(anomaly_kafka), timeout_s=60, what="the sink to commit everything")
    cameras = {e.camera_id for e in events}
    live = table(dsn, cameras)
    assert len(live) == len({e.anomaly_id for e in events})
    report = rebuild(anomaly_kafka, dsn)
    assert report.events == len(events) + len(events[::3]) and report.rows == len(live) and report.skipped == 0
    assert table(dsn, cameras) == live


def test_database_down_retries_without_committing(anomaly_kafka: KafkaSettings, dsn: str):
    events = revisions(["fire"])
    publish_events(anomaly_kafka, events)
    projection = Projection(re.sub(r"@[^/]+/", "@127.0.0.1:9/", dsn))  # nothing listens on port 9
    group, topic = (
        anomaly_kafka.topic_prefix + "projection",
        FusionTopics.for_prefix(anomaly_kafka.topic_prefix).anomalies,
    )
    with service_thread(sink_spec(anomaly_kafka, projection), anomaly_kafka):
        time.sleep(3.0)  # several retries against a database that is down
        assert all(o < 0 for o in committed_offsets(anomaly_kafka, group, topic).values()), "committed while down"
        projection.dsn = dsn  # the database is back
        wait_until(lambda: caught_up(anomaly_kafka), timeout_s=60, what="the sink to catch up after the outage")
    assert set(table(dsn, {e.camera_id for e in events})) == {e.anomaly_id for e in events}
