"""The services of one run as child processes sharing a topic prefix: start them (all at once, or a deferred one
once its upstream stages are done), add one producer per source, observe each stage's progress through its
consumer group's offsets, and stop them all. Decisions are made by the pure ``reports.progress``; this module only
looks.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Collection, Mapping
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from anomaly_core.errors import TransientError
from anomaly_core.kafka_logs import BrokerWatch
from anomaly_core.settings import KafkaSettings
from anomaly_core.supervisor import ChildSpec, Supervisor, anomaly_command
from reports.lag import LagProbe
from reports.model import InputProblem
from reports.plan import PRODUCE, RunPlan, producer_args, run_topics
from reports.progress import Observation, Verdict, assess

log = logging.getLogger(__name__)
#: A probe call that fails after this long timed out: the broker is not answering, not one group acting up.
_SLOW_FAILURE_S = 1.0


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
