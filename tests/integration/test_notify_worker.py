"""The notify worker on the real stack: anomaly events and actions in, webhooks out; restarted mid-stream and
replayed by a fresh consumer group without a notification lost or sent twice; a failed target dead-lettered with
its reason; an alert nobody acknowledged escalated, an acknowledged one not."""

from __future__ import annotations

import threading
import uuid
from collections import Counter
from typing import Any

import psycopg
import pytest

from anomaly_core.db import migrate
from anomaly_core.registry import RegistryClient
from anomaly_core.serde import AvroSerde
from anomaly_core.settings import KafkaSettings, ObjectStoreSettings
from anomaly_core.topics import ANOMALIES, ANOMALY_ACTIONS, DLQ, topic_name
from notify.config import NotifyConfig, parse_config
from notify.service import run_worker
from notify.settings import NotifySettings
from schemas.records import ActionKind, AnomalyKind, AnomalyState, DeadLetter, Severity
from tests.integration._notify import Hook, action, event, hook_server
from tests.integration._streaming import in_thread, produce_raw, read_until, wait_until

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def dsn(pg_dsn: str) -> str:
    migrate(pg_dsn)
    return pg_dsn


@pytest.fixture
def notify_kafka(kafka_settings: KafkaSettings, make_topics: Any, unique_prefix: str) -> KafkaSettings:
    make_topics([ANOMALIES, ANOMALY_ACTIONS, DLQ], partitions=3)
    return kafka_settings.model_copy(update={"topic_prefix": unique_prefix, "consumer_start": "earliest"})


def publish(kafka: KafkaSettings, base: str, records: list[Any]) -> None:
    topic = topic_name(base, kafka.topic_prefix)
    with RegistryClient(kafka.schema_registry_url) as registry:
        serde = AvroSerde(registry)
        produce_raw(kafka, topic, [(r.camera_id.encode(), serde.encode(topic, r)) for r in records])


def routing(hook: Hook) -> NotifyConfig:
    return parse_config(
        f"""
targets:
  - {{name: ops, kind: webhook, url: '{hook.url}/ops', secret: '${{OPS_SECRET}}', cameras: [cam-a, cam-b, cam-c],
     escalate_after_minutes: 0.05, escalate_to: lead, retries: {{attempts: 2, initial_s: 0.01}}}}
  - {{name: lead, kind: webhook, url: '{hook.url}/lead', secret: '${{OPS_SECRET}}', format: teams,
     min_severity: CRITICAL, notify_on: [escalated]}}
  - {{name: broken, kind: webhook, url: '{hook.url}/broken', secret: '${{OPS_SECRET}}', cameras: [cam-x],
     retries: {{attempts: 2, initial_s: 0.01, max_s: 0.02}}}}
""",
        env={"OPS_SECRET": "s3cret"},
    )


def run(config: NotifyConfig, kafka: KafkaSettings, dsn: str, group: str, stop: threading.Event) -> Any:
    settings = NotifySettings(
        NOTIFY_GROUP_ID=group, NOTIFY_ESCALATION_POLL_SECONDS=0.2, NOTIFY_CONSUMER_START="earliest"
    )
    return in_thread(
        lambda: run_worker(config, settings, kafka, dsn=dsn, store_settings=ObjectStoreSettings(), stop=stop),
        stop,
        name=f"notify-{group}",
        what="notify worker",
    )


def rows(dsn: str, anomaly_ids: set[str]) -> list[tuple[str, str, str, str]]:
    with psycopg.connect(dsn) as conn:
        found = conn.execute(
            "select anomaly_id::text, step, target, status from notifications where anomaly_id::text = any(%s)",
            (list(anomaly_ids),),
        ).fetchall()
    return [(a, s, t, st) for a, s, t, st in found]


def test_restart_and_replay_lose_nothing_and_send_nothing_twice(notify_kafka: KafkaSettings, dsn: str) -> None:
    ids = {name: str(uuid.uuid4()) for name in ("a1", "a2", "b1", "c1")}
    first = [
        event(ids["a1"], "cam-a", 1),
        event(ids["b1"], "cam-b", 1, severity=Severity.CRITICAL),
        event(ids["c1"], "cam-c", 1),
    ]
    # Refreshes that change nothing a person needs to know, then real changes.
    middle = [
        event(ids["a1"], "cam-a", 2),
        event(ids["b1"], "cam-b", 2, severity=Severity.CRITICAL, kinds=(AnomalyKind.FALL, AnomalyKind.VIOLENCE)),
        event(ids["c1"], "cam-c", 2),
    ]
    last = [
        event(ids["a1"], "cam-a", 3, state=AnomalyState.CLOSED),
        event(ids["a2"], "cam-a", 1),
        event(ids["c1"], "cam-c", 3),
    ]
    expected_ops = {
        f"{ids['a1']}:1:r1",
        f"{ids['b1']}:1:r1",
        f"{ids['c1']}:1:r1",
        f"{ids['b1']}:2:r2",  # a new kind
        f"{ids['a1']}:3:r3",  # closed
        f"{ids['a2']}:1:r1",
    }
    with hook_server(b"s3cret") as hook:
        config = routing(hook)
        # Everyone handles a1, a2 and b1 at once; c1 is acknowledged, so only it is not escalated.
        publish(notify_kafka, ANOMALY_ACTIONS, [action(ids["c1"], "cam-c", ActionKind.ACKNOWLEDGE)])
        publish(notify_kafka, ANOMALIES, first)
        stop = threading.Event()
        with run(config, notify_kafka, dsn, "notify", stop):
            wait_until(lambda: len(hook.keys("/ops")) >= 3, timeout_s=60, what="the first notifications")
            publish(notify_kafka, ANOMALIES, middle)
        # Stopped mid-stream; the rest arrives while no worker runs.
        publish(notify_kafka, ANOMALIES, last)
        with run(config, notify_kafka, dsn, "notify", threading.Event()):
            wait_until(lambda: set(hook.keys("/ops")) >= expected_ops, timeout_s=60, what="every notification")
            # Escalation: a1, a2 and b1 were not acknowledged; the lead target only wants CRITICAL ones (b1).
            wait_until(lambda: len(hook.keys("/lead")) >= 1, timeout_s=60, what="the escalation")
        # A fresh consumer group reads everything again (as after lost offsets): the table stops every repeat.
        replay_stop = threading.Event()
        with run(config, notify_kafka, dsn, "notify-replay", replay_stop):
            group_read = len(first) + len(middle) + len(last)
            wait_until(
                lambda: _consumed(dsn, "notify-replay", notify_kafka, group_read),
                timeout_s=60,
                what="the replay group to read every event",
            )
        ops = hook.keys("/ops")
        assert Counter(ops) == Counter(expected_ops), "each change notified exactly once"
        assert all(r["signed"] for r in hook.requests)
        lead = hook.received("/lead")
        assert [(r["body"]["type"], r["headers"]["Idempotency-Key"].split(":")[::2]) for r in lead] == [
            ("message", [ids["b1"], "e1"])  # the Teams format; the revision is whichever was newest then
        ]
        recorded = rows(dsn, set(ids.values()))
        assert len(recorded) == len(set(recorded)) == len(expected_ops) + 1
        assert all(status == "sent" for *_, status in recorded)


def _consumed(dsn: str, group: str, kafka: KafkaSettings, total: int) -> bool:
    from tests.integration._streaming import committed_offsets

    topic = topic_name(ANOMALIES, kafka.topic_prefix)
    return sum(max(0, o) for o in committed_offsets(kafka, kafka.topic_prefix + group, topic).values()) >= total


def test_a_failed_target_is_dead_lettered_with_its_reason(notify_kafka: KafkaSettings, dsn: str) -> None:
    anomaly_id = str(uuid.uuid4())
    with hook_server(b"s3cret", {"/broken": [503]}) as hook:
        publish(notify_kafka, ANOMALIES, [event(anomaly_id, "cam-x", 1)])
        stop = threading.Event()
        with run(routing(hook), notify_kafka, dsn, "notify", stop):
            letters = read_until(notify_kafka, topic_name(DLQ, notify_kafka.topic_prefix), lambda r: len(r) >= 1)
        assert len(hook.received("/broken")) == 2  # retried once, then given up
    with RegistryClient(notify_kafka.schema_registry_url) as registry:
        letter = AvroSerde(registry).decode(letters[0].topic(), letters[0].value(), DeadLetter)
    assert letter.service == "notify/broken"
    assert "HTTP 503" in letter.reason and anomaly_id in letter.reason
    assert letter.original_topic == topic_name(ANOMALIES, notify_kafka.topic_prefix)
    assert rows(dsn, {anomaly_id}) == [(anomaly_id, "r1", "broken", "failed")]
