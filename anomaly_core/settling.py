"""Kafka calls that fail while fresh topics elect their leaders, asked again until the cluster settles."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, TypeVar

from confluent_kafka import KafkaError, KafkaException

T = TypeVar("T")

#: Errors of a topic whose partitions are still being created or moving: worth asking again shortly.
_SETTLING = {
    KafkaError.NOT_LEADER_FOR_PARTITION,
    KafkaError.LEADER_NOT_AVAILABLE,
    KafkaError.UNKNOWN_TOPIC_OR_PART,
    KafkaError._UNKNOWN_PARTITION,
    KafkaError._TIMED_OUT,
}


def settled(call: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """``call(*args, **kwargs)``, asked again for up to 30 s while the broker reports the partitions as not ready
    yet (fresh topics, a leader moving)."""
    deadline = time.monotonic() + 30.0
    delay = 0.05
    while True:
        try:
            return call(*args, **kwargs)
        except KafkaException as exc:
            err = exc.args[0] if exc.args else None
            retry = isinstance(err, KafkaError) and (err.code() in _SETTLING or err.retriable())
            if not retry or time.monotonic() > deadline:
                raise
        time.sleep(delay)
        delay = min(1.0, delay * 2)
