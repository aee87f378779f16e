"""Dead letters: what the runtime publishes to ``dlq.v1`` instead of crashing on, or dropping, a bad record."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from anomaly_core.errors import PermanentError
from anomaly_core.topics import DLQ, topic_name
from schemas.records import DeadLetter, DeadLetterStage

#: Namespace of dead-letter ids: the same failure of the same record always gets the same id, so a replayed
#: dead letter is recognisably the same one.
DLQ_NAMESPACE = uuid.UUID("5e0b7f0c-4a51-4d55-9d53-6a1d7c3b2f10")
MAX_REASON_CHARS = 4000


def dlq_topic(prefix: str = "") -> str:
    return topic_name(DLQ, prefix)


def stage_of(error: BaseException) -> DeadLetterStage:
    """The pipeline stage an error belongs to (PermanentError subclasses carry it); HANDLE otherwise."""
    stage = getattr(error, "stage", None) if isinstance(error, PermanentError) else None
    try:
        return DeadLetterStage(stage) if stage else DeadLetterStage.HANDLE
    except ValueError:
        return DeadLetterStage.HANDLE


def error_class(error: BaseException) -> str:
    cls = type(error)
    return cls.__qualname__ if cls.__module__ == "builtins" else f"{cls.__module__}.{cls.__qualname__}"


def reason_of(error: BaseException) -> str:
    text = str(error) or repr(error)
    return text if len(text) <= MAX_REASON_CHARS else text[: MAX_REASON_CHARS - 3] + "..."


def dead_letter(
    service: str,
    error: BaseException,
    *,
    topic: str,
    partition: int,
    offset: int,
    key: bytes | None,
    value: bytes | None,
    stage: DeadLetterStage | None = None,
    failed_at: datetime | None = None,
) -> DeadLetter:
    """The DeadLetter for the record at ``topic[partition]@offset`` that ``service`` failed on."""
    stage = stage or stage_of(error)
    return DeadLetter(
        event_id=str(uuid.uuid5(DLQ_NAMESPACE, f"{service}/{stage.value}/{topic}/{partition}/{offset}")),
        service=service,
        stage=stage,
        error_class=error_class(error),
        reason=reason_of(error),
        original_topic=topic,
        original_partition=partition,
        original_offset=offset,
        key=key,
        value=value,
        failed_at=_now_millis() if failed_at is None else failed_at,
    )


def _now_millis() -> datetime:
    # Avro keeps milliseconds; truncating here makes a dead letter equal to itself after a round trip.
    now = datetime.now(tz=UTC)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)
