"""``anomaly bench fusion``: fusion throughput on one worker, and alert latency from score to committed row.

Both phases run against the real stack, on private topics (a fresh prefix) and a private database schema:

* throughput: scripted score streams for many cameras are produced first, then one ``anomaly fusion worker``
  (the Faust app, its own process) drains them; the figure is score events per second between the first and the
  last record it read, sampled from its Prometheus counter every 20 ms (decode, validate, windows, fuse,
  incidents, checkpoints, commits included);
* latency: ``anomaly fusion worker`` and ``anomaly projection sink`` run as their own processes (as deployed)
  while score events are produced at their event time (as live cameras would); for each anomaly, latency =
  commit time of its first row (``created_at``) minus the produce time of the newest score in the lineage of its
  first revision.
"""

from __future__ import annotations

import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import httpx

from anomaly_core import admin
from anomaly_core import topics as catalog
from anomaly_core.db import connect
from anomaly_core.registry import RegistryClient
from anomaly_core.serde import AvroSerde
from anomaly_core.settings import KafkaSettings
from anomaly_core.supervisor import ChildSpec, Supervisor, anomaly_command
from bench.common import TimedPublisher
from bench.fusion_scenarios import SCENARIOS, ScoreRecord
from bench.pgschema import private_schema
from devstack.ports import free_port
from fusion_app.offline import run_offline, with_offsets
from fusion_app.reader import read_range
from fusion_app.rules import Rules
from fusion_app.topics import FusionTopics
from schemas.records import AnomalyEvent

Progress = Callable[[str, int, int], None]
Sent = tuple[str, bytes, bytes]  # (topic, key, value)
#: Mix of situations per camera: mostly ordinary, every few blocks an incident.
THROUGHPUT_MIX = ("normal", "noise", "fall", "normal", "help", "noise", "fire", "normal", "fight", "noise")
LATENCY_MIX = ("fall", "help", "fire", "fight")
BLOCK_MS = 15_000


@dataclass
class FusionBenchResult:
    events: int
    cameras: int
    partitions: int
    throughput_events_per_s: float
    throughput_seconds: float
    # Faust alone on the same backlog: an agent that only acknowledges (bench/faust_probe.py).
    faust_noop_events_per_s: float
    anomalies_in_throughput_run: int
    same_anomalies_as_in_memory_run: bool
    latency_events: int
    latency_anomalies: int
    latency_p50_ms: float
    latency_p95_ms: float
    latency_p99_ms: float
    latency_max_ms: float
    decision_p50_ms: float  # of which: last score produced -> first revision decided by the fusion
    decision_p99_ms: float
    rules_version: str
    machine: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def create_topics(kafka: KafkaSettings) -> int:
    """The catalog's topics under ``kafka.topic_prefix`` (the fusion changelog included); the partition count."""
    specs = catalog.build_catalog(kafka, prefix=kafka.topic_prefix)
    admin.create_topics(admin.admin_client(kafka), specs, replication=kafka.replication_factor)
    return specs[0].partitions


def delete_topics(kafka: KafkaSettings) -> None:
    client = admin.admin_client(kafka)
    admin.delete_topics(client, [t for t in client.list_topics(timeout=10).topics if t.startswith(kafka.topic_prefix)])


def scripted(
    cameras: int, mix: tuple[str, ...], blocks: int, t0: int, *, stagger_ms: int = 0, block_ms: int = BLOCK_MS
) -> list[ScoreRecord]:
    """``blocks`` scenario blocks per camera, ``block_ms`` apart, cycling through ``mix``; sorted by event time."""
    records: list[ScoreRecord] = []
    for c in range(cameras):
        camera = f"bench-cam-{c:03d}"
        start = t0 + (c * stagger_ms // max(cameras, 1))
        for b in range(blocks):
            records += SCENARIOS[mix[(c + b) % len(mix)]](camera, start + b * block_ms)
    records.sort(key=lambda r: r.event_time)
    return records


def encoded(publisher: TimedPublisher, topics: FusionTopics, records: list[ScoreRecord]) -> list[tuple[float, Sent]]:
    """(event time in seconds, (topic, key, value)) of each record, encoded."""
    topic_of = {"PoseScore": topics.pose, "SceneScore": topics.scene, "AudioScore": topics.audio}
    out = []
    for record in records:
        topic = topic_of[type(record).__name__]
        value = publisher.encode(topic, record)
        out.append((record.event_time.timestamp(), (topic, record.camera_id.encode(), value)))
    return out


def _percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 1)


def run_fusion_bench(
    kafka: KafkaSettings,
    dsn: str,
    rules: Rules,
    *,
    events: int = 60_000,
    cameras: int = 40,
    latency_cameras: int = 40,
    progress: Progress | None = None,
) -> FusionBenchResult:
    say = progress or (lambda phase, done, total: None)
    run_id = uuid.uuid4().hex[:6]
    drained = _throughput(kafka.model_copy(update={"topic_prefix": f"bench{run_id}a."}), rules, events, cameras, say)
    k2 = kafka.model_copy(update={"topic_prefix": f"bench{run_id}b."})
    live_events, latencies, decided = _latency(k2, dsn, latency_cameras, say)
    return FusionBenchResult(
        events=drained.events,
        cameras=cameras,
        partitions=drained.partitions,
        throughput_events_per_s=round(drained.events / drained.seconds) if drained.seconds > 0 else 0.0,
        throughput_seconds=round(drained.seconds, 2),
        faust_noop_events_per_s=drained.noop_rate,
        anomalies_in_throughput_run=len(drained.ids),
        same_anomalies_as_in_memory_run=drained.ids == drained.in_memory,
        latency_events=live_events,
        latency_anomalies=len(latencies),
        latency_p50_ms=_percentile(latencies, 0.50),
        latency_p95_ms=_percentile(latencies, 0.95),
        latency_p99_ms=_percentile(latencies, 0.99),
        latency_max_ms=round(max(latencies), 1) if latencies else float("nan"),
        decision_p50_ms=_percentile(decided, 0.50),
        decision_p99_ms=_percentile(decided, 0.99),
        rules_version=rules.version,
        machine=f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}",
    )


@dataclass(frozen=True, slots=True)
class _Drained:
    events: int
    partitions: int
    seconds: float
    ids: set[str]
    in_memory: set[str]
    noop_rate: float


def _throughput(k1: KafkaSettings, rules: Rules, events: int, cameras: int, say: Progress) -> _Drained:
    """A backlog drained by one worker process, timed from its metrics."""
    per_block = len(scripted(1, THROUGHPUT_MIX[:1], 1, 0))
    blocks = max(1, events // (per_block * cameras))
    t1 = FusionTopics.for_prefix(k1.topic_prefix)
    partitions = create_topics(k1)
    records = scripted(cameras, THROUGHPUT_MIX, blocks, int(time.time() * 1000) - blocks * BLOCK_MS - 60_000)
    with RegistryClient(k1.schema_registry_url) as registry:
        publisher = TimedPublisher(k1, AvroSerde(registry), client_id="bench-fusion")
        for i, (_, item) in enumerate(encoded(publisher, t1, records)):
            publisher.send(*item)
            if i % 5000 == 0:
                say("produce backlog", i, len(records))
        publisher.flush(60)
    say("drain backlog", 0, len(records))
    port = free_port()
    env = _env(k1, FUSION_METRICS_PORT=str(port))
    with tempfile.TemporaryDirectory(prefix="bench-fusion-") as logs, Supervisor(Path(logs), env) as services:
        services.start(ChildSpec("fusion", anomaly_command("fusion", "worker")))
        seconds = _drain_time(port, len(records), services, say)
        time.sleep(2.0)  # the last batch's revisions and checkpoint
    ids = {e.anomaly_id for e in _events(k1, t1.anomalies)}
    # The same scores through the state machine in memory, in event-time order: the worker must agree.
    in_memory = set(run_offline(with_offsets(records), rules, batch_size=1000).latest())
    say("faust alone", 0, len(records))
    noop_rate = _faust_alone(k1, len(records))
    delete_topics(k1)
    return _Drained(len(records), partitions, seconds, ids, in_memory, noop_rate)


def _faust_alone(kafka: KafkaSettings, total: int) -> float:
    """Events/s Faust hands to an agent that does nothing but acknowledge, on the same backlog."""
    probe = [sys.executable, "-m", "bench.faust_probe", str(total)]
    done = subprocess.run(probe, env=_env(kafka), capture_output=True, text=True, timeout=600, check=False)
    found = re.findall(r'\{"events".*?\}', done.stdout)  # Faust's worker writes terminal escapes on the line too
    if done.returncode != 0 or not found:
        raise RuntimeError(f"faust probe failed ({done.returncode}): {done.stderr[-2000:]}")
    return float(json.loads(found[-1])["events_per_s"])


def _latency(k2: KafkaSettings, dsn: str, cameras: int, say: Progress) -> tuple[int, list[float], list[float]]:
    """Worker and sink as their own processes, scores produced at their event time: (events, latencies, decided)."""
    t2 = FusionTopics.for_prefix(k2.topic_prefix)
    create_topics(k2)
    with private_schema(dsn, "bench") as scoped, RegistryClient(k2.schema_registry_url) as registry:
        env = _env(k2, DATABASE_URL=scoped)
        with tempfile.TemporaryDirectory(prefix="bench-fusion-") as logs, Supervisor(Path(logs), env) as services:
            services.start(ChildSpec("fusion", anomaly_command("fusion", "worker")))
            services.start(ChildSpec("projection", anomaly_command("projection", "sink")))
            time.sleep(8.0)  # start-up, group joins and assignment
            t0 = int(time.time() * 1000) + 1000
            # Two incidents per camera, 25 s apart (past the first one's cooldown), starts spread over 10 s.
            live_records = scripted(cameras, LATENCY_MIX, 2, t0, stagger_ms=10_000, block_ms=25_000)
            publisher = TimedPublisher(k2, AvroSerde(registry), client_id="bench-fusion")
            prepared = encoded(publisher, t2, live_records)  # up front: the paced loop only hands records over
            for i, (when_s, item) in enumerate(prepared):
                wait = when_s - time.time()
                if wait > 0:
                    time.sleep(wait)
                publisher.send(*item)
                if i % 1000 == 0:
                    say("produce live", i, len(prepared))
            publisher.flush(60)
            time.sleep(3.0)
            failed = [c.name for c in services.failures()]
            if failed:
                raise RuntimeError(f"{', '.join(failed)} exited: {services.log_tail(failed[0])}")
        latencies, decided = _latencies(k2, t2.anomalies, scoped, publisher.produced_at)
    delete_topics(k2)
    return len(live_records), latencies, decided


def _env(kafka: KafkaSettings, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": kafka.bootstrap_servers,
        "SCHEMA_REGISTRY_URL": kafka.schema_registry_url,
        "KAFKA_TOPIC_PREFIX": kafka.topic_prefix,
        "LOG_LEVEL": "WARNING",
        # The backlog is produced before the worker starts: its new group must read it from the start.
        "CONSUMER_START": "earliest",
        **extra,
    }


def _consumed(port: int) -> float | None:
    """The worker's ``anomaly_messages_consumed_total`` over all topics; None while it does not answer."""
    try:
        text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=1.0).text
    except httpx.HTTPError:
        return None
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith("anomaly_messages_consumed_total{") and 'service="fusion"' in line
    )


def _drain_time(port: int, total: int, services: Supervisor, say: Progress, timeout_s: float = 900.0) -> float:
    """Seconds between the worker's first and last record read, sampled every 20 ms."""
    first: float | None = None
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        failed = services.failures()
        if failed:
            raise RuntimeError(f"fusion worker exited: {services.log_tail(failed[0].name)}")
        consumed = _consumed(port) or 0.0
        now = time.monotonic()
        if consumed > 0 and first is None:
            first = now
        if first is not None and consumed >= total:
            return now - first
        say("drain backlog", int(consumed), total)
        time.sleep(0.02)
    raise RuntimeError(f"the fusion worker did not read {total} records within {timeout_s:.0f} s")


def _events(kafka: KafkaSettings, topic: str) -> list[AnomalyEvent]:
    with RegistryClient(kafka.schema_registry_url) as registry:
        serde = AvroSerde(registry)
        return [serde.decode(topic, m.value(), AnomalyEvent) for batch in read_range(kafka, [topic]) for m in batch]


def _latencies(
    kafka: KafkaSettings, topic: str, dsn: str, produced_at: dict[tuple[str, int, int], float]
) -> tuple[list[float], list[float]]:
    """Per anomaly: last contributing score produced -> first row committed, and the fusion's share of it
    (-> the first revision decided)."""
    firsts = {e.anomaly_id: e for e in _events(kafka, topic) if e.revision == 1}
    with connect(dsn) as conn:
        rows = conn.execute("select anomaly_id::text, created_at from anomalies").fetchall()
    total, fusion = [], []
    for anomaly_id, created_at in rows:
        event = firsts.get(anomaly_id)
        if event is None:
            continue
        times = [produced_at.get((e.topic, e.partition, e.offset)) for e in event.lineage]
        known = [t for t in times if t is not None]
        if known:
            total.append((created_at.timestamp() - max(known)) * 1000.0)
            fusion.append((event.decided_at.timestamp() - max(known)) * 1000.0)
    return total, fusion
