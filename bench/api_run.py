"""The measurements behind ``anomaly bench api`` (see ``bench/api.py`` for what is measured and how)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import platform
import random
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import psycopg
from psycopg.rows import dict_row
from rich.console import Console
from rich.progress import Progress

from anomaly_core.admin import admin_client
from anomaly_core.settings import DatabaseSettings, KafkaSettings
from api import keystore, queries
from api.auth import Role
from api.live import client_config
from api.queries import AnomalyFilter
from bench import api_data
from bench.common import TimedPublisher
from bench.sample_events import anomaly_event
from devstack.ports import free_port

LIST_TARGET_MS = 50.0
FANOUT_TARGET_MS = 250.0
_PEPPER = "bench-pepper"
_ID_FIELD = '"anomaly":{"anomaly_id":"'


@dataclass(frozen=True)
class BenchConfig:
    rows: int
    requests: int
    clients: int
    events: int
    rate: float
    fresh: bool


def stats(samples_s: list[float]) -> dict[str, float]:
    """p50/p95/p99/max in milliseconds (nearest-rank percentiles)."""
    if not samples_s:
        return {"p50_ms": 0.0, "p95_ms": 0.0, "p99_ms": 0.0, "max_ms": 0.0, "n": 0}
    ordered = sorted(samples_s)

    def rank(q: float) -> float:
        return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered) + 0.5) - 1))] * 1000

    return {
        "p50_ms": round(rank(0.50), 2),
        "p95_ms": round(rank(0.95), 2),
        "p99_ms": round(rank(0.99), 2),
        "max_ms": round(ordered[-1] * 1000, 2),
        "n": len(ordered),
    }


def run(cfg: BenchConfig) -> dict[str, Any]:
    kafka = KafkaSettings()
    base_dsn = DatabaseSettings().url.get_secret_value()
    prefix = f"bench{uuid.uuid4().hex[:8]}."
    with Progress(console=Console(stderr=True), transient=True) as progress:
        dsn, newest = _dataset(base_dsn, cfg, progress)
        key = _api_key(dsn)
        topic = _create_topic(kafka, prefix)
        try:
            with _api_process(dsn, prefix, cfg.clients) as base_url:
                listing = _list_bench(
                    base_url=base_url, key=key, dsn=dsn, newest=newest, n=cfg.requests, progress=progress
                )
                fanout = _fanout_bench(base_url=base_url, key=key, kafka=kafka, topic=topic, cfg=cfg, progress=progress)
        finally:
            _delete_topic(kafka, topic)
    return {
        "list": {"rows": cfg.rows, **listing},
        "fanout": fanout,
        "targets": {"list_p99_ms": LIST_TARGET_MS, "fanout_p99_ms": FANOUT_TARGET_MS},
        "met": {
            "list": listing["http"]["all"]["p99_ms"] <= LIST_TARGET_MS,
            "fanout": fanout["latency"]["p99_ms"] <= FANOUT_TARGET_MS and fanout["delivered"] == fanout["expected"],
        },
        "machine": {
            "cpus": os.cpu_count(),
            "load_avg_1m_at_end": round(os.getloadavg()[0], 2),  # other work on the box inflates the tails
            "platform": platform.platform(),
            "python": platform.python_version(),
        },
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }


# --- dataset ------------------------------------------------------------------------------------------------


def _dataset(base_dsn: str, cfg: BenchConfig, progress: Progress) -> tuple[str, datetime]:
    dsn = api_data.ensure_database(base_dsn, api_data.bench_database_name(base_dsn), fresh=cfg.fresh)
    if cfg.fresh or api_data.row_count(dsn) != cfg.rows:
        task = progress.add_task(f"COPY {cfg.rows:,} anomalies", total=cfg.rows)
        api_data.load(dsn, cfg.rows, advance=lambda n: progress.advance(task, n))
        progress.remove_task(task)
    return dsn, api_data.newest_start(dsn)


def _api_key(dsn: str) -> str:
    with psycopg.connect(dsn) as conn:
        new = keystore.create(conn, name="bench", role=Role.VIEWER, cameras=None, expires_in=None, pepper=_PEPPER)
    return new.secret


# --- the API process ----------------------------------------------------------------------------------------


@contextlib.contextmanager
def _api_process(dsn: str, prefix: str, clients: int) -> Iterator[str]:
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": dsn,
        "KAFKA_TOPIC_PREFIX": prefix,
        "API_KEY_PEPPER": _PEPPER,
        # The benchmark measures latency, not the limits: lift them above its own load.
        "API_RATE_LIMIT_PER_MINUTE": "10000000",
        "API_RATE_LIMIT_BURST": "1000000",
        "MAX_CONCURRENT_CONNECTIONS": str(clients + 10),
        "API_LIMIT_CONCURRENCY": str(clients + 100),
        "API_LIMIT_MAX_REQUESTS": "0",
        "LOG_LEVEL": "WARNING",
    }
    cmd = [sys.executable, "-m", "anomaly_cli.main", "api", "--host", "127.0.0.1", "--port", str(port)]
    proc = subprocess.Popen([*cmd, "--workers", "1"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    base_url = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(base_url, proc)
        yield base_url
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _wait_ready(base_url: str, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            err = proc.stderr.read().decode(errors="replace")[-2000:] if proc.stderr else ""
            raise RuntimeError(f"anomaly api exited with {proc.returncode}: {err}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{base_url}/readyz", timeout=5).status_code == 200:
                return
        time.sleep(0.3)
    raise RuntimeError("anomaly api did not become ready within 60 s")


# --- list queries -------------------------------------------------------------------------------------------


def _scenarios(newest: datetime, rng: random.Random) -> dict[str, tuple[dict[str, str], AnomalyFilter]]:
    camera = rng.choice(api_data.CAMERAS)
    since = newest - timedelta(days=rng.uniform(1, 28))
    until = since + timedelta(hours=1)
    return {
        "newest": ({}, AnomalyFilter()),
        "camera": ({"camera": camera}, AnomalyFilter(cameras=frozenset({camera}))),
        "critical": ({"severity": "CRITICAL"}, AnomalyFilter(severities=frozenset({"CRITICAL"}))),
        "camera+min_severity": (
            {"camera": camera, "min_severity": "HIGH"},
            AnomalyFilter(cameras=frozenset({camera}), severities=frozenset({"HIGH", "CRITICAL"})),
        ),
        "kind": ({"kind": "WEAPON"}, AnomalyFilter(kinds=frozenset({"WEAPON"}))),
        "one_hour_window": (
            {"since": since.isoformat(), "until": until.isoformat()},
            AnomalyFilter(since=since, until=until),
        ),
        "rules_version": ({"rules_version": "rules-2"}, AnomalyFilter(rules_version="rules-2")),
    }


def _list_bench(
    *, base_url: str, key: str, dsn: str, newest: datetime, n: int, progress: Progress
) -> dict[str, dict[str, dict[str, float]]]:
    rng = random.Random(11)
    http: dict[str, list[float]] = {}
    sql: dict[str, list[float]] = {}
    task = progress.add_task("list queries", total=n)
    headers = {"Authorization": f"Bearer {key}"}
    with (
        httpx.Client(base_url=base_url, headers=headers, timeout=30) as client,
        psycopg.connect(dsn, autocommit=True) as conn,
    ):
        for _ in range(3):  # warm the pool, the caches and the planner
            client.get("/v1/anomalies")
        done = 0
        while done < n:
            for name, (params, flt) in _scenarios(newest, rng).items():
                http.setdefault(name, []).append(_timed_get(client, params)[0])
                sql.setdefault(name, []).append(_timed_sql(conn, flt))
                done += 1
            # Deep pagination: follow next_cursor for 20 pages of the unfiltered list.
            cursor: str | None = None
            for _ in range(20):
                elapsed, body = _timed_get(client, {"cursor": cursor} if cursor else {})
                http.setdefault("cursor_pages", []).append(elapsed)
                cursor = body.get("next_cursor")
                done += 1
            progress.update(task, completed=min(done, n))
    progress.remove_task(task)
    everything = [s for samples in http.values() for s in samples]
    return {
        "http": {"all": stats(everything)} | {name: stats(samples) for name, samples in http.items()},
        "sql": {name: stats(samples) for name, samples in sql.items()},
    }


def _timed_get(client: httpx.Client, params: dict[str, str]) -> tuple[float, dict[str, Any]]:
    started = time.perf_counter()
    response = client.get("/v1/anomalies", params=params)
    elapsed = time.perf_counter() - started
    response.raise_for_status()
    body: dict[str, Any] = response.json()
    return elapsed, body


def _timed_sql(conn: psycopg.Connection, flt: AnomalyFilter) -> float:
    text, params = queries.build_list(flt, None, 50)
    started = time.perf_counter()
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(text, params)
        cur.fetchall()
    return time.perf_counter() - started


# --- fan-out ------------------------------------------------------------------------------------------------


def _create_topic(kafka: KafkaSettings, prefix: str) -> str:
    from confluent_kafka.admin import NewTopic

    from anomaly_core.topics import ANOMALIES, topic_name

    topic = topic_name(ANOMALIES, prefix)
    admin = admin_client(client_config(kafka))
    new = NewTopic(topic, num_partitions=kafka.topic_partitions, replication_factor=kafka.replication_factor)
    admin.create_topics([new])[topic].result(30)
    return topic


def _delete_topic(kafka: KafkaSettings, topic: str) -> None:
    with contextlib.suppress(Exception):
        admin_client(client_config(kafka)).delete_topics([topic])[topic].result(30)


class _Publisher:
    """Produces AnomalyEvents from its own thread, noting the wall time just before each ``produce``."""

    def __init__(self, kafka: KafkaSettings, topic: str) -> None:
        from anomaly_core.registry import RegistryClient
        from anomaly_core.serde import AvroSerde

        self._topic = topic
        self._timed = TimedPublisher(kafka, AvroSerde(RegistryClient(kafka.schema_registry_url)), client_id="bench-api")
        self.sent_at: dict[str, float] = {}

    def publish(self, camera: str, severity: str = "HIGH") -> str:
        event = anomaly_event(camera, severity)
        value = self._timed.encode(self._topic, event)
        self.sent_at[event.anomaly_id] = self._timed.send(self._topic, camera.encode(), value)
        return event.anomaly_id

    def flush(self) -> None:
        self._timed.flush(10)


def _fanout_bench(
    *, base_url: str, key: str, kafka: KafkaSettings, topic: str, cfg: BenchConfig, progress: Progress
) -> dict[str, Any]:
    import uvloop

    publisher = _Publisher(kafka, topic)
    received: list[dict[str, float]] = [{} for _ in range(cfg.clients)]
    closed: list[int] = []
    ws_url = base_url.replace("http://", "ws://") + "/v1/ws/anomalies"

    async def client(i: int, connected: asyncio.Event, counter: list[int]) -> None:
        from websockets.asyncio.client import connect

        protocols = ["anomaly.v1", f"bearer.{key}"]
        async with connect(ws_url, subprotocols=protocols, open_timeout=60, compression=None) as ws:  # type: ignore[arg-type]
            counter[0] += 1
            if counter[0] == cfg.clients:
                connected.set()
            mine = received[i]
            try:
                async for raw in ws:
                    now = time.time()
                    # A string search, not json.loads: the client's own parsing should not dominate the figure.
                    at = str(raw).find(_ID_FIELD)
                    if at >= 0:
                        start = at + len(_ID_FIELD)
                        mine.setdefault(str(raw)[start : start + 36], now)
            except Exception:
                closed.append(i)

    async def scenario() -> None:
        connected = asyncio.Event()
        counter = [0]
        task = progress.add_task(f"connect {cfg.clients} sockets", total=cfg.clients)
        tasks = []
        for i in range(cfg.clients):
            tasks.append(asyncio.create_task(client(i, connected, counter)))
            if i % 50 == 49:
                await asyncio.sleep(0.05)  # a gentle ramp instead of a SYN flood
            progress.update(task, completed=counter[0])
        await asyncio.wait_for(connected.wait(), 120)
        progress.remove_task(task)
        await _warm_up(publisher, received)
        task = progress.add_task(f"fan out {cfg.events} events", total=cfg.events)
        measured = []
        for _ in range(cfg.events):
            measured.append(await asyncio.to_thread(publisher.publish, "bench-live"))
            progress.advance(task)
            await asyncio.sleep(1 / cfg.rate)
        await asyncio.to_thread(publisher.flush)
        await asyncio.sleep(2.0)  # stragglers
        progress.remove_task(task)
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        latencies = [got[aid] - publisher.sent_at[aid] for got in received for aid in measured if aid in got]
        result["latency"] = stats(latencies)
        result["delivered"] = len(latencies)
        result["expected"] = cfg.events * cfg.clients

    result: dict[str, Any] = {"clients": cfg.clients, "events": cfg.events, "rate_per_s": cfg.rate}
    uvloop.run(scenario())
    result["dropped_clients"] = len(set(closed))
    return result


async def _warm_up(publisher: _Publisher, received: list[dict[str, float]]) -> None:
    """Publishes until every socket got one event: the API's consumer is assigned and the path is warm."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        aid = await asyncio.to_thread(publisher.publish, "bench-warmup", "LOW")
        await asyncio.to_thread(publisher.flush)
        await asyncio.sleep(1.0)
        if all(aid in got for got in received):
            return
    raise RuntimeError("live events did not reach every socket within 60 s")
