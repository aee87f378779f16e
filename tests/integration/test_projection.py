"""The PostgreSQL projection against the real stack: one row per anomaly whatever the redelivery, older revisions
never overwrite newer ones, operator actions applied once whatever their order, rebuild equals live after live,
analyze and action records, and a database outage commits nothing until it is back."""

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
from anomaly_core.topics import ANOMALY_ACTIONS, topic_name
from bench.fusion_scenarios import SCENARIOS
from fusion_app.events import to_event
from fusion_app.labels import read_labels
from fusion_app.offline import run_offline, with_offsets
from fusion_app.projection import Projection
from fusion_app.rebuild import rebuild
from fusion_app.rules import load_rules
from fusion_app.topics import FusionTopics
from reports.publish import publish_run
from schemas.convert import from_avro
from schemas.records import ActionKind, AnomalyAction, AnomalyEvent, Evidence, Resolution
from tests.integration._streaming import committed_offsets, end_offsets, produce_raw, service_thread, wait_until

pytestmark = pytest.mark.integration
RULES = load_rules()


@pytest.fixture(scope="module")
def dsn(pg_dsn: str) -> str:
    migrate(pg_dsn)
    return pg_dsn


@pytest.fixture
def anomaly_kafka(kafka_settings: KafkaSettings, make_topics, unique_prefix: str) -> KafkaSettings:
    make_topics(["anomalies.v1", "anomalies.actions.v1"])
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
    actions = topic_name(ANOMALY_ACTIONS, kafka.topic_prefix)
    return ServiceSpec(
        name="projection-test",
        group_id=kafka.topic_prefix + "projection",
        input_topics=[FusionTopics.for_prefix(kafka.topic_prefix).anomalies, actions],
        input_record=AnomalyEvent,
        input_records={actions: AnomalyAction},
        handler=projection.handler(),
        max_batch=50,
        max_wait_ms=10,
        backoff_initial_s=0.05,
        backoff_max_s=0.5,
    )


def caught_up(kafka: KafkaSettings) -> bool:
    for topic in (
        FusionTopics.for_prefix(kafka.topic_prefix).anomalies,
        topic_name(ANOMALY_ACTIONS, kafka.topic_prefix),
    ):
        committed = committed_offsets(kafka, kafka.topic_prefix + "projection", topic)
        if not all(committed.get(p, -1) >= end for p, end in end_offsets(kafka, topic).items() if end > 0):
            return False
    return True


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


def action(event: AnomalyEvent, kind: ActionKind, minute: int, **fields: Any) -> AnomalyAction:
    at = datetime(2025, 3, 1, 12, minute, tzinfo=UTC)
    return AnomalyAction(str(uuid.uuid4()), event.anomaly_id, event.camera_id, kind, "key:op-1", at, **fields)


def publish_actions(kafka: KafkaSettings, actions: list[AnomalyAction]) -> None:
    topic = topic_name(ANOMALY_ACTIONS, kafka.topic_prefix)
    with RegistryClient(kafka.schema_registry_url) as registry:
        serde = AvroSerde(registry)
        produce_raw(kafka, topic, [(a.camera_id.encode(), serde.encode(topic, a)) for a in actions])


def action_rows(dsn: str, ids: set[str]) -> list[dict[str, Any]]:
    with psycopg.connect(dsn, row_factory=dict_row) as conn:
        return conn.execute(
            "select * from anomaly_actions where anomaly_id = any(%s::uuid[]) order by action_id", (sorted(ids),)
        ).fetchall()


def test_rebuild_equals_live_after_live_analyze_and_operator_actions(
    anomaly_kafka: KafkaSettings, dsn: str, make_topics: Any, unique_prefix: str
):
    live_events = revisions(["fall", "fire"])
    # An analyze run fuses under its own prefix; its topics go away after publish_run copied them to the live log.
    run_id = f"run-{uuid.uuid4().hex[:6]}"
    make_topics([f"{unique_prefix}{run_id}.anomalies.v1"])
    run_kafka = anomaly_kafka.model_copy(update={"topic_prefix": f"{unique_prefix}{run_id}."})
    run_events = revisions(["help"])
    publish_events(run_kafka, run_events)
    first, second = live_events[0], run_events[-1]
    ack = action(first, ActionKind.ACKNOWLEDGE, 1, note="on my way")
    resolve = action(first, ActionKind.RESOLVE, 5, resolution=Resolution.FALSE_ALARM, note="a cat")
    assign = action(second, ActionKind.ASSIGN, 2, assignee="guard-7")
    with service_thread(sink_spec(anomaly_kafka, Projection(dsn)), anomaly_kafka):
        publish_events(anomaly_kafka, live_events)
        published = publish_run(anomaly_kafka, run_prefix=run_kafka.topic_prefix, run_id=run_id, dsn=dsn)
        assert published.events == len(run_events) and published.skipped == 0
        # The API publishes and applies at once; the sink applies the same records again, out of order here.
        publish_actions(anomaly_kafka, [resolve, ack, assign, ack])
        Projection(dsn).upsert([resolve])
        wait_until(lambda: caught_up(anomaly_kafka), timeout_s=60, what="the sink to commit everything")
    cameras = {e.camera_id for e in live_events + run_events}
    ids = {e.anomaly_id for e in live_events + run_events}
    live, live_actions = table(dsn, cameras), action_rows(dsn, ids)
    assert set(live) == ids and len(live_actions) == 3
    handled = live[first.anomaly_id]
    assert (handled["status"], handled["resolution"], handled["acknowledged_by"]) == (
        "RESOLVED",
        "FALSE_ALARM",
        "key:op-1",
    )
    assert handled["acknowledged_at"] == ack.at and handled["notes"] == ["on my way", "a cat"]
    assert live[second.anomaly_id]["assignee"] == "guard-7" and live[second.anomaly_id]["status"] == "NEW"
    assert {r["origin"] for i, r in live.items() if i in {e.anomaly_id for e in run_events}} == {"ANALYZE"}
    assert {r["run_id"] for i, r in live.items() if i in {e.anomaly_id for e in run_events}} == {run_id}

    exported = {label.anomaly_id: label.resolution for label in read_labels(dsn)}
    assert exported.get(first.anomaly_id) == "FALSE_ALARM"  # what `anomaly backtest labels` exports for tuning

    report = rebuild(anomaly_kafka, dsn)
    assert report.actions == 4 and report.skipped == 0
    assert table(dsn, cameras) == live
    assert action_rows(dsn, ids) == live_actions


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
