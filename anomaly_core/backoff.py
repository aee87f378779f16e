"""Retrying while a dependency is down: exponential backoff with full jitter, and ``Retry``, the one retry loop.

A retry loop is described, not written: what it retries (``on``), how long it waits between tries (``backoff``),
what it says before each wait (``retrying``: the log line, the metrics), when it stops (``give_up``, e.g.
``give_up_after(timeout_s, ...)``) and how it waits (``wait``: a sleep, an event, a consumer kept in its group).
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from anomaly_core.errors import TransientError

T = TypeVar("T")
GiveUp = Callable[[Exception], BaseException | None]


def backoff_delay(attempt: int, *, initial_s: float, max_s: float, factor: float, rng: random.Random) -> float:
    """Seconds to wait before retry number ``attempt`` (1-based): uniform in [0, min(max, initial*factor^(n-1))].

    Full jitter spreads the retries of many consumers hit by the same outage, so they do not reconnect in lockstep.
    """
    ceiling = min(max_s, initial_s * factor ** max(0, attempt - 1))
    return rng.uniform(0.0, ceiling)


@dataclass
class Backoff:
    """The retry state of one batch: call ``next_delay()`` after each failure, ``reset()`` after a success."""

    initial_s: float = 0.2
    max_s: float = 30.0
    factor: float = 2.0
    rng: random.Random = field(default_factory=random.Random)
    attempt: int = 0

    def next_delay(self) -> float:
        self.attempt += 1
        return backoff_delay(self.attempt, initial_s=self.initial_s, max_s=self.max_s, factor=self.factor, rng=self.rng)

    def reset(self) -> None:
        self.attempt = 0


def _never(_failure: Exception) -> BaseException | None:
    return None


@dataclass
class Retry:
    """One retry loop (one per call: it holds the backoff's state).

    ``retrying(failure, delay)`` runs before each wait. ``give_up(failure)`` runs first and returns what to raise
    instead of retrying: the failure itself (re-raised), another error (raised from it), or None to go on.
    """

    retrying: Callable[[Exception, float], None]
    backoff: Backoff = field(default_factory=Backoff)
    on: tuple[type[Exception], ...] = (TransientError,)
    give_up: GiveUp = _never
    wait: Callable[[float], object] = time.sleep

    def call(self, attempt: Callable[[], T]) -> T:
        """What ``attempt()`` returns, trying it again after each failure of a kind in ``on``."""
        while True:
            try:
                return attempt()
            except self.on as failure:
                self.wait(self.failed(failure))

    async def call_async(self, attempt: Callable[[], T]) -> T:
        """``call`` on an event loop: waits with ``asyncio.sleep`` (``wait`` is not used)."""
        while True:
            try:
                return attempt()
            except self.on as failure:
                await asyncio.sleep(self.failed(failure))

    def failed(self, failure: Exception) -> float:
        """After a failure: raises what ``give_up`` returns, else says so and returns the delay before the next try."""
        stop = self.give_up(failure)
        if stop is failure:
            raise failure
        if stop is not None:
            raise stop from failure
        delay = self.backoff.next_delay()
        self.retrying(failure, delay)
        return delay


def give_up_after(
    timeout_s: float, error: Callable[[Exception], BaseException], *, from_first_failure: bool = False
) -> GiveUp:
    """A ``give_up`` for ``Retry``: ``error(failure)`` once more than ``timeout_s`` have passed since it was made
    (or, with ``from_first_failure``, since the first failure)."""
    since = None if from_first_failure else time.monotonic()

    def check(failure: Exception) -> BaseException | None:
        nonlocal since
        now = time.monotonic()
        if since is None:
            since = now
        return error(failure) if now - since > timeout_s else None

    return check
