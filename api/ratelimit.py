"""Per-key request rate limits (token buckets) and per-key WebSocket connection counts.

State lives in the process: with N workers a key may get up to N times the configured rate.
The clock is injected so the arithmetic is tested with fixed times.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(slots=True)
class TokenBucket:
    """``capacity`` tokens at most, refilled at ``rate`` tokens per second."""

    capacity: float
    rate: float
    tokens: float
    updated: float

    def take(self, now: float, cost: float = 1.0) -> float:
        """Takes ``cost`` tokens; returns 0 when allowed, else the seconds to wait before retrying."""
        elapsed = max(0.0, now - self.updated)
        self.tokens = min(self.capacity, self.tokens + elapsed * self.rate)
        self.updated = now
        if self.tokens >= cost:
            self.tokens -= cost
            return 0.0
        return (cost - self.tokens) / self.rate


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    retry_after_s: int  # whole seconds, as the Retry-After header wants; 0 when allowed


class RateLimiter:
    """One token bucket per key: ``per_minute`` sustained, ``burst`` at once."""

    def __init__(
        self, per_minute: int, burst: int, *, clock: Callable[[], float] = time.monotonic, max_keys: int = 10_000
    ) -> None:
        self._rate = per_minute / 60.0
        self._burst = float(burst)
        self._clock = clock
        self._max_keys = max_keys
        self._buckets: dict[str, TokenBucket] = {}
        self._lock = threading.Lock()

    def check(self, key: str) -> Decision:
        now = self._clock()
        with self._lock:
            bucket = self._buckets.get(key)
            if bucket is None:
                if len(self._buckets) >= self._max_keys:
                    self._evict_full(now)
                bucket = TokenBucket(capacity=self._burst, rate=self._rate, tokens=self._burst, updated=now)
                self._buckets[key] = bucket
            wait = bucket.take(now)
        if wait == 0.0:
            return Decision(allowed=True, retry_after_s=0)
        return Decision(allowed=False, retry_after_s=max(1, math.ceil(wait)))

    def _evict_full(self, now: float) -> None:
        # A bucket that has refilled completely carries no state worth keeping (JWT subjects can be many).
        full_after = self._burst / self._rate
        for key in [k for k, b in self._buckets.items() if now - b.updated >= full_after]:
            del self._buckets[key]


class ConnectionLimiter:
    """Counts open WebSocket connections per key against ``MAX_CONCURRENT_CONNECTIONS``."""

    def __init__(self, max_per_key: int) -> None:
        self._max = max_per_key
        self._open: dict[str, int] = {}
        self._lock = threading.Lock()

    def acquire(self, key: str) -> bool:
        with self._lock:
            current = self._open.get(key, 0)
            if current >= self._max:
                return False
            self._open[key] = current + 1
            return True

    def release(self, key: str) -> None:
        with self._lock:
            current = self._open.get(key, 0) - 1
            if current > 0:
                self._open[key] = current
            else:
                self._open.pop(key, None)

    def open_count(self, key: str) -> int:
        with self._lock:
            return self._open.get(key, 0)
