"""Delivering one notice to one target: the circuit breaker, retries with backoff and jitter, the metrics.

``deliver`` never raises for a failed send: it returns an ``Outcome`` (errors as data), and the worker turns a
failed one into a dead letter with its reason.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from anomaly_core.backoff import Backoff, Retry
from notify.breaker import CircuitBreaker
from notify.config import TargetRules
from notify.metrics import NotifyMetrics
from notify.payloads import Notice
from notify.senders.base import Sender, SendError

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Outcome:
    ok: bool
    detail: str
    attempts: int
    latency_s: float


class _RetryableError(Exception):
    """A transient SendError, as the retry loop sees it."""


class TargetChannel:
    """One target's sender with its breaker; used by one thread at a time (the worker loop or the escalation loop
    hold the worker's lock)."""

    def __init__(
        self,
        target: TargetRules,
        kind: str,
        sender: Sender,
        metrics: NotifyMetrics,
        *,
        sleep: Callable[[float], object] = time.sleep,
    ) -> None:
        self.target = target
        self.kind = kind
        self.sender = sender
        self.metrics = metrics
        self.sleep = sleep
        self.breaker = CircuitBreaker(target.breaker.failures, target.breaker.cooldown_s)
        metrics.start(target.name, kind)

    def deliver(self, notice: Notice) -> Outcome:
        labels = (self.target.name, self.kind)
        started = time.perf_counter()
        if not self.breaker.allows():
            self.metrics.failed.labels(*labels).inc()
            detail = (
                f"circuit open after {self.breaker.consecutive} failures; next try in {self.breaker.retry_in_s():.0f} s"
            )
            return Outcome(False, detail, 0, 0.0)
        attempts = 0
        retries = self.target.retries

        def attempt() -> str:
            nonlocal attempts
            attempts += 1
            try:
                return self.sender.send(notice)
            except SendError as exc:
                if exc.transient:
                    raise _RetryableError(str(exc)) from exc
                raise

        def retrying(failure: Exception, delay: float) -> None:
            self.metrics.retried.labels(*labels).inc()
            log.warning(
                "%s: %s failed (%s), try %d again in %.2f s",
                self.target.name,
                notice.idempotency_key,
                failure,
                attempts + 1,
                delay,
            )

        def give_up(failure: Exception) -> BaseException | None:
            return failure if attempts >= retries.attempts else None

        retry = Retry(
            retrying,
            Backoff(retries.initial_s, retries.max_s),
            on=(_RetryableError,),
            give_up=give_up,
            wait=self.sleep,
        )
        try:
            detail = retry.call(attempt)
        except (SendError, _RetryableError) as exc:
            self.breaker.failed()
            self.metrics.failed.labels(*labels).inc()
            self.metrics.circuit_open.labels(*labels).set(0 if self.breaker.allows() else 1)
            return Outcome(
                False,
                f"{exc} (after {attempts} attempt{'s' if attempts != 1 else ''})",
                attempts,
                time.perf_counter() - started,
            )
        latency = time.perf_counter() - started
        self.breaker.succeeded()
        self.metrics.sent.labels(*labels).inc()
        self.metrics.latency.labels(*labels).observe(latency)
        self.metrics.circuit_open.labels(*labels).set(0)
        return Outcome(True, detail, attempts, latency)

    def close(self) -> None:
        self.sender.close()
