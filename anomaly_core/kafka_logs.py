"""librdkafka's log lines through Python logging, one line per outage instead of one per retry.

While a broker is down, librdkafka logs every refused connection attempt (hundreds a minute per client). Clients
built with ``{"logger": client_logger()}`` send those lines through ``OutageFilter``: the first line of a kind
passes, repeats within ``quiet_s`` are counted and dropped, and the next line of that kind after a quiet period
says how many were dropped, so a log file keeps one line when the outage starts and one as it goes on.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable

_NUMBERS = re.compile(r"\d+")


class OutageFilter(logging.Filter):
    def __init__(self, quiet_s: float = 60.0, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__()
        self.quiet_s = quiet_s
        self._clock = clock
        self._last: dict[str, float] = {}
        self._dropped: dict[str, int] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        kind = _NUMBERS.sub("#", record.getMessage())  # ports, ms and counters vary between repeats
        now = self._clock()
        last = self._last.get(kind)
        if last is not None and now - last < self.quiet_s:
            self._dropped[kind] = self._dropped.get(kind, 0) + 1
            return False
        self._last[kind] = now
        dropped = self._dropped.pop(kind, 0)
        if dropped:
            record.msg = f"{record.getMessage()} (and {dropped} like it in the last {self.quiet_s:.0f}s)"
            record.args = ()
        return True


def client_logger(name: str = "anomaly.librdkafka", quiet_s: float = 60.0) -> logging.Logger:
    """The logger to pass as a confluent-kafka client's ``logger`` setting (one filter per logger name)."""
    logger = logging.getLogger(name)
    if not any(isinstance(f, OutageFilter) for f in logger.filters):
        logger.addFilter(OutageFilter(quiet_s))
    return logger
