"""Helpers shared by the API integration and browser tests: a real uvicorn server in a thread, a private
anomalies topic and bucket for a whole module, and projection rows written like the fusion sink writes them."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any

import psycopg
import uvicorn
from fastapi import FastAPI
from psycopg import sql

from anomaly_core.objectstore import ObjectStore
from anomaly_core.settings import DatabaseSettings, KafkaSettings, ObjectStoreSettings
from anomaly_core.topics import ANOMALIES, ANOMALY_ACTIONS, spec_for
from api.app import create_app
from api.settings import ApiServerSettings, AppSettings
from fusion_app.projection import row_of
from schemas.records import AnomalyEvent

PEPPER = "test-pepper"
JWT_SECRET = "test-jwt-secret-" + "x" * 48


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextlib.contextmanager
def private_topic(kafka: KafkaSettings) -> Iterator[tuple[str, str]]:
    """(prefix, topic): a fresh ``<prefix>anomalies.v1`` (and ``<prefix>anomalies.actions.v1``, where the API
    publishes operator actions) with one partition for a whole module, deleted after.

    (The ``make_topics`` fixture is per test; the API server here lives for a module.)
    """
    from confluent_kafka.admin import AdminClient

    from anomaly_core.admin import create_topics, delete_topics

    prefix = f"t{uuid.uuid4().hex[:8]}."
    specs = [replace(spec_for(base).prefixed(prefix), partitions=1) for base in (ANOMALIES, ANOMALY_ACTIONS)]
    admin = AdminClient(kafka.client_config())
    create_topics(admin, specs, replication=1)
    try:
        yield prefix, specs[0].name
    finally:
        delete_topics(admin, [spec.name for spec in specs])


@contextlib.contextmanager
def private_bucket(store_settings: ObjectStoreSettings) -> Iterator[tuple[ObjectStore, str]]:
    store = ObjectStore.from_settings(store_settings)
    name = f"api-test-{uuid.uuid4().hex[:10]}"
    store.ensure_bucket(name)
    try:
        yield store, name
    finally:
        client = store.client
        with contextlib.suppress(Exception):
            for obj in client.list_objects(name, recursive=True):
                client.remove_object(name, obj.object_name or "")
            client.remove_bucket(name)


def app_settings(dsn: str, kafka: KafkaSettings, store: ObjectStoreSettings, prefix: str, **api: Any) -> AppSettings:
    """The stack's connection settings with test values for the API on top (the environment is not read)."""
    values = {
        "API_KEY_PEPPER": PEPPER,
        "JWT_SECRET": JWT_SECRET,
        "API_KEY_CACHE_SECONDS": 0,
        "API_WS_AUTH_TIMEOUT_SECONDS": 1,
        "API_DB_TIMEOUT_SECONDS": 1,
    } | api
    return AppSettings(
        api=ApiServerSettings.model_validate(values),
        db=DatabaseSettings.model_validate({"DATABASE_URL": dsn}),
        kafka=kafka.model_copy(update={"topic_prefix": prefix}),
        store=store,
    )


@dataclass
class RunningApi:
    base_url: str
    ws_url: str
    app: FastAPI
    thread: threading.Thread

    def live_ready(self, timeout_s: float = 30.0) -> None:
        """Waits until the app's anomalies consumer is assigned (events produced from now on are delivered)."""
        live = self.app.state.services.live
        assert live is not None, "live feed disabled"
        assert live.ready.wait(timeout_s), "live consumer not assigned in time"


@contextlib.contextmanager
def serve(settings: AppSettings) -> Iterator[RunningApi]:
    """Runs ``create_app(settings)`` in uvicorn (production http/ws stack) on a free port in a thread."""
    port = free_port()
    app = create_app(settings)
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        loop="uvloop",
        http="httptools",
        ws_max_size=16 * 1024 * 1024,
        ws_per_message_deflate=False,
        log_level="warning",
        access_log=False,
        server_header=False,
        date_header=False,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name=f"api-{port}", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "API server did not start"
        time.sleep(0.02)
    try:
        yield RunningApi(f"http://127.0.0.1:{port}", f"ws://127.0.0.1:{port}", app, thread)
    finally:
        server.should_exit = True
        thread.join(15)


def insert_anomalies(dsn: str, events: list[AnomalyEvent]) -> None:
    # The very parameters the fusion sink writes, so the API reads what production stores.
    rows = [row_of(e) for e in events]
    columns = list(rows[0])
    statement = sql.SQL("insert into anomalies ({}) values ({})").format(
        sql.SQL(", ").join(map(sql.Identifier, columns)), sql.SQL(", ").join(map(sql.Placeholder, columns))
    )
    with psycopg.connect(dsn) as conn, conn.cursor() as cur:
        cur.executemany(statement, rows)


def insert_camera(dsn: str, camera_id: str, source: str = "rtsp://cam.local/stream") -> None:
    with psycopg.connect(dsn) as conn:
        conn.execute(
            "insert into cameras (camera_id, name, source, source_kind, location) values (%s, %s, %s, 'STREAM', %s)",
            (camera_id, f"Camera {camera_id}", source, "lobby"),
        )


def publish(kafka: KafkaSettings, topic: str, events: list[AnomalyEvent]) -> None:
    """Produces ``events`` to ``topic`` through the registry and waits for every acknowledgement."""
    from anomaly_core.producer import Delivery, ReliableProducer
    from anomaly_core.registry import RegistryClient
    from anomaly_core.serde import AvroSerde

    serde = AvroSerde(RegistryClient(kafka.schema_registry_url))
    producer = ReliableProducer(kafka, client_id="api-tests")
    for event in events:
        producer.send(Delivery(topic, event.camera_id.encode(), serde.encode(topic, event)))
    assert producer.wait(30) == []
