"""The IO side of a run shared by ``anomaly demo`` and ``anomaly analyze``: start the services of a ``RunPlan``
under a topic prefix, feed sources through producers, and watch every stage until the pipeline has seen
everything (or a stage is missing). Decisions are made by the pure ``reports.progress``; this module only looks.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

from anomaly_core import topics
from anomaly_core.errors import TransientError
from anomaly_core.kafka_logs import BrokerWatch
from anomaly_core.settings import KafkaSettings
from anomaly_core.supervisor import ChildSpec, ChildState, Supervisor, anomaly_command
from reports.collect import Decoder, TopicTail
from reports.lag import LagProbe
from reports.model import InputProblem
from reports.plan import PRODUCE, RunPlan, producer_args, run_topics
from reports.progress import Observation, StallClock, Verdict, assess, first_unfinished, timeout_message
from schemas.records import AnomalyEvent, AnomalyState

log = logging.getLogger(__name__)
T = TypeVar("T")
#: A probe call that fails after this long timed out: the broker is not answering, not one group acting up.
_SLOW_FAILURE_S = 1.0


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


class PipelineRun:
    """Services of one run as child processes sharing ``KAFKA_TOPIC_PREFIX``; producers added per source."""

    def __init__(
        self,
        *,
        plan: RunPlan,
        kafka: KafkaSettings,
        prefix: str,
        log_dir: Path,
        env: Mapping[str, str] | None = None,
        service_groups: Mapping[str, str] | None = None,
        service_env: Mapping[str, Mapping[str, str]] | None = None,
        deferred: Collection[str] = (),
    ) -> None:
        self.plan = plan
        self.kafka = kafka
        self.prefix = prefix
        child_env = {**os.environ, **(env or {}), "KAFKA_TOPIC_PREFIX": prefix}
        self.supervisor = Supervisor(log_dir, child_env)
        self.groups = dict(service_groups or {})
        self.service_env = {k: dict(v) for k, v in (service_env or {}).items()}
        #: Services started only once every stage upstream of them is done (see ``start_ready``).
        self.pending = set(deferred)
        self.producers: dict[str, str] = {}  # camera id -> child name
        self.sources: dict[str, str] = {}  # camera id -> source shown in reports
        self._probe: LagProbe | None = None
        #: Whether Kafka answers the probe; an outage is shown and waited out, never a traceback.
        self.broker = BrokerWatch()
        self._last_seen: dict[str, Observation] = {}
        self._baseline: dict[str, int] = {}
        self.origin: datetime | None = None

    @property
    def probe(self) -> LagProbe:
        if self._probe is None:
            self._probe = LagProbe(self.kafka)
        return self._probe

    def start_services(self) -> None:
        """Starts every service of the plan except the deferred ones."""
        for service in self.plan.services:
            if service.name not in self.pending:
                self._start(service.name)

    def start_ready(self, verdict: Verdict) -> list[str]:
        """Starts the deferred services whose upstream stages are all done; returns their names."""
        done = {s.stage for s in verdict.stages if s.done}
        ready = [n for n in sorted(self.pending) if set(self.plan.service(n).upstream) <= done]
        for name in ready:
            self.pending.discard(name)
            self._start(name)
        return ready

    def _start(self, name: str) -> None:
        service = self.plan.service(name)
        self.supervisor.start(ChildSpec(name, anomaly_command(*service.args), env=self.service_env.get(name, {})))

    def start_producer(
        self, camera_id: str, source: str, *, realtime: bool, video: bool = True, shown_as: str | None = None
    ) -> None:
        """One producer per source; every source starts on the same whole second of event time."""
        name = f"producer-{camera_id}"
        origin = self.origin or datetime.now(UTC).replace(microsecond=0)
        self.origin = origin
        argv = anomaly_command(*producer_args(source, camera_id, realtime=realtime, video=video, origin=origin))
        self.supervisor.start(ChildSpec(name, argv, finite=True))
        self.producers[camera_id] = name
        self.sources[camera_id] = shown_as or source

    def group_of(self, service: str) -> str | None:
        """The consumer group a service commits to: services prefix their group ids like their topics."""
        group = self.groups.get(service, self.plan.service(service).group)
        return self.prefix + group if group is not None else None

    def observe(self) -> Verdict:
        states = {s.name: s for s in self.supervisor.states()}
        done = [states[n] for n in self.producers.values() if not states[n].running]
        seen: dict[str, Observation] = {
            PRODUCE: Observation(
                processed=len(done), expected=len(self.producers), caught_up=len(done) == len(self.producers)
            )
        }
        answered, timed_out = False, False
        failure: tuple[Exception, float] | None = None
        for service in self.plan.services:
            group = self.group_of(service.name)
            if group is None:
                continue
            child = states.get(service.name)
            alive = service.name in self.pending or (child is not None and child.running)
            detail = f"exit code {child.returncode}, log {child.log_path}" if child and not alive else ""
            started = time.monotonic()
            try:
                if timed_out:  # asking the others would only wait as long again
                    raise TransientError("the broker did not answer")
                seen[service.name] = self.probe.observe(
                    group, run_topics(service, self.prefix), alive=alive, exit_detail=detail
                )
                self._last_seen[service.name] = seen[service.name]
                answered = True
            except TransientError as exc:
                log.debug("no offsets for %s: %s", service.name, exc)
                failure = failure or (exc, started)
                timed_out = timed_out or time.monotonic() - started >= _SLOW_FAILURE_S
                # The last numbers seen, not zeros; not caught up, since nobody can tell now.
                last = self._last_seen.get(service.name, Observation(0, 0, caught_up=False))
                seen[service.name] = replace(last, caught_up=False, alive=alive, exit_detail=detail)
        self._broker_said(answered, failure)
        seen = {name: self._since_baseline(name, obs) for name, obs in seen.items()}
        return assess(self.plan.stages(), seen)

    def _broker_said(self, answered: bool, failure: tuple[Exception, float] | None) -> None:
        line = self.broker.answered() if answered or failure is None else self.broker.failed(*failure)
        if line:
            log.warning(line)

    def mark_baseline(self) -> None:
        """Counts what the topics already hold, so progress shows this run's records only (shared topics)."""
        self._baseline = {}
        self._baseline = {s.stage: s.expected for s in self.observe().stages if s.stage != PRODUCE}

    def _since_baseline(self, name: str, obs: Observation) -> Observation:
        base = self._baseline.get(name, 0)
        if not base:
            return obs
        return replace(obs, processed=max(obs.processed - base, 0), expected=max(obs.expected - base, 0))

    def wait_ready(self, timeout_s: float, on_wait: Callable[[list[str]], None] | None = None) -> list[str]:
        """Waits until every started consumer service has joined its group; returns those that did not in time
        (or died). Live sources should not start before: a modality that starts late has its scores judged late."""
        deadline = time.monotonic() + timeout_s
        waiting = [s.name for s in self.plan.services if s.group is not None and s.name not in self.pending]
        while waiting and time.monotonic() < deadline:
            if on_wait is not None:
                on_wait(waiting)
            dead = {c.name for c in self.supervisor.failures()}
            if dead & set(waiting):
                return sorted(dead & set(waiting))
            still = []
            for name in waiting:
                group = self.group_of(name)
                started = time.monotonic()
                try:
                    joined = group is not None and self.probe.group_members(group) > 0
                    self._broker_said(True, None)
                except TransientError as exc:
                    joined = False
                    self._broker_said(False, (exc, started))
                if not joined:
                    still.append(name)
            waiting = still
            if waiting:
                time.sleep(0.5)
        return waiting

    def failed_producers(self) -> list[InputProblem]:
        """Sources whose producer exited with an error, with the last line it logged."""
        out = []
        for camera_id, name in self.producers.items():
            state = self.supervisor.state(name)
            if state.returncode not in (None, 0):
                last = (self.supervisor.log_tail(name, 1) or f"exit code {state.returncode}").strip()
                out.append(InputProblem(self.sources[camera_id], f"producer failed: {last}"))
        return out

    def stop(self) -> dict[str, int | None]:
        codes = self.supervisor.stop()
        if self._probe is not None:
            self._probe.close()
            self._probe = None
        return codes


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
