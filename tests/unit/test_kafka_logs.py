"""librdkafka's repeated lines during an outage: one line, then a count after the quiet period."""

from __future__ import annotations

import logging

from anomaly_core.kafka_logs import OutageFilter


def _record(message: str) -> logging.LogRecord:
    return logging.LogRecord("librdkafka", logging.ERROR, __file__, 1, message, (), None)


def test_repeats_of_a_line_are_dropped_then_counted() -> None:
    now = [0.0]
    refused = OutageFilter(quiet_s=60.0, clock=lambda: now[0])
    assert refused.filter(_record("FAIL [rdkafka#consumer-1] 127.0.0.1:19092/1: Connection refused (after 0ms)"))
    for i in range(500):
        now[0] += 0.1
        assert not refused.filter(
            _record(f"FAIL [rdkafka#consumer-1] 127.0.0.1:19092/1: Connection refused (after {i}ms)")
        )
    now[0] += 60.0
    again = _record("FAIL [rdkafka#consumer-1] 127.0.0.1:19092/1: Connection refused (after 3ms)")
    assert refused.filter(again)
    assert "and 500 like it" in again.getMessage()


def test_different_lines_each_pass_once() -> None:
    f = OutageFilter(quiet_s=60.0, clock=lambda: 0.0)
    assert f.filter(_record("Connection refused"))
    assert f.filter(_record("All brokers are down"))
    assert not f.filter(_record("All brokers are down"))
