"""The lag probe against a broker that is not there: a TransientError within its timeout, never a traceback."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import pytest

from anomaly_core.errors import TransientError
from anomaly_core.settings import KafkaSettings
from reports.lag import LagProbe


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_an_unreachable_broker_is_a_transient_error_within_the_timeout() -> None:
    kafka = KafkaSettings(KAFKA_BOOTSTRAP_SERVERS=f"127.0.0.1:{_closed_port()}")
    probe = LagProbe(kafka, timeout_s=1.0)
    try:
        for call in (
            lambda: probe.committed("some-group", [("t", 0)]),
            lambda: probe.group_members("some-group"),
            lambda: probe.end_offsets(["t"]),
        ):
            started = time.monotonic()
            with pytest.raises(TransientError):
                call()
            assert time.monotonic() - started < 10
    finally:
        probe.close()


def test_a_run_watching_an_unreachable_broker_says_so_and_carries_on(tmp_path: Path) -> None:
    from reports.collect import TopicTail
    from reports.plan import plan_run
    from runs.pipeline import PipelineRun
    from runs.watch import safe_poll
    from schemas.records import AnomalyEvent

    kafka = KafkaSettings(KAFKA_BOOTSTRAP_SERVERS=f"127.0.0.1:{_closed_port()}")
    plan = plan_run(set())
    run = PipelineRun(plan=plan, kafka=kafka, prefix="t.", log_dir=tmp_path, deferred={s.name for s in plan.services})
    tail: TopicTail[AnomalyEvent] = TopicTail(kafka, _NoDecoder(), "t.anomalies.v1", AnomalyEvent)
    try:
        started = time.monotonic()
        verdict = run.observe()  # one timed-out probe, not one per consumer group
        assert time.monotonic() - started < 15
        assert not verdict.done
        assert run.broker.down_for() is not None and run.broker.error
        started = time.monotonic()
        assert safe_poll(tail) == []
        assert time.monotonic() - started < 15
    finally:
        tail.close()
        run.stop()


class _NoDecoder:
    def decode(self, topic: str, data: bytes, cls: type) -> object:
        raise AssertionError("nothing can be read from a broker that is not there")
