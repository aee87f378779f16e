"""`anomaly stack` against real processes: health, idempotence, restarts, and the errors a user can hit.

Tests that stop or kill services run a second, private stack (own folder, own free ports), so the shared
stack other tests use is never disturbed.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from devstack.env import StackEnv
from devstack.ports import free_port

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
SERVICES = {"kafka", "schema_registry", "postgres", "minio", "mosquitto"}


def cli(*args: str, env: dict[str, str] | None = None, timeout: float = 400) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "anomaly_cli.main", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
        check=False,
    )


def status_json(env: dict[str, str] | None = None) -> dict[str, Any]:
    result = cli("stack", "status", "--json", env=env, timeout=60)
    assert result.returncode in (0, 3), result.stderr
    data: dict[str, Any] = json.loads(result.stdout)
    return data


def scratch_env(stack_dir: Path) -> dict[str, str]:
    """Settings of a private stack: its own folder and free ports for every service."""
    return {
        "STACK_DIR": str(stack_dir),
        "KAFKA_BOOTSTRAP_SERVERS": f"127.0.0.1:{free_port()}",
        "STACK_KAFKA_CONTROLLER_PORT": str(free_port()),
        "SCHEMA_REGISTRY_URL": f"http://127.0.0.1:{free_port()}/apis/ccompat/v7",
        "DATABASE_URL": f"postgresql://anomaly@127.0.0.1:{free_port()}/anomaly",
        "S3_ENDPOINT_URL": f"http://127.0.0.1:{free_port()}",
        "MQTT_URL": f"mqtt://127.0.0.1:{free_port()}",
    }


@pytest.fixture
def scratch_dir() -> Iterator[Path]:
    # Not pytest's tmp_path: that is private to root, and PostgreSQL runs as its own OS user.
    path = Path(tempfile.mkdtemp(prefix="anomaly-stack-test-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def test_status_json_reports_every_service_healthy(stack_env: StackEnv) -> None:
    data = status_json()
    assert data["healthy"] is True
    assert set(data["services"]) == SERVICES
    for name, row in data["services"].items():
        assert row["healthy"] is True, (name, row)
        assert row["port"] > 0
        if row["managed"]:
            assert row["pid"] and Path(f"/proc/{row['pid']}").exists()


def test_second_up_is_a_noop(stack_env: StackEnv) -> None:
    before = {name: row["pid"] for name, row in status_json()["services"].items()}
    result = cli("stack", "up", "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["noop"] is True
    assert "nothing to do" in result.stderr
    after = {name: row["pid"] for name, row in status_json()["services"].items()}
    assert after == before


def test_env_prints_eval_lines(stack_env: StackEnv) -> None:
    result = cli("stack", "env", "--export")
    assert result.returncode == 0
    lines = dict(line.removeprefix("export ").split("=", 1) for line in result.stdout.splitlines())
    assert set(lines) == {
        "KAFKA_BOOTSTRAP_SERVERS",
        "SCHEMA_REGISTRY_URL",
        "DATABASE_URL",
        "S3_ENDPOINT_URL",
        "S3_ACCESS_KEY",
        "S3_SECRET_KEY",
    }
    assert lines["KAFKA_BOOTSTRAP_SERVERS"] == stack_env.kafka_bootstrap_servers


def test_registry_speaks_the_confluent_api(registry_url: str) -> None:
    subject = f"t{uuid.uuid4().hex[:8]}-value"
    headers = {"Content-Type": "application/vnd.schemaregistry.v1+json"}

    def schema(*fields: dict[str, Any]) -> str:
        return json.dumps({"schema": json.dumps({"type": "record", "name": "R", "namespace": "t", "fields": fields})})

    v1 = schema({"name": "a", "type": "string"})
    v2 = schema({"name": "a", "type": "string"}, {"name": "b", "type": "int", "default": 0})
    bad = schema({"name": "a", "type": "int"})
    with httpx.Client(base_url=registry_url, headers=headers, timeout=10) as http:
        schema_id = http.post(f"/subjects/{subject}/versions", content=v1).json()["id"]
        assert http.get(f"/schemas/ids/{schema_id}").json()["schema"] == json.loads(v1)["schema"]
        put = http.put(f"/config/{subject}", content=json.dumps({"compatibility": "BACKWARD_TRANSITIVE"}))
        assert put.json()["compatibility"] == "BACKWARD_TRANSITIVE"
        check = f"/compatibility/subjects/{subject}/versions/latest"
        assert http.post(check, content=v2).json()["is_compatible"] is True
        assert http.post(check, content=bad).json()["is_compatible"] is False
        assert http.post(f"/subjects/{subject}/versions", content=bad).status_code == 409
        # GET /subjects is paged by the registry, so ask for this subject's versions directly.
        assert http.get(f"/subjects/{subject}/versions").json() == [1]
        http.delete(f"/subjects/{subject}")


def test_topics_create_and_list(stack_env: StackEnv, unique_prefix: str) -> None:
    from confluent_kafka.admin import AdminClient

    from anomaly_core.admin import delete_topics
    from anomaly_core.topics import TOPICS

    first = cli("topics", "create", "--prefix", unique_prefix, "--partitions", "2", "--json")
    try:
        assert first.returncode == 0, first.stderr
        assert {row["result"] for row in json.loads(first.stdout)} == {"created"}
        again = cli("topics", "create", "--prefix", unique_prefix, "--partitions", "2", "--json")
        assert {row["result"] for row in json.loads(again.stdout)} == {"exists"}
        listed = {
            row["name"]: row for row in json.loads(cli("topics", "list", "--prefix", unique_prefix, "--json").stdout)
        }
        for spec in TOPICS:
            row = listed[unique_prefix + spec.name]
            assert row["exists"] and row["partitions"] == 2
            assert row["retention_ms"] == spec.retention_ms
            assert row["cleanup_policy"] == spec.cleanup_policy
    finally:
        delete_topics(
            AdminClient({"bootstrap.servers": stack_env.kafka_bootstrap_servers}),
            [unique_prefix + spec.name for spec in TOPICS],
        )


def test_a_taken_port_is_named_and_nothing_is_left_running(scratch_dir: Path) -> None:
    env = scratch_env(scratch_dir)
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        env["DATABASE_URL"] = f"postgresql://anomaly@127.0.0.1:{port}/anomaly"
        result = cli("stack", "up", env=env)
    assert result.returncode == 1
    assert f"port {port}" in result.stderr and "in use by" in result.stderr
    assert f"pid {os.getpid()}" in result.stderr  # the holder is named
    assert "DATABASE_URL" in result.stderr  # and how to move the service
    assert not any(row["running"] for row in status_json(env)["services"].values())


def test_another_stack_on_the_same_ports_is_recognised(stack_env: StackEnv, scratch_dir: Path) -> None:
    from anomaly_core.settings import StackSettings
    from devstack.paths import StackPaths

    shared_root = StackPaths.from_settings(StackSettings()).root
    result = cli("stack", "up", "minio", env={"STACK_DIR": str(scratch_dir)})
    assert result.returncode == 1
    assert "another stack" in result.stderr
    assert f"STACK_DIR={shared_root} anomaly stack down" in result.stderr


def test_a_corrupt_data_folder_is_reported(scratch_dir: Path) -> None:
    env = scratch_env(scratch_dir)
    (scratch_dir / "kafka" / "data").mkdir(parents=True)
    (scratch_dir / "kafka" / "data" / "00000000000000000000.log").write_bytes(b"\x00garbage")
    result = cli("stack", "up", "kafka", env=env)
    assert result.returncode == 1
    assert "corrupt" in result.stderr and "meta.properties" in result.stderr and "fix:" in result.stderr
    assert not (scratch_dir / "run" / "kafka.json").exists()


def test_missing_java_is_reported(scratch_dir: Path) -> None:
    env = {**scratch_env(scratch_dir), "STACK_JAVA": "/nonexistent/java"}
    result = cli("stack", "up", "kafka", env=env)
    assert result.returncode == 1
    assert "Java not found" in result.stderr and "STACK_JAVA" in result.stderr


def test_an_external_service_is_checked_not_started(scratch_dir: Path) -> None:
    env = {**scratch_env(scratch_dir), "S3_ENDPOINT_URL": "http://s3.invalid:9000"}
    result = cli("stack", "up", "minio", env=env)
    assert result.returncode == 1
    assert "not local, so not started here" in result.stderr
    assert not (scratch_dir / "run" / "minio.json").exists()


@pytest.fixture
def scratch_stack(scratch_dir: Path) -> Iterator[dict[str, str]]:
    env = scratch_env(scratch_dir)
    result = cli("stack", "up", env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    yield env
    cli("stack", "down", env=env)


@pytest.mark.slow
def test_data_survives_down_and_up(scratch_stack: dict[str, str]) -> None:
    import psycopg
    from confluent_kafka import Consumer, Producer, TopicPartition
    from confluent_kafka.admin import AdminClient, NewTopic

    from devstack.health import minio_client

    env = scratch_stack
    bootstrap, registry = env["KAFKA_BOOTSTRAP_SERVERS"], env["SCHEMA_REGISTRY_URL"]
    admin = AdminClient({"bootstrap.servers": bootstrap})  # kept referenced until the future resolves
    admin.create_topics([NewTopic("keep", 1, 1)])["keep"].result(30)
    producer = Producer({"bootstrap.servers": bootstrap})
    producer.produce("keep", b"kept")
    assert producer.flush(30) == 0
    schema = json.dumps({"schema": json.dumps({"type": "record", "name": "K", "fields": []})})
    httpx.post(
        f"{registry}/subjects/keep-value/versions",
        content=schema,
        headers={"Content-Type": "application/vnd.schemaregistry.v1+json"},
        timeout=10,
    ).raise_for_status()
    with psycopg.connect(env["DATABASE_URL"], autocommit=True) as conn:
        conn.execute("create table keep (v text)")
        conn.execute("insert into keep values ('kept')")
    s3: Any = minio_client(env["S3_ENDPOINT_URL"], "anomaly-dev", "anomaly-dev-secret", "us-east-1", 10)
    import io

    s3.put_object("anomaly-evidence", "keep.txt", io.BytesIO(b"kept"), 4)

    down = cli("stack", "down", env=env)
    assert down.returncode == 0, down.stderr
    assert not any(row["running"] for row in status_json(env)["services"].values())
    up = cli("stack", "up", env=env)
    assert up.returncode == 0, up.stderr

    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "keep"})
    consumer.assign([TopicPartition("keep", 0, 0)])
    msg = consumer.poll(30)
    consumer.close()
    assert msg is not None and msg.value() == b"kept"
    assert httpx.get(f"{registry}/subjects", timeout=10).json() == ["keep-value"]
    with psycopg.connect(env["DATABASE_URL"]) as conn:
        assert conn.execute("select v from keep").fetchall() == [("kept",)]
    assert s3.get_object("anomaly-evidence", "keep.txt").read() == b"kept"


@pytest.mark.slow
def test_a_killed_service_is_noticed_and_brought_back(scratch_stack: dict[str, str]) -> None:
    env = scratch_stack
    pid = status_json(env)["services"]["minio"]["pid"]
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    result = cli("stack", "status", "--json", env=env, timeout=60)
    assert result.returncode == 3
    row = json.loads(result.stdout)["services"]["minio"]
    assert row["healthy"] is False and row["state"] == "dead"
    up = cli("stack", "up", env=env)
    assert up.returncode == 0, up.stderr
    assert "already running" in up.stderr or "already running" in up.stdout
    data = status_json(env)
    assert data["healthy"] is True and data["services"]["minio"]["pid"] != pid
