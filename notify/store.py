"""The notify worker's PostgreSQL state (migration ``005_notifications.sql``): alerts, notifications, escalations.

Every change of an alert is handled in one transaction holding a per-alert advisory lock, so two workers that
briefly both hold a partition during a rebalance (or the escalation loop and the stream) never decide for the same
alert at once; ``done`` tells whether a notice was already decided before a restart.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict
from datetime import datetime
from typing import Any

import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from anomaly_core.db import close_quietly, connect
from anomaly_core.errors import TransientError
from notify.alert import Alert
from schemas.records import AnomalyState, ObjectRef, Severity

OPERATOR_COLUMNS = ("acknowledged_by", "acknowledged_at", "assignee", "resolution")


def alert_json(alert: Alert) -> dict[str, Any]:
    data = asdict(alert)
    for name in OPERATOR_COLUMNS:
        data.pop(name)
    for name in ("incident_start", "incident_end"):
        data[name] = data[name].isoformat()
    data["kinds"], data["reasons"] = list(alert.kinds), list(alert.reasons)
    return data


def alert_of(row: dict[str, Any]) -> Alert | None:
    data = row.get("alert")
    if not isinstance(data, dict):
        return None
    frame = data.get("best_frame")
    return Alert(
        anomaly_id=str(row["anomaly_id"]),
        camera_id=data["camera_id"],
        revision=int(data["revision"]),
        state=AnomalyState(data["state"]),
        severity=Severity(data["severity"]),
        kinds=tuple(data["kinds"]),
        score=float(data["score"]),
        reasons=tuple(data["reasons"]),
        incident_start=datetime.fromisoformat(data["incident_start"]),
        incident_end=datetime.fromisoformat(data["incident_end"]),
        caption=data.get("caption"),
        transcript=data.get("transcript"),
        best_frame=ObjectRef(**frame) if isinstance(frame, dict) else None,
        origin=data.get("origin", "LIVE"),
        **{name: row.get(name) for name in OPERATOR_COLUMNS},
    )


class AlertTx:
    """One alert's transaction: read its state, decide, record, save."""

    def __init__(self, cur: psycopg.Cursor[dict[str, Any]], anomaly_id: str) -> None:
        self.cur = cur
        self.anomaly_id = anomaly_id
        cur.execute("select pg_advisory_xact_lock(hashtextextended(%s, 7))", (anomaly_id,))
        cur.execute("select * from notify_alerts where anomaly_id = %s", (anomaly_id,))
        self.row: dict[str, Any] | None = cur.fetchone()

    @property
    def alert(self) -> Alert | None:
        return None if self.row is None else alert_of(self.row)

    def operator(self) -> dict[str, Any]:
        """What operators did, also when no event of the alert was seen yet."""
        return {name: (self.row or {}).get(name) for name in OPERATOR_COLUMNS}

    def done(self, step: str, target: str) -> bool:
        self.cur.execute(
            "select 1 from notifications where anomaly_id = %s and step = %s and target = %s",
            (self.anomaly_id, step, target),
        )
        return self.cur.fetchone() is not None

    def record(self, **row: Any) -> None:
        self.cur.execute(
            "insert into notifications (anomaly_id, step, target, camera_id, revision, channel, change, status,"
            " detail, attempts, latency_ms, idempotency_key) values (%(anomaly_id)s, %(step)s, %(target)s,"
            " %(camera_id)s, %(revision)s, %(channel)s, %(change)s, %(status)s, %(detail)s, %(attempts)s,"
            " %(latency_ms)s, %(idempotency_key)s) on conflict do nothing",
            {"anomaly_id": self.anomaly_id, **row},
        )

    def save(self, camera_id: str, alert: Alert | None, operator: dict[str, Any], **escalation: Any) -> None:
        """Stores the alert (None: keep the stored one) and what operators did; ``escalation`` sets any of
        escalation_target, escalation_level, escalation_due (the others keep their stored values)."""
        row = self.row or {}
        current = {
            "escalation_target": row.get("escalation_target"),
            "escalation_level": row.get("escalation_level") or 0,
            "escalation_due": row.get("escalation_due"),
            **escalation,
        }
        self.cur.execute(
            "insert into notify_alerts (anomaly_id, camera_id, revision, alert, acknowledged_by, acknowledged_at,"
            " assignee, resolution, escalation_target, escalation_level, escalation_due) values (%(anomaly_id)s,"
            " %(camera_id)s, %(revision)s, %(alert)s, %(acknowledged_by)s, %(acknowledged_at)s, %(assignee)s,"
            " %(resolution)s, %(escalation_target)s, %(escalation_level)s, %(escalation_due)s)"
            " on conflict (anomaly_id) do update set camera_id = excluded.camera_id, revision = excluded.revision,"
            " alert = coalesce(excluded.alert, notify_alerts.alert), acknowledged_by = excluded.acknowledged_by,"
            " acknowledged_at = excluded.acknowledged_at, assignee = excluded.assignee,"
            " resolution = excluded.resolution, escalation_target = excluded.escalation_target,"
            " escalation_level = excluded.escalation_level, escalation_due = excluded.escalation_due,"
            " updated_at = clock_timestamp()",
            {
                "anomaly_id": self.anomaly_id,
                "camera_id": camera_id,
                "revision": alert.revision if alert is not None else row.get("revision", 0),
                "alert": Jsonb(alert_json(alert)) if alert is not None else None,
                **{name: operator.get(name) for name in OPERATOR_COLUMNS},
                **current,
            },
        )


class NotifyStore:
    """Owns one connection (re-opened after a failure); a database that is down raises ``TransientError``."""

    def __init__(self, dsn: str) -> None:
        self.dsn = dsn
        self._conn: psycopg.Connection | None = None

    def _connection(self) -> psycopg.Connection:
        if self._conn is None or self._conn.closed or self._conn.broken:
            self._conn = connect(self.dsn)
        return self._conn

    @contextmanager
    def alert(self, anomaly_id: str) -> Iterator[AlertTx]:
        """One transaction on one alert, committed when the block ends without an error."""
        try:
            conn = self._connection()
            with conn.transaction(), conn.cursor(row_factory=dict_row) as cur:
                yield AlertTx(cur, anomaly_id)
        except psycopg.OperationalError as exc:
            self.close()
            raise TransientError(f"database unavailable: {exc}".strip()) from exc

    def due_escalations(self, now: datetime, limit: int = 20) -> list[str]:
        try:
            conn = self._connection()
            with conn.transaction(), conn.cursor(row_factory=dict_row) as cur:
                cur.execute(
                    "select anomaly_id::text as id from notify_alerts where escalation_due <= %s"
                    " and acknowledged_at is null and resolution is null order by escalation_due limit %s",
                    (now, limit),
                )
                return [row["id"] for row in cur.fetchall()]
        except psycopg.OperationalError as exc:
            self.close()
            raise TransientError(f"database unavailable: {exc}".strip()) from exc

    def close(self) -> None:
        close_quietly(self._conn)
        self._conn = None
