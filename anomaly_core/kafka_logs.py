"""Kafka client logs during an outage: one line per outage instead of one per retry, and whether it is over.

While a broker is down, librdkafka logs every refused connection attempt (hundreds a minute per client), and so
does aiokafka under Faust. Clients built with ``{"logger": client_logger()}`` send librdkafka's lines through
``OutageFilter``, and ``anomaly_core.logs.configure_logging`` puts one on its handler for aiokafka's loggers: the
first line of a kind passes, repeats within ``quiet_s`` are counted and dropped, and the next line of that kind
after a quiet period says how many were dropped, so a log keeps one line when the outage starts and one a minute
as it goes on. ``BrokerWatch`` is for loops that ask the broker themselves (the lag probe of ``anomaly demo`` and
``anomaly analyze``): one line when it stops answering, one when it answers again.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable

_NUMBERS = re.compile(r"\d+")


class OutageFilter(logging.Filter):
    """Drops repeats of a line (numbers aside) for ``quiet_s``; with ``prefixes``, only records of those loggers
    (and their children) are filtered, the others always pass (for a handler shared by every logger)."""

    def __init__(
        self, quiet_s: float = 60.0, clock: Callable[[], float] = time.monotonic, prefixes: tuple[str, ...] = ()
    ) -> None:
        super().__init__()
        self.quiet_s = quiet_s
        self.prefixes = prefixes
        self._clock = clock
        self._last: dict[str, float] = {}
        self._dropped: dict[str, int] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        if self.prefixes and not any(record.name == p or record.name.startswith(p + ".") for p in self.prefixes):
            return True
        kind = record.name + ":" + _NUMBERS.sub("#", record.getMessage())  # ports, ms and counters vary between repeats
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


def silent_logger(name: str) -> logging.Logger:
    """A client ``logger`` that drops every line: librdkafka's housekeeping where the caller reports the outcome
    itself (``anomaly topics``, the stack's health probes)."""
    logger = logging.getLogger(name)
    if not any(isinstance(h, logging.NullHandler) for h in logger.handlers):
        logger.addHandler(logging.NullHandler())
    logger.propagate = False
    return logger


class BrokerWatch:
    """Whether the broker answers, as seen by a loop that asks it now and then; says so once per change.

    ``failed`` after a call that raised, ``answered`` after one that did not; each returns the one line to show
    when the state changes (the outage, then the recovery) and None otherwise. A failure counts as an outage once
    failures have gone on for ``grace_s`` (a call that timed out already took that long), so the odd error of a
    group that is still joining does not raise the alarm.
    """

    def __init__(self, grace_s: float = 3.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.grace_s = grace_s
        self._clock = clock
        self._failing_since: float | None = None
        self.down_since: float | None = None
        self.error = ""

    def failed(self, error: object, started: float | None = None) -> str | None:
        now = self._clock()
        self.error = str(error)
        if self._failing_since is None:
            self._failing_since = now if started is None else started
        if self.down_since is None and now - self._failing_since >= self.grace_s:
            self.down_since = self._failing_since
            return f"Kafka is not answering ({self.error}); retrying"
        return None

    def answered(self) -> str | None:
        down_since, self._failing_since, self.down_since = self.down_since, None, None
        if down_since is None:
            return None
        return f"Kafka answers again (it did not for {self._clock() - down_since:.0f} s)"

    def down_for(self) -> float | None:
        """Seconds since the outage began, None while the broker answers."""
        return None if self.down_since is None else self._clock() - self.down_since
