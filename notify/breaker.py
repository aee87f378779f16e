"""A per-target circuit breaker: after ``failures`` failed notifications in a row the target is left alone for
``cooldown_s``; then one trial send decides whether it closes again or waits another cooldown."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class CircuitBreaker:
    failures: int
    cooldown_s: float
    clock: Callable[[], float] = time.monotonic
    consecutive: int = 0
    opened_at: float | None = field(default=None)

    @property
    def state(self) -> str:
        if self.opened_at is None:
            return "closed"
        return "half-open" if self.clock() - self.opened_at >= self.cooldown_s else "open"

    def allows(self) -> bool:
        return self.state != "open"

    def retry_in_s(self) -> float:
        return 0.0 if self.opened_at is None else max(0.0, self.cooldown_s - (self.clock() - self.opened_at))

    def succeeded(self) -> None:
        self.consecutive, self.opened_at = 0, None

    def failed(self) -> None:
        self.consecutive += 1
        if self.opened_at is not None or self.consecutive >= self.failures:
            self.opened_at = self.clock()
