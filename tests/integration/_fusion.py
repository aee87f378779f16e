"""Helpers of the fusion and projection integration tests: private topics, scripted scores, the Faust worker as
its own process (as deployed), and reading anomalies back."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml
from confluent_kafka import Producer

from anomaly_core.registry import RegistryClient
from anomaly_core.serde import AvroSerde
from anomaly_core.settings import KafkaSettings
from fusion_app.offline import run_offline, with_offsets
from fusion_app.rules import Rules, load_rules
from fusion_app.topics import FusionTopics
from schemas.records import AnomalyEvent, AnomalyKind
from tests.integration._streaming import read_until

REPO = Path(__file__).resolve().parents[2]


def recent_t0() -> int:
    """Event time for scripted streams: 20 s ago, whole seconds (within the rules' clock-skew bound)."""
    return (int(time.time()) - 20) * 1000


def fast_rules(tmp_path: Path) -> tuple[Rules, Path]:
    """The packaged rules with a short idle timeout (the last incident of a test closes within seconds)."""
    data = load_rules().model_dump(mode="json")
    data["version"] = "test-1"
    data["windows"]["idle_timeout_ms"] = 1500
    path = tmp_path / "rules.yaml"
    path.write_text(yaml.safe_dump(data))
    return load_rules(path), path


def publish(kafka: KafkaSettings, records: Iterable[Any], *, raw: Iterable[tuple[str, bytes, bytes]] = ()) -> None:
    """Score records on their topics (keyed by camera, Avro through the registry) and raw (topic, key, value)s.

    Every record must be acknowledged: one whose delivery failed (a topic created a moment ago can still be
    unknown to the producer's metadata) is sent again, and a record that still fails fails the test."""
    topics = FusionTopics.for_prefix(kafka.topic_prefix)
    topic_of = {
        "PoseScore": topics.pose, "SceneScore": topics.scene, "AudioScore": topics.audio,
        "CaptionScore": topics.caption,
    }  # fmt: skip
    with RegistryClient(kafka.schema_registry_url) as registry:
        serde = AvroSerde(registry)
        todo = [
            (topic_of[type(r).__name__], r.camera_id.encode(), serde.encode(topic_of[type(r).__name__], r))
            for r in records
        ]
    todo += list(raw)
    producer = Producer({**kafka.client_config(), "enable.idempotence": True, "linger.ms": 5})
    for _attempt in range(3):
        failed = _send_all(producer, todo)
        if not failed:
            return
        todo = [item for item, _ in failed]
        time.sleep(1.0)
    raise AssertionError(f"{len(failed)} records not delivered: {[err for _, err in failed][:3]}")


def _send_all(producer: Producer, items: list[tuple[str, bytes, bytes]]) -> list[tuple[tuple[str, bytes, bytes], str]]:
    """Produces ``items`` and waits; the ones whose delivery failed, with the error."""
    failed: list[tuple[tuple[str, bytes, bytes], str]] = []
    for item in items:

        def done(err: Any, _msg: Any, item: tuple[str, bytes, bytes] = item) -> None:
            if err is not None:
                failed.append((item, str(err)))

        producer.produce(item[0], value=item[2], key=item[1], on_delivery=done)
        producer.poll(0)
    assert producer.flush(30) == 0
    return failed


def anomalies(
    kafka: KafkaSettings, done: Any = None, *, timeout_s: float = 60.0, topic: str | None = None
) -> list[AnomalyEvent]:
    """Decoded events of anomalies.v1 (or ``topic``), read until ``done(events)`` holds."""
    name = topic or FusionTopics.for_prefix(kafka.topic_prefix).anomalies
    with RegistryClient(kafka.schema_registry_url) as registry:
        serde = AvroSerde(registry)

        def decoded(records: list[Any]) -> list[AnomalyEvent]:
            return [serde.decode(name, r.value(), AnomalyEvent) for r in records]

        records = read_until(kafka, name, lambda rs: done is not None and done(decoded(rs)), timeout_s=timeout_s)
        return decoded(records)


def expected_ids(records: list[Any], rules: Rules) -> dict[str, tuple[str, tuple[AnomalyKind, ...]]]:
    """What an uninterrupted in-memory run of the same scores decides: anomaly id -> (camera, kinds)."""
    run = run_offline(with_offsets(records), rules, batch_size=50)
    return {i.anomaly_id: (i.camera_id, i.kinds) for i in run.latest().values()}


def latest(events: list[AnomalyEvent]) -> dict[str, AnomalyEvent]:
    rows: dict[str, AnomalyEvent] = {}
    for e in events:
        if e.anomaly_id not in rows or e.revision >= rows[e.anomaly_id].revision:
            rows[e.anomaly_id] = e
    return rows


def all_closed(expected: int) -> Any:
    def check(events: list[AnomalyEvent]) -> bool:
        rows = latest(events)
        return len(rows) >= expected and all(e.state.value == "CLOSED" for e in rows.values())

    return check


@contextmanager
def worker_running(kafka: KafkaSettings, rules_path: Path, log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """``anomaly fusion worker`` for the duration of the block; it must stop on SIGTERM with exit code 0."""
    worker = worker_process(kafka, rules_path, log)
    try:
        yield worker
    finally:
        worker.send_signal(signal.SIGTERM)
        code = worker.wait(60)
    assert code == 0, log.read_text()[-3000:]


def worker_env(kafka: KafkaSettings, rules_path: Path) -> dict[str, str]:
    """The environment of ``anomaly fusion worker`` on ``kafka``'s prefixed topics, with fast ticks and checkpoints."""
    return {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": kafka.bootstrap_servers,
        "SCHEMA_REGISTRY_URL": kafka.schema_registry_url,
        "KAFKA_TOPIC_PREFIX": kafka.topic_prefix,
        "FUSION_RULES": str(rules_path),
        "FUSION_TICK_MS": "100",
        "FUSION_CHECKPOINT_MS": "200",
        "FUSION_MAX_WAIT_MS": "5",
        "FUSION_INSTANCE_ID": f"fusion-{kafka.topic_prefix}",
        "LOG_LEVEL": "INFO",
    }


def worker_process(kafka: KafkaSettings, rules_path: Path, log: Path) -> subprocess.Popen[bytes]:
    """``anomaly fusion worker`` in a child process (so it can be killed with SIGKILL)."""
    out = log.open("ab")
    return subprocess.Popen(
        [sys.executable, "-m", "anomaly_cli.main", "fusion", "worker"],
        cwd=REPO,
        env=worker_env(kafka, rules_path),
        stdout=out,
        stderr=out,
    )
