"""Token buckets and connection counts, with a fake clock."""

from __future__ import annotations

import pytest

from api.ratelimit import ConnectionLimiter, RateLimiter, TokenBucket


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_bucket_allows_burst_then_asks_to_wait() -> None:
    bucket = TokenBucket(capacity=3, rate=1.0, tokens=3, updated=0.0)
    assert [bucket.take(0.0) for _ in range(3)] == [0.0, 0.0, 0.0]
    assert bucket.take(0.0) == pytest.approx(1.0)


def test_bucket_refills_with_time_but_not_past_capacity() -> None:
    bucket = TokenBucket(capacity=2, rate=0.5, tokens=0, updated=0.0)
    assert bucket.take(1.0) == pytest.approx(1.0)  # 0.5 tokens so far; one more second for the rest
    assert bucket.take(100.0) == 0.0
    assert bucket.tokens == pytest.approx(1.0)  # capped at 2, one taken


def test_limiter_retry_after_is_whole_seconds_and_at_least_one() -> None:
    clock = Clock()
    limiter = RateLimiter(per_minute=60, burst=2, clock=clock)
    assert limiter.check("k").allowed
    assert limiter.check("k").allowed
    refused = limiter.check("k")
    assert not refused.allowed
    assert refused.retry_after_s == 1
    clock.now += 1.0
    assert limiter.check("k").allowed


def test_slow_rate_gives_longer_retry_after() -> None:
    clock = Clock()
    limiter = RateLimiter(per_minute=6, burst=1, clock=clock)  # one token per 10 s
    assert limiter.check("k").allowed
    assert limiter.check("k").retry_after_s == 10
    clock.now += 4.5
    assert limiter.check("k").retry_after_s == 6  # ceil(5.5)


def test_keys_have_separate_buckets() -> None:
    limiter = RateLimiter(per_minute=60, burst=1, clock=Clock())
    assert limiter.check("a").allowed
    assert not limiter.check("a").allowed
    assert limiter.check("b").allowed


def test_idle_buckets_are_evicted_when_the_table_is_full() -> None:
    clock = Clock()
    limiter = RateLimiter(per_minute=60, burst=1, clock=clock, max_keys=2)
    limiter.check("a")
    limiter.check("b")
    clock.now += 5.0  # both refilled: nothing to remember
    assert limiter.check("c").allowed
    assert limiter.check("a").allowed  # a fresh bucket, not the old empty one


def test_connection_limiter_counts_per_key() -> None:
    limiter = ConnectionLimiter(max_per_key=2)
    assert limiter.acquire("a") and limiter.acquire("a")
    assert not limiter.acquire("a")
    assert limiter.acquire("b")
    limiter.release("a")
    assert limiter.open_count("a") == 1
    assert limiter.acquire("a")
    limiter.release("b")
    limiter.release("b")  # an extra release never goes negative
    assert limiter.open_count("b") == 0
