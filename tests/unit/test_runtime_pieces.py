"""Pure pieces of the streaming runtime: wire-format framing, backoff, dead letters, JSON logs, per_message."""

from __future__ import annotations

import io
import json
import logging
import random
from datetime import UTC, datetime

import pytest

from anomaly_core.backoff import Backoff, backoff_delay
from anomaly_core.dlq import dead_letter, dlq_topic, error_class, stage_of
from anomaly_core.errors import DecodeError, ObjectMissingError, PermanentError, TransientError, ValidationError
from anomaly_core.logs import configure_logging
from anomaly_core.runtime import Message, Output, per_message
from anomaly_core.serde import frame, unframe
from schemas.records import DeadLetterStage

T0 = datetime(2024, 5, 17, 8, 30, tzinfo=UTC)


def test_frame_and_unframe() -> None:
    data = frame(258, b"body")
    assert data == b"\x00\x00\x00\x01\x02body"
    assert unframe(data) == (258, b"body")


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "truncated header: 0 bytes"),
        (b"\x00\x00\x01", "truncated header: 3 bytes"),
        (b"\x01\x00\x00\x00\x01body", "unknown magic byte 0x01"),
        (b"\xff\x00\x00\x00\x01", "unknown magic byte 0xff"),
        (None, "no value"),
    ],
)
def test_unframe_refuses_foreign_bytes(data: bytes, reason: str) -> None:
    with pytest.raises(DecodeError, match=reason):
        unframe(data)


def test_backoff_grows_exponentially_with_full_jitter() -> None:
    rng = random.Random(1)
    delays = [backoff_delay(n, initial_s=0.1, max_s=2.0, factor=2.0, rng=rng) for n in range(1, 12)]
    ceilings = [min(2.0, 0.1 * 2 ** (n - 1)) for n in range(1, 12)]
    assert all(0 <= d <= c for d, c in zip(delays, ceilings, strict=True))
    backoff = Backoff(initial_s=1.0, max_s=1.0, rng=random.Random(2))
    assert all(0 <= backoff.next_delay() <= 1.0 for _ in range(20)) and backoff.attempt == 20
    backoff.reset()
    assert backoff.attempt == 0


def test_stages_of_errors() -> None:
    assert stage_of(DecodeError("x")) is DeadLetterStage.DECODE
    assert stage_of(ValidationError("x")) is DeadLetterStage.VALIDATE
    assert stage_of(ObjectMissingError("x")) is DeadLetterStage.FETCH
    assert stage_of(PermanentError("x")) is DeadLetterStage.HANDLE
    assert stage_of(KeyError("x")) is DeadLetterStage.HANDLE


def test_dead_letter_is_deterministic_and_complete() -> None:
    kwargs = {"topic": "media.frames.v1", "partition": 2, "offset": 41, "key": b"cam-1", "value": b"\x01"}
    letter = dead_letter("pose", DecodeError("unknown magic byte 0x01"), failed_at=T0, **kwargs)  # type: ignore[arg-type]
    again = dead_letter("pose", DecodeError("unknown magic byte 0x01"), failed_at=T0, **kwargs)  # type: ignore[arg-type]
    assert letter == again
    assert letter.stage is DeadLetterStage.DECODE
    assert letter.error_class == "anomaly_core.errors.DecodeError"
    assert letter.reason == "unknown magic byte 0x01"
    assert (letter.original_topic, letter.original_partition, letter.original_offset) == ("media.frames.v1", 2, 41)
    assert (letter.key, letter.value) == (b"cam-1", b"\x01")
    assert error_class(ValueError()) == "ValueError"
    assert dlq_topic("t1234.") == "t1234.dlq.v1" and dlq_topic() == "dlq.v1"


def test_per_message_turns_exceptions_into_results() -> None:
    def fn(message: Message[int]) -> list[Output]:
        if message.value == 2:
            raise ValidationError("two")
        if message.value == 3:
            raise TransientError("store down")
        return [Output("out", message.key or "", message.value)]

    batch = [Message("in", 0, i, "k", i, b"", 0) for i in (1, 2, 3)]
    results = per_message(fn)(batch)
    assert results[0] == [Output("out", "k", 1)]
    assert isinstance(results[1], ValidationError) and isinstance(results[2], TransientError)


def test_json_logging_carries_extra_fields() -> None:
    stream = io.StringIO()
    configure_logging("INFO", json=True, stream=stream)
    try:
        logging.getLogger("anomaly.test").warning("dead-lettering %s", "t[0]@1", extra={"topic": "t", "offset": 1})
        line = json.loads(stream.getvalue().splitlines()[-1])
    finally:
        configure_logging("WARNING")
    assert line["msg"] == "dead-lettering t[0]@1" and line["level"] == "WARNING"
    assert line["topic"] == "t" and line["offset"] == 1 and line["logger"] == "anomaly.test"


def test_retry_retries_transient_failures_then_returns() -> None:
    from anomaly_core.backoff import Retry
    from anomaly_core.errors import TransientError

    calls, said, waited = [], [], []

    def attempt() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise TransientError("down")
        return "done"

    retry = Retry(lambda exc, delay: said.append(str(exc)), Backoff(0.1, 0.1), wait=waited.append)
    assert retry.call(attempt) == "done"
    assert len(calls) == 3 and said == ["down", "down"] and len(waited) == 2 and all(0 <= w <= 0.1 for w in waited)


def test_retry_gives_up_with_the_failure_or_another_error() -> None:
    from anomaly_core.backoff import Retry, give_up_after
    from anomaly_core.errors import TransientError

    def down() -> None:
        raise TransientError("down")

    with pytest.raises(TransientError, match="down"):
        Retry(lambda exc, delay: None, give_up=lambda exc: exc, wait=lambda s: None).call(down)
    expired = give_up_after(0.0, lambda exc: RuntimeError(f"gave up: {exc}"))
    with pytest.raises(RuntimeError, match="gave up: down") as caught:
        Retry(lambda exc, delay: None, give_up=expired, wait=lambda s: None).call(down)
    assert isinstance(caught.value.__cause__, TransientError)
    with pytest.raises(ValueError):  # not a kind it retries
        Retry(lambda exc, delay: None).call(lambda: int("x"))
