"""``anomaly demo`` / ``analyze`` while Kafka does not answer: the run shows the last numbers seen and says the
broker is down (once), does not call it a stall, and says when it answers again. No Kafka needed: a fake probe."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from anomaly_cli.live_view import demo_screen
from anomaly_core.errors import TransientError
from anomaly_core.kafka_logs import BrokerWatch
from anomaly_core.settings import KafkaSettings
from reports.plan import plan_run
from reports.progress import Observation, StallClock
from runs import pipeline, watch
from runs.pipeline import PipelineRun
from runs.rates import CameraRate
from runs.watch import RunState


class FakeProbe:
    def __init__(self) -> None:
        self.down = False
        self.calls = 0

    def observe(self, group: str, topics: list[str], *, alive: bool = True, exit_detail: str = "") -> Observation:
        self.calls += 1
        if self.down:
            raise TransientError(f"cannot read offsets of group {group}: timed out")
        return Observation(5, 10, caught_up=False, alive=alive, exit_detail=exit_detail)

    def close(self) -> None:
        pass


@pytest.fixture
def run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> PipelineRun:
    monkeypatch.setattr(pipeline, "_SLOW_FAILURE_S", 0.0)  # every failure counts as a timeout
    plan = plan_run(set())  # fusion and projection: two consumer groups
    run = PipelineRun(
        plan=plan,
        kafka=KafkaSettings(),
        prefix="t.",
        log_dir=tmp_path,
        deferred={s.name for s in plan.services},  # alive without processes
    )
    run._probe = FakeProbe()  # type: ignore[assignment]
    run.broker = BrokerWatch(grace_s=0.0)
    return run


def test_an_outage_keeps_the_last_numbers_and_is_said_once(run: PipelineRun, caplog: pytest.LogCaptureFixture) -> None:
    probe = run._probe
    assert isinstance(probe, FakeProbe)
    before = {s.stage: (s.processed, s.expected) for s in run.observe().stages if s.stage != "produce"}
    assert before == {"fusion": (5, 10), "projection": (5, 10)}
    probe.down, probe.calls = True, 0
    with caplog.at_level(logging.WARNING, logger=pipeline.__name__):
        for _ in range(5):
            verdict = run.observe()
        assert probe.calls == 5  # one timed-out call per look, not one per group
        assert {s.stage: (s.processed, s.expected) for s in verdict.stages if s.stage != "produce"} == before
        assert not verdict.done
        assert run.broker.down_for() is not None
        # An outage is not a stall, however long it lasts.
        clock = StallClock({"fusion": (5, 10, 0.0)})
        assert watch._stalled(run, verdict, clock, now=10_000.0, stall_s=60.0) is None
        probe.down = False
        run.observe()
        assert run.broker.down_for() is None
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 2, lines
    assert "not answering" in lines[0] and "answers again" in lines[1]


def test_the_live_view_says_kafka_is_down(run: PipelineRun) -> None:
    from rich.console import Console

    state = RunState(run.observe(), {}, 12.0, [], broker_down_s=42.0, broker_error="timed out")
    console = Console(record=True, width=120)
    console.print(demo_screen(state, CameraRate(), {}, ["header"], {}))
    text = console.export_text()
    assert "Kafka has not answered for 42 s (timed out); retrying" in text
