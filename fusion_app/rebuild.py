"""``anomaly projection rebuild``: truncate the anomalies and anomaly_actions tables and refill them from
``anomalies.v1`` and ``anomalies.actions.v1`` (the operator actions are applied after every anomaly is in).

A fresh reader (no group offsets) reads every partition from the beginning up to the end offsets it saw when
it started; truncate and refill happen in ONE transaction, so readers see the old table until the new one is
complete, and the live sink (blocked by the lock meanwhile) then applies its newer revisions on top.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from anomaly_core import topics as catalog
from anomaly_core.db import connect, migrate
from anomaly_core.errors import DecodeError
from anomaly_core.registry import RegistryClient
from anomaly_core.serde import AvroSerde
from anomaly_core.settings import KafkaSettings
from fusion_app.projection import Projection
from fusion_app.reader import read_range
from schemas.records import AnomalyAction, AnomalyEvent

log = logging.getLogger(__name__)
BATCH = 1000


@dataclass
class RebuildReport:
    topic: str
    actions_topic: str = ""
    events: int = 0
    actions: int = 0
    rows: int = 0
    skipped: int = 0
    seconds: float = 0.0


def rebuild(
    kafka: KafkaSettings, dsn: str, *, progress: Callable[[int, int], None] | None = None, timeout_s: float = 600.0
) -> RebuildReport:
    started = time.monotonic()
    topic = catalog.topic_name(catalog.ANOMALIES, kafka.topic_prefix)
    actions_topic = catalog.topic_name(catalog.ANOMALY_ACTIONS, kafka.topic_prefix)
    report = RebuildReport(topic, actions_topic)
    migrate(dsn)
    projection = Projection(dsn)
    with RegistryClient(kafka.schema_registry_url) as registry, connect(dsn) as conn:
        serde = AvroSerde(registry)
        conn.execute("truncate anomalies, anomaly_actions")
        contracts: tuple[tuple[str, type[AnomalyEvent | AnomalyAction]], ...] = (
            (topic, AnomalyEvent),
            (actions_topic, AnomalyAction),
        )
        for name, record in contracts:
            for batch in read_range(kafka, [name], batch=BATCH, timeout_s=timeout_s):
                values: list[AnomalyEvent | AnomalyAction] = []
                for msg in batch:
                    try:
                        values.append(serde.decode(name, msg.value(), record))
                    except DecodeError as exc:
                        report.skipped += 1
                        log.warning("%s[%d]@%d skipped: %s", name, msg.partition(), msg.offset(), exc)
                done = projection.upsert(values, conn=conn)
                if record is AnomalyEvent:
                    report.events += done
                else:
                    report.actions += done
                if progress is not None:
                    progress(report.events + report.actions + report.skipped, len(batch))
        conn.commit()
        row = conn.execute("select count(*) from anomalies").fetchone()
        report.rows = int(row[0]) if row else 0
    report.seconds = round(time.monotonic() - started, 3)
    return report
