"""The stack's own services fail mid-stream: the Kafka broker is SIGKILLed and started again, PostgreSQL is
restarted. The fusion worker and the projection sink ride through (or are restarted by their supervisor) and the
rows end up exactly those of an uninterrupted run; the run watcher of ``anomaly demo``/``analyze`` reads
consumer lag throughout and says once that Kafka is down and once that it answers again, never a traceback.

These faults hit the stack everyone on this machine shares, so they are short (seconds) and always undone.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

import pytest

from anomaly_core.settings import KafkaSettings
from reports.plan import plan_run
from runs.pipeline import PipelineRun
from tests.chaos.faults import StackFaults
from tests.chaos.pipeline import BackHalf, score_stream, slices
from tests.chaos.services import Services
from tests.integration._fusion import publish

pytestmark = [pytest.mark.chaos, pytest.mark.integration, pytest.mark.slow]

#: Seconds the broker stays dead before it is started again (its restart adds its own start-up time).
BROKER_DOWN_S = 5.0
#: Seconds PostgreSQL stays stopped.
DATABASE_DOWN_S = 3.0


def _watch(run: PipelineRun, stop: threading.Event, errors: list[BaseException]) -> None:
    """What ``anomaly demo`` does every tick: read every stage's progress."""
    while not stop.wait(0.5):
        try:
            run.observe()
        except BaseException as exc:  # the commands' bug of the past: a traceback out of the lag probe
            errors.append(exc)
            return


def test_broker_sigkill_and_restart_mid_stream(
    chaos_kafka: KafkaSettings,
    chaos_dsn: str,
    services: Services,
    stack_faults: StackFaults,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    back = BackHalf(services, chaos_kafka, chaos_dsn, tmp_path, score_stream(chaos_kafka, cameras=3, blocks=2))
    first, second = slices(back.records, 2)
    run = PipelineRun(plan=plan_run(set()), kafka=chaos_kafka, prefix=chaos_kafka.topic_prefix, log_dir=tmp_path)
    stop, errors = threading.Event(), []
    watcher = threading.Thread(target=_watch, args=(run, stop, errors), daemon=True)
    back.start()
    publish(chaos_kafka, first)
    back.first_rows()
    caplog.set_level(logging.WARNING, logger="runs.pipeline")
    watcher.start()
    try:
        with stack_faults.outage("kafka", kill=True, hold_s=BROKER_DOWN_S):
            pass
        publish(chaos_kafka, second)
        check = back.settled()
    finally:
        stop.set()
        watcher.join(60)
        run.probe.close()
    print(f"restarted after dying by themselves: {dict(services.crashes)}")
    codes = services.stop()
    assert check.ok, f"{check}\n{services.tails()}"
    assert set(codes.values()) == {0}, f"{codes}\n{services.tails()}"
    assert not errors, f"the run watcher raised {errors[0]!r}"
    said = [r.getMessage() for r in caplog.records if r.name == "runs.pipeline"]
    # One line when Kafka went away, one when it answered again: not one per retry.
    assert [line.split(" (")[0] for line in said] == ["Kafka is not answering", "Kafka answers again"], said


def test_postgres_restart_mid_stream(
    chaos_kafka: KafkaSettings, chaos_dsn: str, services: Services, stack_faults: StackFaults, tmp_path: Path
) -> None:
    back = BackHalf(services, chaos_kafka, chaos_dsn, tmp_path, score_stream(chaos_kafka, cameras=3, blocks=2))
    first, second = slices(back.records, 2)
    back.start()
    publish(chaos_kafka, first)
    back.first_rows()
    with stack_faults.outage("postgres", kill=False, hold_s=DATABASE_DOWN_S):
        publish(chaos_kafka, second)  # the sink meets a database that is gone while these flow
    check = back.settled()
    print(f"restarted after dying by themselves: {dict(services.crashes)}")
    codes = services.stop()
    assert check.ok, f"{check}\n{services.tails()}"
    assert services.crashes == {}, f"services died by themselves: {services.crashes}\n{services.tails()}"
    assert set(codes.values()) == {0}, f"{codes}\n{services.tails()}"
