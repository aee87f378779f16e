"""The API against the real stack: PostgreSQL (a private database), Kafka (a private anomalies topic), the
schema registry and MinIO (a private bucket). One server per module keeps the whole file to a few seconds."""

from __future__ import annotations

import json
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx
import psycopg
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from anomaly_core.db import migrate
from anomaly_core.objectstore import ObjectStore
from anomaly_core.registry import RegistryClient
from anomaly_core.serde import AvroSerde
from anomaly_core.settings import KafkaSettings, ObjectStoreSettings
from anomaly_core.topics import ANOMALY_ACTIONS, topic_name
from api import keystore
from api.auth import Role, issue_jwt
from bench.sample_events import anomaly_event
from schemas.records import AnomalyAction, AnomalyEvent, AnomalyKind, AnomalyState, ObjectRef
from tests.api_harness import (
    JWT_SECRET,
    PEPPER,
    RunningApi,
    app_settings,
    insert_anomalies,
    insert_camera,
    private_bucket,
    private_topic,
    publish,
    serve,
)

pytestmark = pytest.mark.integration

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
MAX_BODY = 2048


@dataclass
class Env:
    api: RunningApi
    dsn: str
    topic: str
    prefix: str
    kafka: KafkaSettings
    store: ObjectStore
    store_settings: ObjectStoreSettings
    bucket: str
    keys: dict[str, str]
    ids: dict[str, str]
    frame: ObjectRef
    frame_bytes: bytes


def _key(dsn: str, name: str, role: Role, cameras: list[str] | None = None, expires: timedelta | None = None) -> str:
    with psycopg.connect(dsn) as conn:
        new = keystore.create(conn, name=name, role=role, cameras=cameras, expires_in=expires, pepper=PEPPER)
        if name == "revoked":
            keystore.revoke(conn, new.record.id)
    return new.secret


def _events(frame: ObjectRef) -> list[AnomalyEvent]:
    """Nine anomalies, one every ten minutes from T0: cam-b has i = 0, 3, 6 and cam-a the others."""
    events = []
    for i in range(9):
        camera = "cam-a" if i % 3 else "cam-b"
        severity = ["LOW", "MEDIUM", "HIGH", "CRITICAL"][i % 4]
        kinds = (AnomalyKind.FIRE_SMOKE,) if i == 4 else (AnomalyKind.FALL,)
        event = anomaly_event(
            camera,
            severity,
            kinds=kinds,
            best_frame=frame,
            start=T0 + timedelta(minutes=10 * i),
            rules_version="rules-2" if i == 8 else "rules-1",
        )
        events.append(event)
    return events


@pytest.fixture(scope="module")
def env(pg_dsn: str, kafka_settings: KafkaSettings, object_store_settings: ObjectStoreSettings) -> Iterator[Env]:
    dsn, kafka = pg_dsn, kafka_settings
    migrate(dsn)
    with private_topic(kafka) as (prefix, topic), private_bucket(object_store_settings) as (store, bucket):
        frame_bytes = b"\xff\xd8\xff\xe0fake-jpeg-bytes"
        frame = store.put(bucket, "cam-a/frame-1.jpg", frame_bytes, "image/jpeg")
        events = _events(frame)
        insert_anomalies(dsn, events)
        insert_camera(dsn, "cam-a", source="rtsp://10.0.0.5/stream")
        insert_camera(dsn, "cam-b")
        keys = {
            "viewer": _key(dsn, "viewer", Role.VIEWER),
            "scoped": _key(dsn, "scoped", Role.VIEWER, cameras=["cam-a"]),
            "operator": _key(dsn, "operator", Role.OPERATOR),
            "admin": _key(dsn, "admin", Role.ADMIN),
            "expired": _key(dsn, "expired", Role.ADMIN, expires=timedelta(seconds=-1)),
            "revoked": _key(dsn, "revoked", Role.ADMIN),
        }
        ids = {"cam-a": events[1].anomaly_id, "cam-b": events[0].anomaly_id, "newest": events[8].anomaly_id}
        settings = app_settings(
            dsn,
            kafka,
            object_store_settings,
            prefix,
            MAX_CONCURRENT_CONNECTIONS=2,
            API_MAX_BODY_BYTES=MAX_BODY,
            CORS_ALLOWED_ORIGINS=["http://ops.example"],
            API_WS_HEARTBEAT_SECONDS=30,
        )
        with serve(settings) as api:
            api.live_ready()
            yield Env(
                api, dsn, topic, prefix, kafka, store, object_store_settings, bucket, keys, ids, frame, frame_bytes
            )


@pytest.fixture(scope="module")
def http(env: Env) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=env.api.base_url, timeout=10) as client:
        yield client


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def assert_error(response: httpx.Response, status: int, code: str, *words: str) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["error"] == code
    for word in words:
        assert word in body["detail"], body
    assert "Traceback" not in response.text


# --- health -------------------------------------------------------------------------------------------------


def test_health_ready_metrics_docs(env: Env, http: httpx.Client) -> None:
    assert http.get("/healthz").json() == {"status": "ok"}
    ready = http.get("/readyz")
    assert ready.status_code == 200, ready.text
    assert ready.json()["checks"] == {"kafka": "ok", "postgres": "ok", "object_store": "ok"}
    http.get("/v1/anomalies", headers=auth(env.keys["viewer"]))
    series = 'anomaly_api_requests_total{method="GET",route="/v1/anomalies",status="200"}'
    for _ in range(50):  # a request is counted just after its last byte went out
        metrics = http.get("/metrics")
        if series in metrics.text:
            break
        time.sleep(0.02)
    assert metrics.status_code == 200 and series in metrics.text
    for secret in (*env.keys.values(), PEPPER, JWT_SECRET, "anomaly-dev-secret"):
        assert secret not in metrics.text
    assert "server" not in {k.lower() for k in ready.headers}
    assert ready.headers["x-content-type-options"] == "nosniff"
    assert http.get("/docs").status_code == 200
    paths = http.get("/openapi.json").json()["paths"]
    assert {"/v1/anomalies", "/v1/anomalies/{anomaly_id}", "/v1/cameras", "/v1/cameras/{camera_id}/anomalies"} <= set(
        paths
    )


# --- 401 / 403 ----------------------------------------------------------------------------------------------


def test_missing_forged_expired_and_revoked_credentials_are_401(env: Env, http: httpx.Client) -> None:
    missing = http.get("/v1/anomalies")
    assert_error(missing, 401, "unauthorized", "credentials required")
    assert missing.headers["www-authenticate"].startswith("Bearer")
    assert_error(http.get("/v1/anomalies", headers=auth("ak_" + "A" * 43)), 401, "unauthorized", "invalid")
    assert_error(http.get("/v1/anomalies", headers={"X-API-Key": "nope"}), 401, "unauthorized")
    assert_error(http.get("/v1/anomalies", headers=auth(env.keys["expired"])), 401, "unauthorized", "expired")
    assert_error(http.get("/v1/anomalies", headers=auth(env.keys["revoked"])), 401, "unauthorized", "revoked")
    now = datetime.now(UTC)
    forged = issue_jwt("not-the-secret-" + "y" * 48, "mallory", Role.ADMIN, ttl=timedelta(minutes=5), now=now)
    assert_error(http.get("/v1/anomalies", headers=auth(forged)), 401, "unauthorized", "invalid token")
    stale = issue_jwt(JWT_SECRET, "alice", Role.VIEWER, ttl=timedelta(minutes=5), now=now - timedelta(hours=1))
    assert_error(http.get("/v1/anomalies", headers=auth(stale)), 401, "unauthorized", "expired")
    good = issue_jwt(JWT_SECRET, "alice", Role.VIEWER, cameras=["cam-b"], ttl=timedelta(minutes=5), now=now)
    items = http.get("/v1/anomalies", headers=auth(good)).json()["items"]
    assert items and {i["camera_id"] for i in items} == {"cam-b"}


def test_wrong_role_or_camera_is_403(env: Env, http: httpx.Client) -> None:
    viewer, scoped = auth(env.keys["viewer"]), auth(env.keys["scoped"])
    act = f"/v1/anomalies/{env.ids['cam-a']}/actions"
    assert_error(http.post(act, headers=viewer, json={"kind": "ACKNOWLEDGE"}), 403, "forbidden", "operator")
    assert_error(http.get("/v1/apikeys", headers=auth(env.keys["operator"])), 403, "forbidden", "admin")
    assert_error(http.get("/v1/anomalies?camera=cam-b", headers=scoped), 403, "forbidden", "cam-b")
    assert_error(http.get(f"/v1/anomalies/{env.ids['cam-b']}", headers=scoped), 403, "forbidden", "cam-b")
    assert_error(http.get("/v1/cameras/cam-b/anomalies", headers=scoped), 403, "forbidden")
    scoped_items = http.get("/v1/anomalies", headers=scoped).json()["items"]
    assert scoped_items and {i["camera_id"] for i in scoped_items} == {"cam-a"}
    assert [c["id"] for c in http.get("/v1/cameras", headers=scoped).json()["items"]] == ["cam-a"]


# --- queries ------------------------------------------------------------------------------------------------


def _ids(http: httpx.Client, key: str, query: str) -> list[str]:
    response = http.get(f"/v1/anomalies?{query}", headers=auth(key))
    assert response.status_code == 200, response.text
    return [i["anomaly_id"] for i in response.json()["items"]]


def test_list_filters(env: Env, http: httpx.Client) -> None:
    key = env.keys["viewer"]
    everything = _ids(http, key, "limit=100")
    assert len(everything) == 9 and everything[0] == env.ids["newest"]
    assert len(_ids(http, key, "camera=cam-a")) == 6
    assert len(_ids(http, key, "camera=cam-a&camera=cam-b")) == 9
    assert len(_ids(http, key, "severity=CRITICAL")) == 2  # i = 3, 7
    assert len(_ids(http, key, "min_severity=HIGH")) == 4  # i = 2, 3, 6, 7
    assert len(_ids(http, key, "severity=LOW&min_severity=HIGH")) == 0
    assert len(_ids(http, key, "kind=FIRE_SMOKE")) == 1
    assert len(_ids(http, key, "rules_version=rules-2")) == 1
    assert len(_ids(http, key, "state=OPEN")) == 9 and _ids(http, key, "state=CLOSED") == []
    since, until = (T0 + timedelta(minutes=20)).isoformat(), (T0 + timedelta(minutes=40)).isoformat()
    window = http.get("/v1/anomalies", params={"since": since, "until": until}, headers=auth(key)).json()["items"]
    assert [w["incident_start"][:16] for w in window] == ["2025-03-01T12:30", "2025-03-01T12:20"]
    naive = http.get("/v1/anomalies", params={"since": "2025-03-01T13:15:00"}, headers=auth(key)).json()["items"]
    assert [n["incident_start"][:16] for n in naive] == ["2025-03-01T13:20"]  # no offset means UTC
    camera_page = http.get("/v1/cameras/cam-b/anomalies", headers=auth(key)).json()["items"]
    assert len(camera_page) == 3 and {i["camera_id"] for i in camera_page} == {"cam-b"}


def test_cursor_pagination_walks_every_row_once_in_order(env: Env, http: httpx.Client) -> None:
    key = env.keys["viewer"]
    seen: list[dict[str, str]] = []
    cursor = None
    while True:
        params = {"limit": "2", "min_severity": "LOW"} | ({"cursor": cursor} if cursor else {})
        page = http.get("/v1/anomalies", params=params, headers=auth(key)).json()
        seen.extend(page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == 9 and len({s["anomaly_id"] for s in seen}) == 9
    starts = [s["incident_start"] for s in seen]
    assert starts == sorted(starts, reverse=True)
    first = http.get("/v1/anomalies", params={"limit": "2"}, headers=auth(key)).json()["next_cursor"]
    other_filters = http.get("/v1/anomalies", params={"camera": "cam-a", "cursor": first}, headers=auth(key))
    assert_error(other_filters, 422, "invalid_request", "cursor", "different filters")


@pytest.mark.parametrize(
    ("query", "words"),
    [
        ("limit=0", ("query.limit",)),
        ("limit=501", ("query.limit",)),
        ("since=yesterday", ("query.since",)),
        ("until=1740830400", ("query.until", "ISO 8601")),
        ("severity=SEVERE", ("query.severity",)),
        ("kind=EXPLOSION", ("query.kind",)),
        ("cursor=%%%", ("query.cursor",)),
    ],
)
def test_bad_query_parameters_are_422_with_a_clear_message(
    env: Env, http: httpx.Client, query: str, words: tuple[str, ...]
) -> None:
    assert_error(http.get(f"/v1/anomalies?{query}", headers=auth(env.keys["viewer"])), 422, "invalid_request", *words)


def test_bad_path_ids_and_unknown_anomalies(env: Env, http: httpx.Client) -> None:
    viewer = auth(env.keys["viewer"])
    assert_error(http.get("/v1/anomalies/not-a-uuid", headers=viewer), 422, "invalid_request", "anomaly_id")
    assert_error(http.get(f"/v1/anomalies/{uuid.uuid4()}", headers=viewer), 404, "not_found")


# --- one anomaly, evidence, acknowledgements ----------------------------------------------------------------


def test_detail_has_presigned_evidence_transcript_caption_lineage(env: Env, http: httpx.Client) -> None:
    detail = http.get(f"/v1/anomalies/{env.ids['cam-a']}", headers=auth(env.keys["scoped"])).json()
    assert detail["camera_id"] == "cam-a"
    assert detail["transcript"] and detail["caption"]
    assert detail["lineage"][0]["topic"] == "scores.pose.v1"
    best = detail["evidence"]["best_frame"]
    assert best["key"] == env.frame.key and best["sha256"] == env.frame.sha256
    assert "X-Amz-Signature=" in best["url"] and "X-Amz-Expires=300" in best["url"]
    fetched = httpx.get(best["url"], timeout=10)  # no API credentials: the URL alone grants the read
    assert fetched.status_code == 200 and fetched.content == env.frame_bytes
    tampered = best["url"].replace(env.frame.key, "cam-b/other.jpg")
    assert httpx.get(tampered, timeout=10).status_code == 403


def test_detail_lists_the_notifications_of_the_anomaly(env: Env, http: httpx.Client) -> None:
    anomaly = env.ids["cam-a"]
    with psycopg.connect(env.dsn) as conn:
        conn.execute(
            "insert into notifications (anomaly_id, step, target, camera_id, revision, channel, change, status,"
            " detail, attempts, latency_ms, idempotency_key) values (%s, 'r1', 'ops', 'cam-a', 1, 'webhook',"
            " 'opened', 'sent', 'HTTP 200', 2, 12.5, %s) on conflict do nothing",
            (anomaly, f"{anomaly}:1:r1"),
        )
    detail = http.get(f"/v1/anomalies/{anomaly}", headers=auth(env.keys["viewer"])).json()
    sent = [n for n in detail["notifications"] if n["target"] == "ops"]
    assert [(n["channel"], n["change"], n["status"], n["detail"], n["attempts"]) for n in sent] == [
        ("webhook", "opened", "sent", "HTTP 200", 2)
    ]


def test_operator_actions_are_published_applied_and_idempotent(env: Env, http: httpx.Client) -> None:
    operator, viewer = auth(env.keys["operator"]), auth(env.keys["viewer"])
    anomaly = env.ids["cam-a"]
    url = f"/v1/anomalies/{anomaly}/actions"
    ack = http.post(url, headers=operator, json={"kind": "ACKNOWLEDGE", "note": "guard on the way"})
    assert ack.status_code == 201, ack.text
    assert ack.json()["actor"].startswith("key:") and ack.json()["camera_id"] == "cam-a"
    assign = http.post(url, headers=operator, json={"kind": "ASSIGN", "assignee": "guard-7"})
    assert assign.status_code == 201, assign.text
    resolve_id = str(uuid.uuid4())
    resolve = {"kind": "RESOLVE", "resolution": "FALSE_ALARM", "note": "a cat", "action_id": resolve_id}
    assert http.post(url, headers=operator, json=resolve).status_code == 201
    again = http.post(url, headers=operator, json=resolve)  # a retry with the same id acts once
    assert again.status_code == 200 and again.json()["action_id"] == resolve_id
    other = resolve | {"resolution": "TRUE_ALARM"}
    assert_error(http.post(url, headers=operator, json=other), 409, "conflict", resolve_id)
    second = http.post(url, headers=operator, json={"kind": "RESOLVE", "resolution": "TEST"})
    assert_error(second, 409, "conflict", "already resolved")
    assert http.post(url, headers=operator, json={"kind": "NOTE", "note": "camera cleaned"}).status_code == 201

    detail = http.get(f"/v1/anomalies/{anomaly}", headers=viewer).json()
    assert detail["status"] == "RESOLVED" and detail["resolution"] == "FALSE_ALARM"
    assert detail["acknowledged_by"] == ack.json()["actor"] and detail["assignee"] == "guard-7"
    assert detail["notes"] == ["guard on the way", "a cat", "camera cleaned"]
    assert [a["kind"] for a in detail["actions"]] == ["ACKNOWLEDGE", "ASSIGN", "RESOLVE", "NOTE"]
    resolved = _ids(http, env.keys["viewer"], "status=RESOLVED")
    assert resolved == [anomaly]

    published = _actions_on_topic(env, 4)  # the log holds each action once, keyed by camera
    # The row holds what the event holds (timestamp-millis), so a rebuild from the log gives the same row.
    assert published[0].at == datetime.fromisoformat(detail["acknowledged_at"])
    assert [(a.kind.value, a.camera_id) for a in published] == [
        ("ACKNOWLEDGE", "cam-a"),
        ("ASSIGN", "cam-a"),
        ("RESOLVE", "cam-a"),
        ("NOTE", "cam-a"),
    ]


def _actions_on_topic(env: Env, count: int) -> list[AnomalyAction]:
    from fusion_app.reader import read_range

    topic = topic_name(ANOMALY_ACTIONS, env.prefix)
    serde = AvroSerde(RegistryClient(env.kafka.schema_registry_url))
    return [serde.decode(topic, m.value(), AnomalyAction) for batch in read_range(env.kafka, [topic]) for m in batch][
        :count
    ]


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({"kind": "RESOLVE"}, ("body.RESOLVE.resolution", "required")),
        ({"kind": "RESOLVE", "resolution": "BORED"}, ("body.RESOLVE.resolution", "FALSE_ALARM")),
        ({"kind": "ASSIGN"}, ("body.ASSIGN.assignee", "required")),
        ({"kind": "NOTE"}, ("body.NOTE.note", "required")),
        ({"kind": "ACKNOWLEDGE", "resolution": "TEST"}, ("body.ACKNOWLEDGE.resolution", "not permitted")),
        ({"kind": "SNOOZE"}, ("body", "SNOOZE")),
        ({"kind": "NOTE", "note": 5}, ("body.NOTE.note",)),
    ],
)
def test_bad_actions_are_422_and_unknown_anomalies_404(
    env: Env, http: httpx.Client, body: dict[str, object], words: tuple[str, ...]
) -> None:
    operator = auth(env.keys["operator"])
    url = f"/v1/anomalies/{env.ids['newest']}/actions"
    assert_error(http.post(url, headers=operator, json=body), 422, "invalid_request", *words)
    missing = http.post(f"/v1/anomalies/{uuid.uuid4()}/actions", headers=operator, json={"kind": "ACKNOWLEDGE"})
    assert_error(missing, 404, "not_found")


def test_oversized_bodies_are_413(env: Env, http: httpx.Client) -> None:
    url = f"/v1/anomalies/{env.ids['cam-a']}/actions"
    big = json.dumps({"kind": "NOTE", "note": "x" * (MAX_BODY + 10)})
    response = http.post(url, headers=auth(env.keys["operator"]) | {"content-type": "application/json"}, content=big)
    assert_error(response, 413, "payload_too_large")

    def chunks() -> Iterator[bytes]:
        yield b'{"kind": "NOTE", "note": "'
        for _ in range(10):
            yield b"y" * 500
        yield b'"}'

    streamed = http.post(
        url, headers=auth(env.keys["operator"]) | {"content-type": "application/json"}, content=chunks()
    )
    assert_error(streamed, 413, "payload_too_large")


# --- cameras and keys ---------------------------------------------------------------------------------------


def test_cameras_show_sources_to_admins_only(env: Env, http: httpx.Client) -> None:
    viewer = http.get("/v1/cameras", headers=auth(env.keys["viewer"])).json()["items"]
    assert [c["id"] for c in viewer] == ["cam-a", "cam-b"]
    assert all(c["source"] is None for c in viewer)
    assert viewer[0]["last_anomaly_at"].startswith("2025-03-01T13:20")
    assert viewer[1]["last_anomaly_at"].startswith("2025-03-01T13:00")
    admin = http.get("/v1/cameras", headers=auth(env.keys["admin"])).json()["items"]
    assert admin[0]["source"] == "rtsp://10.0.0.5/stream"


def test_admin_manages_keys_and_revocation_is_immediate_without_cache(env: Env, http: httpx.Client) -> None:
    admin = auth(env.keys["admin"])
    created = http.post("/v1/apikeys", headers=admin, json={"name": "kiosk", "role": "viewer", "cameras": ["cam-b"]})
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["key"].startswith("ak_") and body["cameras"] == ["cam-b"]
    listed = http.get("/v1/apikeys", headers=admin).json()
    assert body["id"] in {k["id"] for k in listed} and all("key" not in k and "hash" not in k for k in listed)
    assert http.get("/v1/cameras", headers=auth(body["key"])).status_code == 200
    assert http.delete(f"/v1/apikeys/{body['id']}", headers=admin).json()["revoked_at"]
    assert_error(http.get("/v1/cameras", headers=auth(body["key"])), 401, "unauthorized", "revoked")
    assert_error(http.delete(f"/v1/apikeys/{uuid.uuid4()}", headers=admin), 404, "not_found")
    with psycopg.connect(env.dsn) as conn:
        stored = conn.execute("select hash from api_keys where id = %s", (body["id"],)).fetchone()
    assert stored and body["key"] not in stored[0]


def test_cors_allows_configured_origins_only(env: Env, http: httpx.Client) -> None:
    preflight = {"Access-Control-Request-Method": "GET", "Access-Control-Request-Headers": "authorization"}
    ok = http.options("/v1/anomalies", headers={"Origin": "http://ops.example"} | preflight)
    assert ok.headers.get("access-control-allow-origin") == "http://ops.example"
    other = http.options("/v1/anomalies", headers={"Origin": "http://evil.example"} | preflight)
    assert "access-control-allow-origin" not in other.headers


# --- rate limits and outages (own servers) ------------------------------------------------------------------


def test_over_the_rate_is_429_with_retry_after(env: Env) -> None:
    settings = app_settings(
        env.dsn,
        env.kafka,
        env.store_settings,
        env.prefix,
        API_LIVE_ENABLED=False,
        API_RATE_LIMIT_PER_MINUTE=6,
        API_RATE_LIMIT_BURST=3,
    )
    with serve(settings) as api, httpx.Client(base_url=api.base_url) as client:
        codes = [client.get("/v1/cameras", headers=auth(env.keys["viewer"])).status_code for _ in range(4)]
        assert codes == [200, 200, 200, 429]
        limited = client.get("/v1/cameras", headers=auth(env.keys["viewer"]))
        assert_error(limited, 429, "rate_limited")
        assert 1 <= int(limited.headers["retry-after"]) <= 10
        assert client.get("/v1/cameras", headers=auth(env.keys["admin"])).status_code == 200  # other keys unaffected


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port  # nothing listens there once the socket is closed


def test_postgres_down_gives_503_and_the_process_stays_up(env: Env) -> None:
    dead = f"postgresql://anomaly@127.0.0.1:{_closed_port()}/anomaly"
    settings = app_settings(dead, env.kafka, env.store_settings, env.prefix, API_LIVE_ENABLED=False)
    jwt = issue_jwt(JWT_SECRET, "alice", Role.VIEWER, ttl=timedelta(minutes=5), now=datetime.now(UTC))
    with serve(settings) as api, httpx.Client(base_url=api.base_url, timeout=10) as client:
        ready = client.get("/readyz")
        assert ready.status_code == 503
        assert ready.json()["failed"] == ["postgres"] and ready.json()["checks"]["kafka"] == "ok"
        assert "127.0.0.1" not in ready.text
        assert_error(client.get("/v1/anomalies", headers=auth(jwt)), 503, "unavailable", "postgres")
        assert_error(client.get("/v1/cameras", headers=auth(env.keys["viewer"])), 503, "unavailable")
        assert client.get("/healthz").status_code == 200
        assert api.thread.is_alive()


def test_kafka_down_refuses_actions_with_503_and_changes_nothing(env: Env) -> None:
    dead = env.kafka.model_copy(update={"bootstrap_servers": f"127.0.0.1:{_closed_port()}"})
    settings = app_settings(
        env.dsn, dead, env.store_settings, env.prefix, API_LIVE_ENABLED=False, API_KAFKA_TIMEOUT_SECONDS=1
    )
    anomaly = env.ids["cam-b"]
    with serve(settings) as api, httpx.Client(base_url=api.base_url, timeout=10) as client:
        refused = client.post(
            f"/v1/anomalies/{anomaly}/actions", headers=auth(env.keys["operator"]), json={"kind": "ACKNOWLEDGE"}
        )
        assert_error(refused, 503, "unavailable", "kafka")
        assert refused.headers["retry-after"] == "5"
        detail = client.get(f"/v1/anomalies/{anomaly}", headers=auth(env.keys["viewer"])).json()
        assert detail["status"] == "NEW" and detail["actions"] == []


# --- live WebSocket -----------------------------------------------------------------------------------------


def _ws(env: Env, query: str = "", protocols: list[str] | None = None, **kw: object) -> ClientConnection:
    return connect(f"{env.api.ws_url}/v1/ws/anomalies{query}", subprotocols=protocols, open_timeout=10, **kw)  # type: ignore[arg-type]


def _next_anomaly(ws: ClientConnection, timeout: float = 15.0) -> dict[str, object]:
    deadline = time.monotonic() + timeout
    while True:
        message = json.loads(ws.recv(timeout=max(0.1, deadline - time.monotonic())))
        if message["type"] == "anomaly":
            anomaly: dict[str, object] = message["anomaly"]
            return anomaly


def _next_of(ws: ClientConnection, kind: str, timeout: float = 15.0) -> dict[str, object]:
    deadline = time.monotonic() + timeout
    while True:
        message = json.loads(ws.recv(timeout=max(0.1, deadline - time.monotonic())))
        if message["type"] == kind:
            found: dict[str, object] = message[kind]
            return found


def test_ws_pushes_operator_actions(env: Env, http: httpx.Client) -> None:
    with _ws(env, "?min_severity=CRITICAL", ["anomaly.v1", f"bearer.{env.keys['viewer']}"]) as ws:
        assert json.loads(ws.recv(timeout=5))["type"] == "hello"
        anomaly = env.ids["newest"]
        body = {"kind": "ASSIGN", "assignee": "night shift"}
        sent = http.post(f"/v1/anomalies/{anomaly}/actions", headers=auth(env.keys["operator"]), json=body)
        assert sent.status_code == 201, sent.text
        pushed = _next_of(ws, "action")  # actions pass every severity filter: they carry no severity
        assert pushed["action_id"] == sent.json()["action_id"] and pushed["assignee"] == "night shift"


def _close_code(ws: ClientConnection, timeout: float = 10.0) -> int | None:
    with pytest.raises(ConnectionClosed) as closed:
        while True:
            ws.recv(timeout=timeout)
    return closed.value.rcvd.code if closed.value.rcvd else None


def test_ws_refuses_missing_forged_and_out_of_scope_credentials_with_1008(env: Env) -> None:
    with _ws(env) as ws:  # no credentials at all: waits for an auth message, then closes
        assert _close_code(ws) == 1008
    with _ws(env, "?token=ak_forged") as ws:
        assert _close_code(ws) == 1008
    with _ws(env, "", ["anomaly.v1", f"bearer.{env.keys['expired']}"]) as ws:
        assert _close_code(ws) == 1008
    with _ws(env, "?camera=cam-b", ["anomaly.v1", f"bearer.{env.keys['scoped']}"]) as ws:
        assert _close_code(ws) == 1008


def test_ws_delivers_live_events_filtered_by_camera(env: Env) -> None:
    with (
        _ws(env, "", ["anomaly.v1", f"bearer.{env.keys['viewer']}"]) as everything,
        _ws(env, "?camera=cam-a") as only_a,
        _ws(env, f"?token={env.keys['scoped']}") as scoped,  # a key limited to cam-a, in the query string
    ):
        assert everything.subprotocol == "anomaly.v1"
        assert json.loads(everything.recv(timeout=5))["type"] == "hello"
        only_a.send(json.dumps({"type": "auth", "token": env.keys["operator"]}))  # first-message auth
        assert json.loads(only_a.recv(timeout=5))["type"] == "hello"
        b_event = anomaly_event("cam-b", "CRITICAL", best_frame=env.frame)
        a_event = anomaly_event("cam-a", "HIGH", best_frame=env.frame)
        publish(env.kafka, env.topic, [b_event, a_event])
        got_b = _next_anomaly(everything)
        got_a = _next_anomaly(everything)
        assert (got_b["anomaly_id"], got_a["anomaly_id"]) == (b_event.anomaly_id, a_event.anomaly_id)
        assert got_a["kinds"] == ["FALL", "DISTRESS_SPEECH"] and got_a["state"] == AnomalyState.OPEN.value
        assert got_a["transcript"] == a_event.evidence.transcript_excerpt
        assert httpx.get(str(got_a["best_frame_url"]), timeout=10).content == env.frame_bytes
        assert _next_anomaly(only_a)["anomaly_id"] == a_event.anomaly_id  # cam-b's event was filtered out
        assert _next_anomaly(scoped)["anomaly_id"] == a_event.anomaly_id  # and never reaches cam-a-only keys


def test_ws_connection_limit_per_key_closes_with_1013(env: Env) -> None:
    protocols = ["anomaly.v1", f"bearer.{env.keys['admin']}"]
    with _ws(env, "", protocols) as first, _ws(env, "", protocols) as second:
        for ws in (first, second):
            assert json.loads(ws.recv(timeout=5))["type"] == "hello"
        with _ws(env, "", protocols) as third:
            assert _close_code(third) == 1013
    with _ws(env, "", protocols) as again:  # slots are released on disconnect
        assert json.loads(again.recv(timeout=5))["type"] == "hello"


def _stalled_socket(env: Env, key: str) -> socket.socket:
    """A WebSocket client that completes the handshake and then never reads (tiny receive buffer)."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", int(env.api.base_url.rsplit(":", 1)[1])))
    request = (
        "GET /v1/ws/anomalies HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
        f"Sec-WebSocket-Protocol: anomaly.v1, bearer.{key}\r\n\r\n"
    )
    sock.sendall(request.encode())
    head = b""
    while b"\r\n\r\n" not in head:
        head += sock.recv(1)
    assert head.startswith(b"HTTP/1.1 101"), head
    return sock


def test_ws_slow_client_is_dropped_and_never_stalls_the_others(env: Env) -> None:
    hub = env.api.app.state.services.hub
    dropped_before = hub.dropped
    stalled = _stalled_socket(env, env.keys["operator"])
    with stalled, _ws(env, "", ["anomaly.v1", f"bearer.{env.keys['operator']}"]) as fast:
        assert json.loads(fast.recv(timeout=5))["type"] == "hello"
        # ~10 MB: more than the kernel buffers (4 MB send, a few KB receive) and a queue of 64 can hold.
        bulky = [anomaly_event("cam-a", "LOW", transcript="z" * 25_000) for _ in range(400)]
        wanted = {e.anomaly_id for e in bulky}
        received: set[str] = set()

        def read_fast() -> None:
            # The fast client reads while the events are published, as a live client would.
            while not wanted <= received:
                received.add(str(_next_anomaly(fast, timeout=20)["anomaly_id"]))

        reader = threading.Thread(target=read_fast, daemon=True)
        reader.start()
        for start in range(0, len(bulky), 25):
            # Paced like a busy site rather than one burst, so only a reader that never reads falls behind.
            publish(env.kafka, env.topic, bulky[start : start + 25])
            time.sleep(0.2)
        reader.join(timeout=60)
        assert wanted <= received
        assert hub.dropped == dropped_before + 1  # the stalled reader, and only it


# --- the commands -------------------------------------------------------------------------------------------


def test_apikeys_commands_create_list_revoke(env: Env, http: httpx.Client, monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from anomaly_cli.main import app

    monkeypatch.setenv("DATABASE_URL", env.dsn)
    monkeypatch.setenv("API_KEY_PEPPER", PEPPER)
    runner = CliRunner()
    created = runner.invoke(app, ["apikeys", "create", "--name", "cli", "--role", "operator", "--camera", "cam-a",
                                  "--expires-days", "1", "--json"])  # fmt: skip
    assert created.exit_code == 0, created.output
    key = json.loads(created.output)
    assert key["role"] == "operator" and key["cameras"] == ["cam-a"] and key["expires_at"]
    assert http.get("/v1/cameras", headers=auth(key["key"])).json()["items"][0]["id"] == "cam-a"
    listed = json.loads(runner.invoke(app, ["apikeys", "list", "--json"]).output)
    assert key["id"] in {k["id"] for k in listed} and all("key" not in k for k in listed)
    assert runner.invoke(app, ["apikeys", "revoke", key["id"]]).exit_code == 0
    assert_error(http.get("/v1/cameras", headers=auth(key["key"])), 401, "unauthorized", "revoked")
    assert runner.invoke(app, ["apikeys", "revoke", str(uuid.uuid4())]).exit_code == 1
    bad_role = runner.invoke(app, ["apikeys", "create", "--name", "x", "--role", "root"])
    assert bad_role.exit_code == 2


@pytest.mark.slow  # two interpreters start (supervisor and worker)
def test_anomaly_api_serves_with_production_settings_and_stops_on_sigterm(env: Env) -> None:
    import os
    import signal
    import subprocess
    import sys

    port = _closed_port()
    environment = os.environ | {"DATABASE_URL": env.dsn, "KAFKA_TOPIC_PREFIX": env.prefix, "API_KEY_PEPPER": PEPPER,
                                "LOG_LEVEL": "WARNING"}  # fmt: skip
    command = [sys.executable, "-m", "anomaly_cli.main", "api", "--host", "127.0.0.1", "--port", str(port)]
    proc = subprocess.Popen(command, env=environment, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, proc.stdout.read().decode() if proc.stdout else ""
            try:
                response = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "anomaly api did not start"
                time.sleep(0.2)
        assert response.status_code == 200
        assert "server" not in response.headers and "date" not in response.headers
        listed = httpx.get(f"http://127.0.0.1:{port}/v1/anomalies", headers=auth(env.keys["viewer"]), timeout=5)
        assert listed.status_code == 200 and len(listed.json()["items"]) == 9
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
