"""Exponential backoff with full jitter, for retrying a batch while a dependency is down."""

from __future__ import annotations

import random
from dataclasses import dataclass, field


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
