"""The one batch handler every processor uses: filter -> fetch -> decode -> score (batched) -> build score events.

A record the pipeline does not want (``Pipeline.wants``, e.g. a FrameRef the producer's motion gate published for
pose only, seen by the scene processor) is skipped before its object is fetched: it produces nothing, is
committed like a handled record, and is counted (``anomaly_processor_skipped_total``), never dead-lettered.

Errors are data per message: an expired object, a corrupt JPEG or a model failure on one input becomes that
message's result (the runtime dead-letters it) while the rest of the batch is still scored. A store outage is a
TransientError for the messages it hit, which the runtime retries without moving offsets.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

from anomaly_core import metrics
from anomaly_core.objectstore import ObjectStore
from anomaly_core.runtime import BatchHandler, Message, Output
from schemas.records import ModelInfo, ObjectRef, SourceRef

log = logging.getLogger(__name__)

X = TypeVar("X")  # decoded media
R = TypeVar("R")  # model result

#: Score ids are derived from (modality, input event, object, model version): a redelivered input produces the
#: same score id, so downstream sinks can deduplicate.
SCORE_NAMESPACE = uuid.UUID("0b3f5d5e-7a0c-4c1e-9a55-3c9e1f8f2a61")


@dataclass(frozen=True, slots=True)
class Subject:
    """What a score is about: the input event, its camera, event time and media object."""

    event_id: str
    camera_id: str
    event_time: datetime
    media: ObjectRef


@dataclass(frozen=True, slots=True)
class ScoreMeta:
    """The fields every score event carries."""

    event_id: str
    camera_id: str
    source: SourceRef
    event_time: datetime
    model: ModelInfo
    processed_at: datetime
    latency_ms: float

    def fields(self) -> dict[str, Any]:
        return {
            "event_id": self.event_id,
            "camera_id": self.camera_id,
            "source": self.source,
            "event_time": self.event_time,
            "model": self.model,
            "processed_at": self.processed_at,
            "latency_ms": self.latency_ms,
        }


@dataclass(frozen=True)
class Pipeline(Generic[X, R]):
    """How one modality turns input records into score records."""

    modality: str
    output_topic: str
    model: ModelInfo
    subject: Callable[[Any], Subject | None]  # None: nothing to score in this record (not an error)
    decode: Callable[[bytes], X]
    score_batch: Callable[[list[X]], list[R]]
    build: Callable[[Subject, R, ScoreMeta], Any]
    max_bytes: int
    # False: the record is not for this modality (skipped before the fetch, committed, counted); None: all are.
    wants: Callable[[Any], bool] | None = None


def score_all(score_batch: Callable[[list[X]], list[R]], inputs: Sequence[X]) -> list[R | Exception]:
    """Scores a batch; if the model throws, scores one by one so only the culprit fails."""
    if not inputs:
        return []
    try:
        results = score_batch(list(inputs))
        if len(results) == len(inputs):
            return list(results)
        raise RuntimeError(f"model returned {len(results)} results for {len(inputs)} inputs")
    except Exception as exc:
        if len(inputs) == 1:
            return [exc]
        log.warning("model failed on a batch of %d (%r); scoring one by one", len(inputs), exc)
    out: list[R | Exception] = []
    for item in inputs:
        try:
            out.append(score_batch([item])[0])
        except Exception as exc:
            out.append(exc)
    return out


def score_meta(modality: str, model: ModelInfo, message: Message[Any], subject: Subject, started: float) -> ScoreMeta:
    """The common fields of the score of ``subject`` read from ``message`` (its id derived as above)."""
    key = f"{modality}/{subject.event_id}/{subject.media.sha256}/{model.version}"
    return ScoreMeta(
        event_id=str(uuid.uuid5(SCORE_NAMESPACE, key)),
        camera_id=subject.camera_id,
        source=SourceRef(
            event_id=subject.event_id, topic=message.topic, partition=message.partition, offset=message.offset
        ),
        event_time=subject.event_time,
        model=model,
        processed_at=datetime.now(UTC),
        latency_ms=round((time.perf_counter() - started) * 1000.0, 3),
    )


def _meta(pipeline: Pipeline[Any, Any], message: Message[Any], subject: Subject, started: float) -> ScoreMeta:
    return score_meta(pipeline.modality, pipeline.model, message, subject, started)


def model_cpu_counter(modality: str) -> Any:
    """``anomaly_model_cpu_seconds_total{modality}``: CPU time of the process (all threads) while its model scored,
    as opposed to fetching, decoding and the Kafka/Avro plumbing around it."""
    return metrics.counter(
        "anomaly_model_cpu_seconds_total",
        "CPU time of this process (all threads) while the model scored a batch: what the model costs, as opposed "
        "to fetching, decoding and the Kafka/Avro plumbing around it",
        ("modality",),
    ).labels(modality)


def batch_handler(pipeline: Pipeline[X, R], store: ObjectStore) -> BatchHandler:
    """The runtime handler for ``pipeline``: one result (outputs or an exception) per message, in order."""

    skipped = metrics.counter(
        "anomaly_processor_skipped_total",
        "Input records a processor did not want (e.g. frames published for another stage), committed unscored",
        ("modality",),
    ).labels(pipeline.modality)
    model_cpu = model_cpu_counter(pipeline.modality)
    wants = pipeline.wants

    def handle(batch: list[Message[Any]]) -> list[list[Output] | Exception]:
        started = time.perf_counter()
        results: list[list[Output] | Exception] = [[] for _ in batch]
        pending: list[tuple[int, Subject, X]] = []
        for i, message in enumerate(batch):
            try:
                if wants is not None and not wants(message.value):
                    skipped.inc()
                    log.debug(
                        "%s: skipped %s[%d]@%d (not for this stage)",
                        pipeline.modality,
                        message.topic,
                        message.partition,
                        message.offset,
                    )
                    continue
                subject = pipeline.subject(message.value)
                if subject is not None:
                    data = store.get(subject.media, max_bytes=pipeline.max_bytes)
                    pending.append((i, subject, pipeline.decode(data)))
            except Exception as exc:  # errors as data; the runtime retries transient ones, dead-letters the rest
                results[i] = exc
        cpu_before = time.process_time()
        scored = score_all(pipeline.score_batch, [media for _, _, media in pending])
        model_cpu.inc(time.process_time() - cpu_before)
        for (i, subject, _), result in zip(pending, scored, strict=True):
            if isinstance(result, Exception):
                results[i] = result
                continue
            record = pipeline.build(subject, result, _meta(pipeline, batch[i], subject, started))
            results[i] = [Output(topic=pipeline.output_topic, key=subject.camera_id, value=record)]
        return results

    handle.__name__ = f"handle_{pipeline.modality}"
    return handle
