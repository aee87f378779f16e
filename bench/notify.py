"""``anomaly bench notify``: notify worker throughput and send latency, and what a replay costs.

N new alerts (one AnomalyEvent each) are published to private topics; one worker with one webhook target
delivers them to a local HTTP receiver (answers 204 at once, so the figure is the worker's, not a remote
service's). Then a fresh consumer group reads the same events again: every one is found already notified in
PostgreSQL and nothing is sent. Runs in a private database, dropped afterwards.
"""

from __future__ import annotations

import json
import statistics
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Annotated, Any
from urllib.parse import urlsplit, urlunsplit

import typer


@contextmanager
def _receiver() -> Iterator[tuple[str, list[float]]]:
    arrivals: list[float] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length", "0")))
            arrivals.append(time.perf_counter())
            self.send_response(204)
            self.end_headers()

        def log_message(self, *_args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hook", arrivals
    finally:
        server.shutdown()
        server.server_close()


@contextmanager
def _private_database(dsn: str) -> Iterator[str]:
    import psycopg
    from psycopg import sql

    parts = urlsplit(dsn)
    admin = urlunsplit((parts.scheme, parts.netloc, "/postgres", parts.query, ""))
    name = f"bench_notify_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(sql.SQL("create database {}").format(sql.Identifier(name)))
    try:
        yield urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, ""))
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(name)))


def _events(n: int) -> list[Any]:
    from bench.sample_events import anomaly_event
    from schemas.records import AnomalyKind

    return [anomaly_event(f"cam-{i % 8}", kinds=(AnomalyKind.FALL,)) for i in range(n)]


def _publish(kafka: Any, topic: str, events: list[Any]) -> None:
    from confluent_kafka import Producer

    from anomaly_core.registry import RegistryClient
    from anomaly_core.serde import AvroSerde

    producer = Producer({**kafka.client_config(), "enable.idempotence": True, "linger.ms": 5})
    with RegistryClient(kafka.schema_registry_url) as registry:
        serde = AvroSerde(registry)
        for e in events:
            producer.produce(topic, key=e.camera_id.encode(), value=serde.encode(topic, e))
            producer.poll(0)
    if producer.flush(30):
        raise RuntimeError("events not acknowledged by Kafka")


def _committed(kafka: Any, group: str, topic: str) -> int:
    from confluent_kafka import Consumer, TopicPartition

    consumer = Consumer({**kafka.client_config(), "group.id": group, "enable.auto.commit": False})
    try:
        partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
        return sum(max(0, tp.offset) for tp in consumer.committed([TopicPartition(topic, p) for p in partitions]))
    finally:
        consumer.close()


def _timed_run(kafka: Any, dsn: str, config: Any, group: str, *, done: Any, timeout_s: float = 300) -> float:
    from notify.service import run_worker
    from notify.settings import NotifySettings

    settings = NotifySettings(NOTIFY_GROUP_ID=group, NOTIFY_CONSUMER_START="earliest")
    stop = threading.Event()
    worker = threading.Thread(target=run_worker, args=(config, settings, kafka), kwargs={"dsn": dsn, "stop": stop})
    started = time.perf_counter()
    worker.start()
    try:
        deadline = started + timeout_s
        while not done() and time.perf_counter() < deadline:
            time.sleep(0.05)
        if not done():
            raise RuntimeError(f"the worker did not finish within {timeout_s:.0f} s")
        return time.perf_counter() - started
    finally:
        stop.set()
        worker.join(60)


def run_notify_bench(alerts: int) -> dict[str, Any]:
    import psycopg

    from anomaly_core.admin import admin_client, create_topics, delete_topic_subjects, delete_topics
    from anomaly_core.registry import RegistryClient
    from anomaly_core.settings import DatabaseSettings, KafkaSettings
    from anomaly_core.topics import ANOMALIES, ANOMALY_ACTIONS, DLQ, build_catalog, topic_name
    from notify.config import parse_config

    prefix = f"bench{uuid.uuid4().hex[:6]}."
    kafka = KafkaSettings().model_copy(update={"topic_prefix": prefix})
    wanted = {topic_name(b, prefix) for b in (ANOMALIES, ANOMALY_ACTIONS, DLQ)}
    admin = admin_client(kafka.client_config())
    create_topics(admin, [s for s in build_catalog(kafka, prefix=prefix) if s.name in wanted], replication=1)
    topic = topic_name(ANOMALIES, prefix)
    try:
        with _receiver() as (url, arrivals), _private_database(DatabaseSettings().url.get_secret_value()) as dsn:
            config = parse_config(f"targets: [{{name: bench, kind: webhook, url: '{url}', secret: bench}}]", env={})
            _publish(kafka, topic, _events(alerts))
            first_s = _timed_run(kafka, dsn, config, "notify", done=lambda: len(arrivals) >= alerts)
            sends_before = len(arrivals)
            replayed = lambda: _committed(kafka, prefix + "notify-replay", topic) >= alerts  # noqa: E731
            replay_s = _timed_run(kafka, dsn, config, "notify-replay", done=replayed)
            with psycopg.connect(dsn) as conn:
                latencies = [r[0] for r in conn.execute("select latency_ms from notifications where status = 'sent'")]
    finally:
        delete_topics(admin, sorted(wanted))
        with RegistryClient(kafka.schema_registry_url) as registry:
            delete_topic_subjects(registry, sorted(wanted))
    span_s = arrivals[sends_before - 1] - arrivals[0] if sends_before > 1 else 0.0
    ordered = sorted(latencies)
    return {
        "alerts": alerts,
        "notifications_sent": sends_before,
        "sent_again_on_replay": len(arrivals) - sends_before,
        "first_run_s": round(first_s, 2),
        "steady_notifications_per_s": round((sends_before - 1) / span_s, 1) if span_s > 0 else None,
        "send_latency_ms_p50": round(statistics.median(ordered), 2) if ordered else None,
        "send_latency_ms_p95": round(ordered[int(0.95 * (len(ordered) - 1))], 2) if ordered else None,
        "replay_s": round(replay_s, 2),
        "note": "first_run_s and replay_s include the worker's start and its consumer group join",
    }


def bench_notify(
    alerts: Annotated[int, typer.Option(help="New alerts to notify (one webhook each).", min=10)] = 500,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as one JSON object.")] = False,
) -> None:
    """Notify worker: webhook notifications per second, send latency, and a replay by a fresh group (0 sent)."""
    result = run_notify_bench(alerts)
    if as_json:
        typer.echo(json.dumps(result))
        return
    typer.echo(
        f"{result['notifications_sent']} notifications in {result['first_run_s']} s "
        f"({result['steady_notifications_per_s']}/s once running); send latency p50 "
        f"{result['send_latency_ms_p50']} ms, p95 {result['send_latency_ms_p95']} ms; replay by a fresh group "
        f"{result['replay_s']} s, {result['sent_again_on_replay']} sent again"
    )
