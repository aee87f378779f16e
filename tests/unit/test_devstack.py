"""The stack's pure pieces: address parsing, broker config, pid files, port holders, cache fills."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from anomaly_core.settings import StackSettings
from devstack import cache, ports, process
from devstack.errors import StackError
from devstack.kafka import random_cluster_id, server_properties
from devstack.paths import CHECKOUT_ROOT, StackPaths
from devstack.service import Endpoint, endpoint_of_servers, endpoint_of_url


def test_local_and_external_addresses() -> None:
    assert endpoint_of_servers("127.0.0.1:19092") == Endpoint("127.0.0.1", 19092)
    assert endpoint_of_servers("localhost:1").local
    assert not endpoint_of_servers("b-1.msk.aws:9092").local
    assert not endpoint_of_servers("127.0.0.1:1,127.0.0.1:2").local  # a cluster is never the local node
    assert endpoint_of_url("http://127.0.0.1:18081/apis/ccompat/v7", 80) == Endpoint("127.0.0.1", 18081)
    assert endpoint_of_url("postgresql://u@db.example:5432/x", 5432).host == "db.example"
    assert endpoint_of_url("https://s3.amazonaws.com", 443).port == 443


def test_kafka_is_one_kraft_node_without_auto_created_topics(tmp_path: Path) -> None:
    props = dict(
        line.split("=", 1) for line in server_properties(Endpoint("127.0.0.1", 19092), 19093, tmp_path).splitlines()
    )
    assert props["process.roles"] == "broker,controller"
    assert props["controller.quorum.voters"] == "1@127.0.0.1:19093"
    assert props["advertised.listeners"] == "PLAINTEXT://127.0.0.1:19092"
    assert props["auto.create.topics.enable"] == "false"
    assert props["log.dirs"] == str(tmp_path)


def test_cluster_ids_look_like_kafkas() -> None:
    ids = {random_cluster_id() for _ in range(200)}
    assert len(ids) == 200
    assert all(len(i) == 22 and not i.startswith("-") for i in ids)


def test_relative_stack_dir_is_under_the_checkout(tmp_path: Path) -> None:
    rel = StackPaths.from_settings(StackSettings(STACK_DIR=Path(".stack")))
    assert rel.root == CHECKOUT_ROOT / ".stack"
    absolute = StackPaths.from_settings(StackSettings(STACK_DIR=tmp_path))
    assert absolute.root == tmp_path
    assert absolute.pidfile("kafka") == tmp_path / "run" / "kafka.json"


def test_pidfile_follows_the_process_and_ignores_reused_pids(tmp_path: Path) -> None:
    launch = process.Launch([sys.executable, "-c", "import time; time.sleep(60)"], dict(os.environ), tmp_path)
    record = process.spawn(launch, tmp_path / "x.log", tmp_path / "x.json")
    try:
        assert process.running(tmp_path / "x.json") == record
        imposter = process.PidRecord(record.pid, record.start_ticks + 1, record.started_at, record.argv)
        assert not process.is_alive(imposter)
    finally:
        outcome = process.stop(record, signal.SIGTERM, 5)
    assert outcome == "stopped (SIGTERM)"
    assert process.running(tmp_path / "x.json") is None
    assert not (tmp_path / "x.json").exists()  # stale files are cleaned up


def test_stop_escalates_to_sigkill(tmp_path: Path) -> None:
    code = "import signal as s, time; s.signal(s.SIGTERM, s.SIG_IGN); print('re' + 'ady', flush=1); time.sleep(60)"
    record = process.spawn(
        process.Launch([sys.executable, "-c", code], dict(os.environ), tmp_path),
        tmp_path / "y.log",
        tmp_path / "y.json",
    )
    deadline = time.monotonic() + 10
    while "\nready" not in (tmp_path / "y.log").read_text() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert process.stop(record, signal.SIGTERM, 0.5).startswith("killed")
    assert not process.is_alive(record)


def test_port_holder_is_found() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        assert not ports.can_bind("127.0.0.1", port)
        holder = ports.holder(port)
        assert holder is not None and holder.pid == os.getpid()
    assert ports.holder(port) is None


def test_cache_fill_is_atomic(tmp_path: Path) -> None:
    target = tmp_path / "thing-1.0"

    def broken(tmp: Path) -> None:
        (tmp / "half").write_text("x")
        raise StackError("network down")

    with pytest.raises(StackError):
        cache.ensure(target, broken)
    assert not cache.is_cached(target) and not target.exists()
    cache.ensure(target, lambda tmp: (tmp / "done").write_text("ok"))
    assert cache.is_cached(target) and (target / "done").read_text() == "ok"
    cache.ensure(target, broken)  # cached: the build does not run again


def test_build_failure_shows_the_log_tail(tmp_path: Path) -> None:
    with pytest.raises(StackError, match="boom") as info:
        cache.run_build(["sh", "-c", "echo boom; exit 3"], "building x", tmp_path / "b.log")
    assert "exit 3" in info.value.cause


def test_stack_error_prints_cause_and_fix() -> None:
    assert str(StackError("port 1 taken", "stop it")) == "port 1 taken\n  fix: stop it"
    assert subprocess.run(["true"], check=False).returncode == 0
