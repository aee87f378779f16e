"""The PostgreSQL projection of ``anomalies.v1``: one row per anomaly id holding its newest revision.

The sink is a runtime service (``anomaly_core.runtime``): it upserts each batch in one transaction and the
runtime commits the offsets only after that transaction. The upsert is revision-guarded, so a redelivered or
replayed older revision never overwrites a newer one and a replay of the same revision rewrites the same row:
``anomaly projection rebuild`` and any redelivery converge on the same table. A database that is down raises
``TransientError``: the runtime retries the batch with backoff and commits nothing meanwhile.

The sink also reads ``anomalies.actions.v1``: operator actions are applied in the same transaction
(``anomaly_core.operator_actions``), idempotently by action id and independently of their order.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from anomaly_core import operator_actions
from anomaly_core.db import connect
from anomaly_core.errors import PermanentError, TransientError
from anomaly_core.runtime import BatchHandler, Message, Output
from schemas.convert import to_avro
from schemas.records import AnomalyAction, AnomalyEvent

log = logging.getLogger(__name__)


UPSERT = """
insert into anomalies (
    anomaly_id, camera_id, revision, state, incident_start, incident_end, window_start, window_end,
    severity, kinds, score, reasons, evidence, lineage, transcript, caption, rules_version, fusion_version, decided_at,
    origin, run_id
) values (
    %(anomaly_id)s, %(camera_id)s, %(revision)s, %(state)s, %(incident_start)s, %(incident_end)s, %(window_start)s,
    %(window_end)s, %(severity)s, %(kinds)s, %(score)s, %(reasons)s, %(evidence)s, %(lineage)s, %(transcript)s,
    %(caption)s, %(rules_version)s, %(fusion_version)s, %(decided_at)s, %(origin)s, %(run_id)s
)
on conflict (anomaly_id) do update set
    camera_id = excluded.camera_id, revision = excluded.revision, state = excluded.state,
    incident_start = excluded.incident_start, incident_end = excluded.incident_end,
    window_start = excluded.window_start, window_end = excluded.window_end, severity = excluded.severity,
    kinds = excluded.kinds, score = excluded.score, reasons = excluded.reasons, evidence = excluded.evidence,
    lineage = excluded.lineage, transcript = excluded.transcript, caption = excluded.caption,
    rules_version = excluded.rules_version, fusion_version = excluded.fusion_version, decided_at = excluded.decided_at,
    origin = excluded.origin, run_id = excluded.run_id, updated_at = clock_timestamp()
-- An older revision never overwrites a newer one; the same revision (a replay) rewrites it identically.
where anomalies.revision <= excluded.revision
"""


def row_of(event: AnomalyEvent) -> dict[str, Any]:
    """The row parameters of one event; evidence and lineage are stored in their Avro shape (the API reads them)."""
    return {
        "anomaly_id": event.anomaly_id,
        "camera_id": event.camera_id,
        "revision": event.revision,
        "state": event.state.value,
        "incident_start": event.incident_start,
        "incident_end": event.incident_end,
        "window_start": event.window_start,
        "window_end": event.window_end,
        "severity": event.severity.value,
        "kinds": [k.value for k in event.kinds],
        "score": event.score,
        "reasons": list(event.reasons),
        "evidence": Jsonb(to_avro(event.evidence)),
        "lineage": Jsonb(to_avro(event.lineage)),
        "transcript": event.evidence.transcript_excerpt,
        "caption": event.evidence.caption,
        "rules_version": event.rules_version,
        "fusion_version": event.fusion_version,
        "decided_at": event.decided_at,
        "origin": event.origin.value,
        "run_id": event.run_id,
    }


def _write(cur: psycopg.Cursor[Any], records: list[AnomalyEvent | AnomalyAction]) -> None:
    anomalies = [r for r in records if isinstance(r, AnomalyEvent)]
    if anomalies:
        cur.executemany(UPSERT, [row_of(e) for e in anomalies])
        # A new row whose actions were stored first (a rebuild, or a sink behind the API) gets them now.
        operator_actions.derive(cur, {e.anomaly_id for e in anomalies})
    operator_actions.apply(cur, [r for r in records if isinstance(r, AnomalyAction)])


class Projection:
    """Owns one connection (re-opened after a failure) and upserts batches of events in single transactions."""

    def __init__(self, dsn: str) -> None:
        self.dsn = dsn
        self._conn: psycopg.Connection | None = None

    def upsert(self, events: Iterable[AnomalyEvent | AnomalyAction], conn: psycopg.Connection | None = None) -> int:
        """Upserts anomaly ``events`` and applies operator actions in order, in one transaction (``conn``'s, when
        given); returns how many records."""
        records = list(events)
        if not records:
            return 0
        if conn is not None:
            with conn.cursor() as cur:
                _write(cur, records)
            return len(records)
        try:
            db = self._connection()
            with db.transaction(), db.cursor() as cur:
                _write(cur, records)
        except psycopg.OperationalError as exc:
            self.close()
            raise TransientError(f"database unavailable: {exc}".strip()) from exc
        except psycopg.DataError as exc:
            raise PermanentError(f"row rejected: {exc}".strip()) from exc
        return len(records)

    def _connection(self) -> psycopg.Connection:
        if self._conn is None or self._conn.closed or self._conn.broken:
            self._conn = connect(self.dsn, autocommit=True)
        return self._conn

    def close(self) -> None:
        if self._conn is not None:
            try:
                self._conn.close()
            except psycopg.Error:
                log.debug("closing a broken connection", exc_info=True)
            self._conn = None

    def handler(self) -> BatchHandler:
        """The runtime batch handler: one transaction per batch, no outputs."""

        def upsert_batch(batch: list[Message[Any]]) -> list[list[Output] | Exception]:
            self.upsert(m.value for m in batch)
            return [[] for _ in batch]

        return upsert_batch
