"""run_service against the real Kafka and registry: outputs, retries, dead letters, crashes and clean stops."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pytest
from _streaming import (
    committed_offsets,
    end_offsets,
    produce_raw,
    read_all,
    read_until,
    service_thread,
    wait_until,
)

from anomaly_core.errors import TransientError, ValidationError
from anomaly_core.registry import RegistryClient
from anomaly_core.runtime import Message, Output, ServiceSpec, per_message
from anomaly_core.serde import AvroSerde
from anomaly_core.settings import KafkaSettings
from schemas.records import DeadLetter, DeadLetterStage, FrameRef
from schemas.samples import sample_record

pytestmark = pytest.mark.integration

ECHO = Path(__file__).with_name("_echo_service.py")


def _frames(n: int, cameras: int = 5) -> list[FrameRef]:
    base = sample_record(FrameRef, 1)
    fields = {f: getattr(base, f) for f in FrameRef.__slots__}
    return [
        FrameRef(**{**fields, "event_id": str(uuid.UUID(int=i + 1)), "camera_id": f"cam-{i % cameras}", "seq": i})
        for i in range(n)
    ]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _publish(kafka: KafkaSettings, topic: str, frames: list[FrameRef]) -> None:
    serde = AvroSerde(RegistryClient(kafka.schema_registry_url))
    produce_raw(kafka, topic, [(f.camera_id.encode(), serde.encode(topic, f)) for f in frames])


def _decoded(kafka: KafkaSettings, topic: str, cls: type, expect: int) -> list[Any]:
    serde = AvroSerde(RegistryClient(kafka.schema_registry_url))
    return [serde.decode(topic, m.value(), cls) for m in read_all(kafka, topic, expect=expect)]


def _echo_spec(name: str, topics: dict[str, str], handler: Any, **kw: Any) -> ServiceSpec[FrameRef]:
    return ServiceSpec(
        name=name,
        group_id=f"{topics['in']}.{name}",
        input_topics=[topics["in"]],
        input_record=FrameRef,
        handler=handler,
        dlq_topic=topics["dlq"],
        backoff_initial_s=0.05,
        backoff_max_s=0.2,
        **kw,
    )


def test_outputs_for_every_input_and_offsets_committed(
    kafka_settings: KafkaSettings, streaming_topics: dict[str, str]
) -> None:
    frames = _frames(300)
    _publish(kafka_settings, streaming_topics["in"], frames)
    out = streaming_topics["out"]
    name = f"echo-{streaming_topics['in']}"  # metrics are per process: a name of its own
    port = _free_port()
    spec = _echo_spec(
        name,
        streaming_topics,
        per_message(lambda m: [Output(out, m.key, m.value)]),
        max_batch=50,
        metrics_port=port,
        consumer_config={"statistics.interval.ms": 200},
    )
    with service_thread(spec, kafka_settings):
        echoed = _decoded(kafka_settings, out, FrameRef, expect=300)
        time.sleep(0.5)  # one more statistics report: the lag after the last batch
        metrics = httpx.get(f"http://127.0.0.1:{port}/metrics").text
    assert sorted(f.event_id for f in echoed) == sorted(f.event_id for f in frames)
    assert f'anomaly_messages_consumed_total{{service="{name}",topic="{streaming_topics["in"]}"}} 300.0' in metrics
    assert f'anomaly_messages_produced_total{{service="{name}",topic="{out}"}} 300.0' in metrics
    assert f'anomaly_handler_seconds_count{{service="{name}"}}' in metrics
    assert f'anomaly_consumer_lag{{partition="0",service="{name}",topic="{streaming_topics["in"]}"}} 0.0' in metrics
    keyed = {(m.key(), m.partition()) for m in read_all(kafka_settings, out, expect=300)}
    assert len({k for k, _ in keyed}) == 5 and len(keyed) == 5  # each camera on one partition
    assert committed_offsets(kafka_settings, spec.group_id, streaming_topics["in"]) == end_offsets(
        kafka_settings, streaming_topics["in"]
    )


def test_transient_errors_retry_without_losing_or_dead_lettering(
    kafka_settings: KafkaSettings, streaming_topics: dict[str, str]
) -> None:
    frames = _frames(40)
    _publish(kafka_settings, streaming_topics["in"], frames)
    out = streaming_topics["out"]
    failures = Counter[str]()

    def flaky(message: Message[FrameRef]) -> list[Output]:
        # every third frame fails twice (a store outage) before it succeeds
        if message.value.seq % 3 == 0 and failures[message.value.event_id] < 2:
            failures[message.value.event_id] += 1
            raise TransientError("object store unreachable")
        return [Output(out, message.key, message.value)]

    spec = _echo_spec("flaky", streaming_topics, per_message(flaky), max_batch=10)
    with service_thread(spec, kafka_settings):
        echoed = _decoded(kafka_settings, out, FrameRef, expect=40)
    assert {f.event_id for f in echoed} == {f.event_id for f in frames}
    assert sum(failures.values()) == 2 * len([f for f in frames if f.seq % 3 == 0])
    assert read_all(kafka_settings, streaming_topics["dlq"], expect=1, timeout_s=1.0) == []


def test_permanent_errors_are_dead_lettered_and_the_rest_goes_on(
    kafka_settings: KafkaSettings, streaming_topics: dict[str, str]
) -> None:
    frames = _frames(30)
    _publish(kafka_settings, streaming_topics["in"], frames)
    out = streaming_topics["out"]

    def handler(batch: list[Message[FrameRef]]) -> list[list[Output] | Exception]:
        if any(m.value.seq == 13 for m in batch):
            raise RuntimeError("model crashed on frame 13")  # a bug: the runtime isolates the culprit
        return [
            ValidationError(f"frame {m.value.seq} too dark") if m.value.seq % 10 == 5 else [Output(out, m.key, m.value)]
            for m in batch
        ]

    spec = _echo_spec("picky", streaming_topics, handler, max_batch=8)
    with service_thread(spec, kafka_settings):
        echoed = _decoded(kafka_settings, out, FrameRef, expect=26)
        letters = _decoded(kafka_settings, streaming_topics["dlq"], DeadLetter, expect=4)
    assert sorted(f.seq for f in echoed) == [f.seq for f in frames if f.seq not in (5, 13, 15, 25)]
    by_reason = {letter.reason: letter for letter in letters}
    assert set(by_reason) == {"frame 5 too dark", "frame 15 too dark", "frame 25 too dark", "model crashed on frame 13"}
    crash = by_reason["model crashed on frame 13"]
    assert crash.stage is DeadLetterStage.HANDLE and crash.error_class == "RuntimeError" and crash.service == "picky"
    assert by_reason["frame 5 too dark"].stage is DeadLetterStage.VALIDATE
    original = next(f for f in frames if f.seq == 13)
    serde = AvroSerde(RegistryClient(kafka_settings.schema_registry_url))
    assert serde.decode(streaming_topics["in"], crash.value, FrameRef) == original
    assert crash.key == original.camera_id.encode()


def _start_echo(kafka: KafkaSettings, topics: dict[str, str], group: str, sleep_ms: int) -> subprocess.Popen[str]:
    env = {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": kafka.bootstrap_servers,
        "SCHEMA_REGISTRY_URL": kafka.schema_registry_url,
    }
    cmd = [sys.executable, str(ECHO), topics["in"], topics["out"], group, "--dlq", topics["dlq"]]
    cmd += ["--sleep-ms", str(sleep_ms), "--max-batch", "25"]
    return subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _wait_for_batches(proc: subprocess.Popen[str], n: int) -> list[str]:
    assert proc.stdout is not None
    seen: list[str] = []
    deadline = time.monotonic() + 60
    while sum(line.startswith("batch ") for line in seen) < n:
        line = proc.stdout.readline()
        assert line or proc.poll() is None, f"service exited early:\n{''.join(seen)}"
        seen.append(line)
        assert time.monotonic() < deadline, "no batches within 60 s:\n" + "".join(seen)
    return seen


@pytest.mark.slow
def test_sigkill_mid_batch_then_restart_loses_nothing(
    kafka_settings: KafkaSettings, streaming_topics: dict[str, str]
) -> None:
    frames = _frames(400)
    _publish(kafka_settings, streaming_topics["in"], frames)
    group = f"{streaming_topics['in']}.crash"
    first = _start_echo(kafka_settings, streaming_topics, group, sleep_ms=40)
    try:
        _wait_for_batches(first, 3)
        first.send_signal(signal.SIGKILL)
        first.wait(10)
    finally:
        first.kill()
    assert first.returncode == -signal.SIGKILL
    before = len(read_all(kafka_settings, streaming_topics["out"], expect=400, timeout_s=2))
    assert 0 < before < 400, "the kill should land mid-stream"
    second = _start_echo(kafka_settings, streaming_topics, group, sleep_ms=0)
    wanted = {f.event_id for f in frames}
    serde = AvroSerde(RegistryClient(kafka_settings.schema_registry_url))

    def complete(records: list[Any]) -> bool:
        return {serde.decode(streaming_topics["out"], r.value(), FrameRef).event_id for r in records} >= wanted

    try:
        records = read_until(kafka_settings, streaming_topics["out"], complete, timeout_s=90)
    finally:
        second.send_signal(signal.SIGTERM)
        second.wait(30)
    assert complete(records), "every input has its output"
    assert second.returncode == 0


def test_sigterm_exits_zero_with_offsets_committed(
    kafka_settings: KafkaSettings, streaming_topics: dict[str, str]
) -> None:
    frames = _frames(100)
    _publish(kafka_settings, streaming_topics["in"], frames)
    group = f"{streaming_topics['in']}.term"
    proc = _start_echo(kafka_settings, streaming_topics, group, sleep_ms=5)
    try:
        _wait_for_batches(proc, 1)
        wait_until(
            lambda: len(read_all(kafka_settings, streaming_topics["out"], expect=100, timeout_s=0.5)) >= 100,
            timeout_s=60,
            what="all 100 outputs",
        )
        proc.send_signal(signal.SIGTERM)
        output, _ = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 0, output
    assert "clean exit" in output
    assert committed_offsets(kafka_settings, group, streaming_topics["in"]) == end_offsets(
        kafka_settings, streaming_topics["in"]
    )


def test_a_new_group_joining_a_running_system_starts_at_the_live_end(
    kafka_settings: KafkaSettings, streaming_topics: dict[str, str]
) -> None:
    history = _frames(50)
    _publish(kafka_settings, streaming_topics["in"], history)
    out = streaming_topics["out"]
    spec = _echo_spec("echo-live", streaming_topics, per_message(lambda m: [Output(out, m.key, m.value)]))
    live_kafka = kafka_settings.model_copy(update={"consumer_start": "latest"})
    serde = AvroSerde(RegistryClient(kafka_settings.schema_registry_url))
    live: list[FrameRef] = []
    with service_thread(spec, live_kafka):
        # Publish live frames until the service has joined and echoes them.
        deadline = time.monotonic() + 60
        echoed: list[FrameRef] = []
        while not echoed and time.monotonic() < deadline:
            frame = _frames(1)[0]
            frame = FrameRef(**{**{f: getattr(frame, f) for f in FrameRef.__slots__}, "event_id": str(uuid.uuid4())})
            live.append(frame)
            _publish(kafka_settings, streaming_topics["in"], [frame])
            echoed = [
                serde.decode(out, m.value(), FrameRef) for m in read_all(kafka_settings, out, expect=1, timeout_s=0.5)
            ]
        echoed = _decoded(kafka_settings, out, FrameRef, expect=len(echoed))
    history_ids = {f.event_id for f in history}
    assert echoed, "the service never echoed a live frame"
    assert not history_ids & {f.event_id for f in echoed}, "a new group read the history"
    assert {f.event_id for f in echoed} <= {f.event_id for f in live}


def test_with_earliest_a_new_group_reads_the_history_and_a_known_group_goes_on_from_its_offsets(
    kafka_settings: KafkaSettings, streaming_topics: dict[str, str]
) -> None:
    history = _frames(40)
    _publish(kafka_settings, streaming_topics["in"], history)
    out = streaming_topics["out"]
    spec = _echo_spec("echo-earliest", streaming_topics, per_message(lambda m: [Output(out, m.key, m.value)]))
    with service_thread(spec, kafka_settings.model_copy(update={"consumer_start": "earliest"})):
        first = _decoded(kafka_settings, out, FrameRef, expect=len(history))
        wait_until(
            lambda: (
                committed_offsets(kafka_settings, spec.group_id, streaming_topics["in"])
                == end_offsets(kafka_settings, streaming_topics["in"])
            ),
            timeout_s=30,
            what="offsets committed",
        )
    assert sorted(f.event_id for f in first) == sorted(f.event_id for f in history)
    # Published while the group is away; it comes back with `latest` and still reads them (and only them).
    base = {f: getattr(history[0], f) for f in FrameRef.__slots__}
    later = [FrameRef(**{**base, "event_id": str(uuid.uuid4()), "seq": 100 + i}) for i in range(10)]
    _publish(kafka_settings, streaming_topics["in"], later)
    with service_thread(spec, kafka_settings.model_copy(update={"consumer_start": "latest"})):
        echoed = _decoded(kafka_settings, out, FrameRef, expect=len(history) + len(later))
        time.sleep(2)  # anything read twice would be echoed by now
    serde = AvroSerde(RegistryClient(kafka_settings.schema_registry_url))
    everything = read_all(kafka_settings, out, expect=len(history) + len(later) + 1, timeout_s=3)
    echoed = [serde.decode(out, m.value(), FrameRef) for m in everything]
    assert Counter(f.event_id for f in echoed) == Counter(f.event_id for f in [*history, *later])
