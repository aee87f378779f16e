"""The anomalies of an ``anomaly analyze`` run, put where every other anomaly lives: on ``anomalies.v1``.

A run fuses under a private topic prefix that is deleted when it ends. Before that, every revision it published
is copied onto the live ``anomalies.v1``, marked ``origin=ANALYZE`` with the run id, and the same events are
applied to the PostgreSQL projection with the sink's upsert. The table therefore never holds a row the log does
not, and ``anomaly projection rebuild`` gives back the same rows after any mix of demo, analyze and live runs.
Consumers that page people (notifications) skip ANALYZE anomalies; the dashboard and the API show them.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace

from anomaly_core import topics
from anomaly_core.errors import DecodeError, TransientError
from anomaly_core.producer import Delivery, ReliableProducer
from anomaly_core.registry import RegistryClient
from anomaly_core.serde import AvroSerde
from anomaly_core.settings import KafkaSettings
from fusion_app.projection import Projection
from fusion_app.reader import read_range
from schemas.records import AnomalyEvent, AnomalyOrigin

log = logging.getLogger(__name__)
_ACK_TIMEOUT_S = 60.0


@dataclass(frozen=True, slots=True)
class Published:
    events: int
    skipped: int
    topic: str


def stamped(event: AnomalyEvent, run_id: str) -> AnomalyEvent:
    """``event`` marked as found by the analyze run ``run_id``."""
    return replace(event, origin=AnomalyOrigin.ANALYZE, run_id=run_id)


def publish_run(kafka: KafkaSettings, *, run_prefix: str, run_id: str, dsn: str) -> Published:
    """Copies the run's anomaly revisions (in their order: same key, same partition) onto the live topic, waits for
    the brokers, then upserts them into the projection. TransientError when the brokers do not acknowledge."""
    with RegistryClient(kafka.schema_registry_url) as registry:
        return _publish(kafka, AvroSerde(registry), run_prefix=run_prefix, run_id=run_id, dsn=dsn)


def _publish(kafka: KafkaSettings, serde: AvroSerde, *, run_prefix: str, run_id: str, dsn: str) -> Published:
    source = topics.topic_name(topics.ANOMALIES, run_prefix)
    target = topics.topic_name(topics.ANOMALIES, kafka.topic_prefix)
    events: list[AnomalyEvent] = []
    skipped = 0
    for batch in read_range(kafka, [source]):
        for msg in batch:
            try:
                events.append(stamped(serde.decode(source, msg.value(), AnomalyEvent), run_id))
            except DecodeError as exc:  # the run's fusion wrote it; the run's DLQ already has its kind
                skipped += 1
                log.warning("%s[%d]@%d not published: %s", source, msg.partition(), msg.offset(), exc)
    if events:
        producer = ReliableProducer(kafka, client_id=f"analyze-{run_id}")
        for event in events:
            producer.send(Delivery(target, event.camera_id.encode(), serde.encode(target, event)))
        failed = producer.wait(_ACK_TIMEOUT_S)
        if failed:
            raise TransientError(f"{len(failed)} of {len(events)} anomalies not acknowledged on {target}")
        projection = Projection(dsn)
        try:
            projection.upsert(events)
        finally:
            projection.close()
    return Published(len(events), skipped, target)
