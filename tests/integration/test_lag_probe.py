"""The lag probe against a broker that is not there: a TransientError within its timeout, never a traceback."""

from __future__ import annotations

import socket
import time

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
