"""The fusion worker against the real stack: scripted score streams in, exactly the expected anomalies out;
bad input dead-lettered; captions update the same anomaly; kill -9 mid-incident and restart loses nothing."""

from __future__ import annotations

import math
import re
import signal
import uuid
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest

from anomaly_core.registry import RegistryClient
from anomaly_core.serde import AvroSerde
from anomaly_core.settings import KafkaSettings
from bench.fusion_scenarios import SCENARIOS, scene
from fusion_app.topics import FusionTopics
from schemas.records import AnomalyKind, AnomalyState, CaptionScore, DeadLetter, ModelInfo, SourceRef
from tests.integration._fusion import (
    all_closed,
    anomalies,
    expected_ids,
    fast_rules,
    latest,
    publish,
    recent_t0,
    worker_process,
    worker_running,
)
from tests.integration._streaming import read_until

pytestmark = pytest.mark.integration


@pytest.fixture
def fusion_kafka(kafka_settings: KafkaSettings, make_topics, unique_prefix: str) -> KafkaSettings:
    make_topics()  # the whole catalog under the prefix, the fusion changelog included
    return kafka_settings.model_copy(update={"topic_prefix": unique_prefix})


def streams(names: list[str], t0: int) -> tuple[dict[str, str], list]:
    cameras = {name: f"{name}-{uuid.uuid4().hex[:6]}" for name in names}
    records = [r for name, cam in cameras.items() for r in SCENARIOS[name](cam, t0)]
    records.sort(key=lambda r: r.event_time)
    return cameras, records


def test_scripted_streams_give_exactly_the_expected_anomalies(fusion_kafka: KafkaSettings, tmp_path: Path):
    rules, rules_path = fast_rules(tmp_path)
    t0 = recent_t0()
    cameras, records = streams(["fall", "help", "fire", "normal", "noise"], t0)
    topics = FusionTopics.for_prefix(fusion_kafka.topic_prefix)
    nan_scene = scene(cameras["normal"], t0 + 250, math.nan)  # clamped and logged, not fatal
    bad_camera = replace(scene(cameras["normal"], t0 + 300, 0.1), camera_id="bad camera!")
    tomorrow = scene("x", t0, 0).event_time + timedelta(days=1)
    future = replace(scene(cameras["normal"], t0 + 400, 0.1), event_time=tomorrow)
    garbage = (topics.scene, cameras["normal"].encode(), b"\x00\x00\x00\x00\x01not avro")

    with worker_running(fusion_kafka, rules_path, tmp_path / "worker.log"):
        publish(fusion_kafka, [*records, nan_scene, bad_camera, future], raw=[garbage])
        events = anomalies(fusion_kafka, all_closed(3), timeout_s=90)

    rows = latest(events)
    by_camera = {e.camera_id: e for e in rows.values()}
    assert len(rows) == 3 and set(by_camera) == {cameras["fall"], cameras["help"], cameras["fire"]}
    assert by_camera[cameras["fall"]].kinds[0] == AnomalyKind.FALL
    assert by_camera[cameras["help"]].kinds[0] == AnomalyKind.DISTRESS_SPEECH
    assert by_camera[cameras["fire"]].kinds[0] == AnomalyKind.FIRE_SMOKE
    assert "help me" in (by_camera[cameras["help"]].evidence.transcript_excerpt or "")
    for event in rows.values():
        assert event.state == AnomalyState.CLOSED and event.rules_version == rules.version
        assert event.lineage and {e.topic for e in event.lineage} <= set(topics.scores)
        assert len({(e.topic, e.partition, e.offset) for e in event.lineage}) == len(event.lineage)
    assert by_camera[cameras["fall"]].evidence.best_frame is not None
    # Kafka's interleaving of the three topics does not change the incidents: same ids as an in-memory run.
    assert set(rows) == set(expected_ids(records, rules))
    # Every incident's first revision is a candidate for captioning.
    candidates = anomalies(fusion_kafka, lambda es: len(es) >= 3, topic=topics.candidates, timeout_s=30)
    assert {e.anomaly_id for e in candidates} == set(rows)
    assert all(e.revision == 1 and e.state == AnomalyState.CANDIDATE for e in candidates)
    # Three bad records were dead-lettered, none crashed the worker.
    letters = read_until(fusion_kafka, topics.dlq, lambda rs: len(rs) >= 3, timeout_s=30)
    with RegistryClient(fusion_kafka.schema_registry_url) as registry:
        stages = sorted(AvroSerde(registry).decode(topics.dlq, r.value(), DeadLetter).stage.value for r in letters)
    assert stages == ["DECODE", "VALIDATE", "VALIDATE"]


def test_caption_comes_back_as_an_update_of_the_same_anomaly(fusion_kafka: KafkaSettings, tmp_path: Path):
    _, rules_path = fast_rules(tmp_path)
    cameras, records = streams(["fire"], recent_t0())
    with worker_running(fusion_kafka, rules_path, tmp_path / "worker.log"):
        publish(fusion_kafka, records)
        (candidate,) = anomalies(fusion_kafka, lambda es: len(es) >= 1, timeout_s=60)[:1]
        caption = CaptionScore(
            event_id=str(uuid.uuid4()),
            camera_id=cameras["fire"],
            source=SourceRef(str(uuid.uuid4()), fusion_kafka.topic_prefix + "anomalies.candidates.v1", 0, 0),
            event_time=candidate.incident_start,
            model=ModelInfo("blip-base", "test"),
            processed_at=candidate.decided_at,
            latency_ms=900.0,
            anomaly_id=candidate.anomaly_id,
            frame=candidate.evidence.best_frame or candidate.evidence.frames[0],
            caption="flames and smoke in a kitchen",
        )
        publish(fusion_kafka, [caption])
        events = anomalies(fusion_kafka, lambda es: any(e.evidence.caption for e in es), timeout_s=60)
    captioned = [e for e in events if e.evidence.caption]
    assert {e.anomaly_id for e in events} == {candidate.anomaly_id}
    assert captioned[0].evidence.caption == "flames and smoke in a kitchen"
    assert captioned[0].revision > 1
    assert any(entry.modality == "caption" for entry in captioned[0].lineage)


@pytest.mark.slow
@pytest.mark.parametrize("stop", [signal.SIGKILL, signal.SIGTERM], ids=["kill-9", "sigterm"])
def test_restart_mid_incident_loses_nothing_and_duplicates_nothing(
    fusion_kafka: KafkaSettings, tmp_path: Path, stop: signal.Signals
):
    """The window state (buffered scores, open incidents) survives a crash (SIGKILL: no checkpoint, commit or
    flush) and a graceful stop (SIGTERM: last checkpoint, commit, exit 0) of the Faust worker."""
    rules, rules_path = fast_rules(tmp_path)
    t0 = recent_t0()
    _, records = streams(["fall", "fire", "help"], t0)
    split = next(i for i, r in enumerate(records) if r.event_time.timestamp() * 1000 >= t0 + 5_000)
    log = tmp_path / "worker.log"

    first = worker_process(fusion_kafka, rules_path, log)
    try:
        publish(fusion_kafka, records[:split])
        # Mid-incident: candidates are out, the incidents are still open.
        anomalies(fusion_kafka, lambda es: len({e.anomaly_id for e in es}) >= 3, timeout_s=90)
    finally:
        first.send_signal(stop)
        code = first.wait(60)
    assert code == (0 if stop == signal.SIGTERM else -signal.SIGKILL), log.read_text()[-3000:]
    publish(fusion_kafka, records[split:])
    before_restart = log.read_text()
    second = worker_process(fusion_kafka, rules_path, log)
    try:
        events = anomalies(fusion_kafka, all_closed(3), timeout_s=120)
    finally:
        second.send_signal(signal.SIGTERM)
        code = second.wait(60)
    assert code == 0, log.read_text()[-3000:]
    restarted = log.read_text()[len(before_restart) :]
    assert sum(int(n) for n in re.findall(r"restored (\d+) cameras", restarted)) == 3, restarted[-3000:]

    rows = latest(events)
    expected = expected_ids(records, rules)
    assert set(rows) == set(expected), "restart created or lost incidents"
    for anomaly_id, event in rows.items():
        assert event.state == AnomalyState.CLOSED
        assert (event.camera_id, tuple(event.kinds)) == expected[anomaly_id]
        revisions = sorted({e.revision for e in events if e.anomaly_id == anomaly_id})
        assert revisions == list(range(1, revisions[-1] + 1)), f"a revision was lost: {revisions}"


def test_backtest_diff_and_replay_through_the_cli(
    fusion_kafka: KafkaSettings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    import json

    import typer
    import yaml
    from typer.testing import CliRunner

    from anomaly_cli import backtest_cmd
    from anomaly_cli.main import app as main_app

    rules, rules_path = fast_rules(tmp_path)
    strict = rules.model_dump(mode="json")
    strict["version"] = "test-strict"
    strict["scene"]["alone_threshold"] = 0.97  # the scripted fire (p=0.93) no longer alerts on its own
    strict_path = tmp_path / "strict.yaml"
    strict_path.write_text(yaml.safe_dump(strict))
    t0 = recent_t0()
    cameras, records = streams(["fire", "normal"], t0)
    publish(fusion_kafka, records)
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", fusion_kafka.bootstrap_servers)
    monkeypatch.setenv("SCHEMA_REGISTRY_URL", fusion_kafka.schema_registry_url)
    monkeypatch.setenv("KAFKA_TOPIC_PREFIX", fusion_kafka.topic_prefix)
    runner = CliRunner()

    cli = typer.Typer()
    cli.add_typer(backtest_cmd.app, name="backtest")  # as anomaly_cli.main mounts it
    diff = runner.invoke(
        cli, ["backtest", "diff", "--rules-a", str(rules_path), "--rules-b", str(strict_path), "--json"]
    )
    assert diff.exit_code == 0, diff.output
    report = json.loads(diff.output.strip().splitlines()[-1])
    assert (report["scores"], report["skipped"]) == (len(records), 0)
    assert [i["camera_id"] for i in report["incidents_a"]] == [cameras["fire"]] and report["incidents_b"] == []
    assert report["differing"] and {d["camera_id"] for d in report["differing"]} == {cameras["fire"]}

    replayed = runner.invoke(main_app, ["replay", "--from", str(t0 - 60_000), "--rules", str(rules_path)])
    assert replayed.exit_code == 0, replayed.output
    events = anomalies(fusion_kafka, lambda es: len(es) >= 1, timeout_s=30)
    assert {e.camera_id for e in events} == {cameras["fire"]}


@pytest.mark.slow
def test_a_backlog_gives_the_same_anomalies_as_an_in_memory_run(fusion_kafka: KafkaSettings, tmp_path: Path):
    # Minutes of scores for many cameras, read at once: the consumer fetches each topic partition on its own,
    # the worker still merges them in event time (align.py), so the incidents are those of a time-ordered run.
    from bench.fusion import THROUGHPUT_MIX, scripted

    rules, rules_path = fast_rules(tmp_path)
    records = scripted(10, THROUGHPUT_MIX, 5, recent_t0() - 80_000)
    publish(fusion_kafka, records)
    expected = set(expected_ids(records, rules))
    with worker_running(fusion_kafka, rules_path, tmp_path / "worker.log"):
        events = anomalies(fusion_kafka, all_closed(len(expected)), timeout_s=120)
    assert set(latest(events)) == expected
