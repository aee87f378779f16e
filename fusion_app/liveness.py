"""A liveness signal that fails when committed offsets stop advancing while there is work in hand.

A worker that is alive but stuck (a wedged broker connection, a retry loop that never ends) still answers
HTTP; what shows it is stuck is that its commits stop moving. Exposed as Prometheus gauges and, optionally,
a heartbeat file touched only while healthy (for an exec/file liveness probe).
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

from anomaly_core.metrics import gauge

log = logging.getLogger(__name__)


class CommitLiveness:
    def __init__(self, service: str, timeout_s: float, heartbeat: Path | None = None) -> None:
        self.timeout_s = timeout_s
        self.heartbeat = heartbeat
        self.pending_since: float | None = None  # first uncommitted progress since the last commit
        self.stalled = False
        self._age = gauge(
            "anomaly_commit_age_seconds", "Seconds processed work has waited for an offset commit", ("service",)
        ).labels(service)
        self._stalled = gauge(
            "anomaly_commit_stalled", "1 while commits have not advanced for the liveness timeout", ("service",)
        ).labels(service)

    def progressed(self) -> None:
        """Records were processed and are not committed yet."""
        if self.pending_since is None:
            self.pending_since = time.monotonic()

    def committed(self) -> None:
        self.pending_since = None

    def check(self) -> bool:
        """Updates the signal; True while healthy."""
        age = 0.0 if self.pending_since is None else time.monotonic() - self.pending_since
        self._age.set(age)
        stalled = age > self.timeout_s
        if stalled and not self.stalled:
            log.error("commits have not advanced for %.0fs with work in hand: reporting not alive", age)
        elif self.stalled and not stalled:
            log.info("commits advance again")
        self.stalled = stalled
        self._stalled.set(1 if stalled else 0)
        if not stalled and self.heartbeat is not None:
            self.heartbeat.touch()
        return not stalled
