"""librdkafka's repeated lines during an outage: one line, then a count after the quiet period."""

from __future__ import annotations

import logging

from anomaly_core.kafka_logs import BrokerWatch, OutageFilter


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


def test_with_prefixes_only_those_loggers_are_filtered() -> None:
    f = OutageFilter(quiet_s=60.0, clock=lambda: 0.0, prefixes=("aiokafka",))
    for name in ("aiokafka", "aiokafka.conn"):
        record = logging.LogRecord(name, logging.ERROR, __file__, 1, "Unable connect to node with id 1", (), None)
        assert f.filter(record)  # the first of each logger's lines
        assert not f.filter(record)
    other = logging.LogRecord("fusion_app.live_driver", logging.INFO, __file__, 1, "checkpoint", (), None)
    assert all(f.filter(other) for _ in range(3))
    assert OutageFilter(prefixes=("kafka",)).filter(
        logging.LogRecord("kafkaesque", logging.INFO, __file__, 1, "x", (), None)
    )


def test_broker_watch_says_once_when_kafka_stops_and_once_when_it_answers_again() -> None:
    now = [100.0]
    watch = BrokerWatch(grace_s=3.0, clock=lambda: now[0])
    assert watch.answered() is None
    # A quick error (a group still joining) is not an outage yet.
    assert watch.failed("GROUP_COORDINATOR_NOT_AVAILABLE") is None
    assert watch.down_for() is None
    now[0] += 1.0
    assert watch.answered() is None
    # A call that timed out after 10 s: the broker has not answered for that long already.
    now[0] += 10.0
    line = watch.failed(TimeoutError("timed out"), started=now[0] - 10.0)
    assert line and "not answering" in line and "timed out" in line
    lines = []
    for _ in range(20):
        now[0] += 10.0
        lines.append(watch.failed("timed out", started=now[0] - 10.0))
    assert lines == [None] * 20
    assert watch.down_for() == 210.0
    back = watch.answered()
    assert back and "answers again" in back and "210 s" in back
    assert watch.down_for() is None and watch.answered() is None
    # Repeated quick errors become an outage once they have gone on for the grace period.
    assert watch.failed("refused") is None
    now[0] += 3.0
    assert watch.failed("refused") is not None
