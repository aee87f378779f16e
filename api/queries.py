"""Read queries over the ``anomalies`` and ``cameras`` projections.

Lists use keyset pagination on ``(incident_start desc, anomaly_id desc)``, which the index
``anomalies_start_id_idx`` (and the per-camera one) serve directly, so page N costs the same as page 1.
SQL building is pure (tested without a database); the runners are thin.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from psycopg.rows import dict_row

from anomaly_core import operator_actions
from api.cursor import Position
from schemas.records import Severity

SEVERITY_ORDER = [s.value for s in Severity]  # LOW < MEDIUM < HIGH < CRITICAL

SUMMARY_COLUMNS = (
    "anomaly_id, camera_id, revision, state, incident_start, incident_end, severity, kinds, score, reasons,"
    " transcript, caption, rules_version, fusion_version, decided_at, evidence->'best_frame' as best_frame,"
    " origin, run_id, status, acknowledged_by, acknowledged_at, assignee, resolution"
)
DETAIL_COLUMNS = SUMMARY_COLUMNS + ", evidence, lineage, resolved_by, resolved_at, notes"


def severities_at_least(minimum: str) -> list[str]:
    return SEVERITY_ORDER[SEVERITY_ORDER.index(minimum) :]


@dataclass(frozen=True, slots=True)
class AnomalyFilter:
    """Filters after the caller's camera allow-list was applied (``cameras`` None means all)."""

    cameras: frozenset[str] | None = None
    since: datetime | None = None
    until: datetime | None = None
    severities: frozenset[str] | None = None
    kinds: frozenset[str] | None = None
    rules_version: str | None = None
    states: frozenset[str] | None = None
    statuses: frozenset[str] | None = None


def build_list(flt: AnomalyFilter, after: Position | None, limit: int) -> tuple[str, dict[str, Any]]:
    """SQL and parameters for one page; fetches ``limit + 1`` rows to know whether a next page exists."""
    where: list[str] = []
    params: dict[str, Any] = {"limit": limit + 1}
    if flt.cameras is not None:
        if len(flt.cameras) == 1:
            # Equality (not = any) lets the planner use the (camera_id, incident_start) index as an ordered scan.
            where.append("camera_id = %(camera)s")
            params["camera"] = next(iter(flt.cameras))
        else:
            where.append("camera_id = any(%(cameras)s)")
            params["cameras"] = sorted(flt.cameras)
    if flt.since is not None:
        where.append("incident_start >= %(since)s")
        params["since"] = flt.since
    if flt.until is not None:
        where.append("incident_start < %(until)s")
        params["until"] = flt.until
    if flt.severities is not None:
        where.append("severity = any(%(severities)s)")
        params["severities"] = sorted(flt.severities)
    if flt.kinds is not None:
        where.append("kinds && %(kinds)s::text[]")
        params["kinds"] = sorted(flt.kinds)
    if flt.rules_version is not None:
        where.append("rules_version = %(rules_version)s")
        params["rules_version"] = flt.rules_version
    if flt.states is not None:
        where.append("state = any(%(states)s)")
        params["states"] = sorted(flt.states)
    if flt.statuses is not None:
        where.append("status = any(%(statuses)s)")
        params["statuses"] = sorted(flt.statuses)
    if after is not None:
        where.append("(incident_start, anomaly_id) < (%(after_start)s, %(after_id)s::uuid)")
        params["after_start"] = after.incident_start
        params["after_id"] = after.anomaly_id
    clause = (" where " + " and ".join(where)) if where else ""
    sql = (
        f"select {SUMMARY_COLUMNS} from anomalies{clause}"  # noqa: S608 - only fixed fragments; values are parameters
        " order by incident_start desc, anomaly_id desc limit %(limit)s"
    )
    return sql, params


async def list_anomalies(
    conn: psycopg.AsyncConnection, flt: AnomalyFilter, after: Position | None, limit: int
) -> tuple[list[dict[str, Any]], Position | None]:
    """One page of rows and the position to continue from (None on the last page)."""
    sql, params = build_list(flt, after, limit)
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(sql, params)
        rows = await cur.fetchall()
    if len(rows) <= limit:
        return rows, None
    rows = rows[:limit]
    last = rows[-1]
    return rows, Position(incident_start=last["incident_start"], anomaly_id=str(last["anomaly_id"]))


async def get_anomaly(conn: psycopg.AsyncConnection, anomaly_id: str) -> dict[str, Any] | None:
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(
            f"select {DETAIL_COLUMNS} from anomalies where anomaly_id = %s",  # noqa: S608 - fixed columns
            (anomaly_id,),
        )
        return await cur.fetchone()


async def list_actions(conn: psycopg.AsyncConnection, anomaly_id: str) -> list[dict[str, Any]]:
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(operator_actions.HISTORY, (anomaly_id,))
        return await cur.fetchall()


async def list_notifications(conn: psycopg.AsyncConnection, anomaly_id: str) -> list[dict[str, Any]]:
    """The notify worker's decisions about the anomaly (``notifications``, migration 005), oldest first."""
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(
            "select target, channel, change, status, detail, revision, attempts, created_at from notifications"
            " where anomaly_id = %s order by created_at, target",
            (anomaly_id,),
        )
        return await cur.fetchall()


async def get_action(conn: psycopg.AsyncConnection, action_id: str) -> dict[str, Any] | None:
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(operator_actions.ONE, (action_id,))
        return await cur.fetchone()


def build_cameras(cameras: frozenset[str] | None) -> tuple[str, dict[str, Any]]:
    where = " where c.camera_id = any(%(cameras)s)" if cameras is not None else ""
    sql = (
        "select c.camera_id as id, c.name, c.source, c.source_kind, c.location,"  # noqa: S608 - fixed fragments
        " c.created_at, c.last_started_at,"
        " (select max(a.incident_start) from anomalies a where a.camera_id = c.camera_id) as last_anomaly_at"
        f" from cameras c{where} order by c.camera_id"
    )
    return sql, {"cameras": sorted(cameras)} if cameras is not None else {}


async def list_cameras(conn: psycopg.AsyncConnection, cameras: frozenset[str] | None) -> list[dict[str, Any]]:
    sql, params = build_cameras(cameras)
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(sql, params)
        return await cur.fetchall()
