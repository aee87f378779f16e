"""Watching a run until the pipeline has seen everything: every stage done and every incident closed, or a stage
missing, stalled or out of time (named). The callback of each tick gets a ``RunState`` to show.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TypeVar

from anomaly_core import topics
from anomaly_core.errors import TransientError
from anomaly_core.supervisor import ChildState
from fusion_app.rules import load_rules
from reports.collect import Decoder, TopicTail
from reports.model import InputProblem
from reports.plan import PRODUCE
from reports.progress import StallClock, Verdict, first_unfinished, timeout_message
from runs.pipeline import PipelineRun
from schemas.records import AnomalyEvent, AnomalyState

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass
class RunState:
    """What a watcher callback gets on every tick."""

    verdict: Verdict
    anomalies: dict[str, AnomalyEvent]
    elapsed_s: float
    children: list[ChildState]
    #: Seconds Kafka has not been answering (the stages show the last numbers seen), None while it answers.
    broker_down_s: float | None = None
    broker_error: str = ""


@dataclass
class WaitOutcome:
    state: RunState
    finished: bool
    failure: str | None = None
    problems: list[InputProblem] = field(default_factory=list)


def wait_until_done(
    run: PipelineRun,
    serde: Decoder,
    *,
    timeout_s: float,
    stall_s: float,
    close_grace_s: float,
    on_tick: Callable[[RunState], None] | None = None,
    interval_s: float = 0.5,
    anomalies_from_beginning: bool = True,
) -> WaitOutcome:
    """Polls until every stage is done and every incident seen is closed (or ``close_grace_s`` has passed since
    the stages were done). Stops early, naming the stage, when a service dies or makes no progress."""
    tail = TopicTail(
        run.kafka, serde, topics.topic_name(topics.ANOMALIES, run.prefix), AnomalyEvent, anomalies_from_beginning
    )
    anomalies: dict[str, AnomalyEvent] = {}
    clock = StallClock()
    t0 = time.monotonic()
    done_since: float | None = None
    try:
        while True:
            now = time.monotonic()
            verdict = run.observe()
            if run.start_ready(verdict):
                verdict = run.observe()
            anomalies.update(_newest(anomalies, safe_poll(tail)))
            down_s = run.broker.down_for()
            state = RunState(
                verdict, dict(anomalies), now - t0, run.supervisor.states(), down_s, run.broker.error if down_s else ""
            )
            if on_tick is not None:
                on_tick(state)
            problems = run.failed_producers()
            if verdict.failure:
                return WaitOutcome(state, finished=False, failure=verdict.failure, problems=problems)
            if problems and len(problems) == len(run.producers):
                return WaitOutcome(state, False, "every producer failed", problems)
            stalled = _stalled(run, verdict, clock, now, stall_s)
            if stalled:
                return WaitOutcome(state, False, stalled, problems)
            if verdict.done:
                done_since = done_since or now
                all_closed = all(a.state is AnomalyState.CLOSED for a in anomalies.values())
                if all_closed or now - done_since >= close_grace_s:
                    return WaitOutcome(state, True, None, problems)
            else:
                done_since = None
            if now - t0 >= timeout_s:
                return WaitOutcome(state, False, timeout_message(verdict, now - t0), problems)
            time.sleep(interval_s)
    finally:
        tail.close()


def close_grace_s() -> float:
    """How long after the pipeline caught up an incident may stay open: the fusion closes idle cameras itself."""
    return load_rules().windows.idle_timeout_ms / 1000 + 10.0


def safe_poll(tail: TopicTail[T], timeout_s: float = 0.05) -> list[T]:
    """New records of a followed topic; none while it cannot be read yet (or Kafka does not answer)."""
    try:
        return [record for _, record in tail.poll(timeout_s=timeout_s)]
    except TransientError as exc:
        log.debug("topic not readable yet: %s", exc)
        return []


def _newest(known: Mapping[str, AnomalyEvent], events: list[AnomalyEvent]) -> dict[str, AnomalyEvent]:
    out: dict[str, AnomalyEvent] = {}
    for e in events:
        kept = out.get(e.anomaly_id) or known.get(e.anomaly_id)
        if kept is None or e.revision >= kept.revision:
            out[e.anomaly_id] = e
    return out


def _stalled(run: PipelineRun, verdict: Verdict, clock: StallClock, now: float, stall_s: float) -> str | None:
    if run.broker.down_for() is not None:
        clock.last_change.clear()  # an outage is not a stall: progress is judged again once Kafka answers
        return None
    clock.update(verdict, now)
    stuck = first_unfinished(verdict)
    if stuck is None or stuck.stage == PRODUCE or stuck.processed >= stuck.expected:
        return None
    idle = clock.idle_s(stuck.stage, now)
    if idle < stall_s:
        return None
    log_path = run.supervisor.state(stuck.stage).log_path
    return f"stage '{stuck.stage}' made no progress for {idle:.0f} s ({stuck.detail}); see {log_path}"
