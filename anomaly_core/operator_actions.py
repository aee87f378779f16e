"""The projection of operator actions (``anomalies.actions.v1``) into PostgreSQL.

Each action is stored once under its ``action_id`` in ``anomaly_actions``; the handling columns of its anomaly's
row (status, acknowledged_by/at, assignee, resolution, resolved_by/at, notes) are then derived from ALL the
actions stored for that anomaly, ordered by ``(at, action_id)``. Applying actions in any order, twice, or again
in a rebuild therefore gives the same row. The projection sink, ``anomaly projection rebuild`` and the API (which
applies the action it has just published, so its caller reads its own write) run these same statements; a
transaction-scoped advisory lock per anomaly keeps two appliers from deriving from sets missing each other's action.

Derivation rules: the first ACKNOWLEDGE or RESOLVE acknowledges (by its actor, at its time); the latest RESOLVE
gives the resolution; the latest ASSIGN the assignee; every action's note is kept, oldest first. Status is
RESOLVED once resolved, ACKNOWLEDGED once acknowledged, NEW otherwise.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any

import psycopg

from schemas.records import AnomalyAction

LOCK = "select pg_advisory_xact_lock(hashtextextended(%s::text, 0))"

INSERT = """
insert into anomaly_actions (action_id, anomaly_id, camera_id, kind, actor, at, assignee, resolution, note)
values (%(action_id)s, %(anomaly_id)s, %(camera_id)s, %(kind)s, %(actor)s, %(at)s, %(assignee)s, %(resolution)s,
        %(note)s)
on conflict (action_id) do nothing
"""

# ``every``: derive every anomaly that has actions (the rebuild); otherwise the anomalies in ``ids``.
DERIVE = """
with folded as (
    select x.anomaly_id,
        bool_or(x.kind = 'RESOLVE') as resolved,
        bool_or(x.kind in ('ACKNOWLEDGE', 'RESOLVE')) as acknowledged,
        (array_agg(x.actor order by x.at, x.action_id)
            filter (where x.kind in ('ACKNOWLEDGE', 'RESOLVE')))[1] as acknowledged_by,
        min(x.at) filter (where x.kind in ('ACKNOWLEDGE', 'RESOLVE')) as acknowledged_at,
        (array_agg(x.assignee order by x.at desc, x.action_id desc) filter (where x.kind = 'ASSIGN'))[1] as assignee,
        (array_agg(x.resolution order by x.at desc, x.action_id desc)
            filter (where x.kind = 'RESOLVE'))[1] as resolution,
        (array_agg(x.actor order by x.at desc, x.action_id desc) filter (where x.kind = 'RESOLVE'))[1] as resolved_by,
        max(x.at) filter (where x.kind = 'RESOLVE') as resolved_at,
        coalesce(array_agg(x.note order by x.at, x.action_id) filter (where x.note is not null), '{}') as notes
    from anomaly_actions x
    where %(every)s or x.anomaly_id = any(%(ids)s::uuid[])
    group by x.anomaly_id
)
update anomalies a set
    status = case when f.resolved then 'RESOLVED' when f.acknowledged then 'ACKNOWLEDGED' else 'NEW' end,
    acknowledged_by = f.acknowledged_by, acknowledged_at = f.acknowledged_at, assignee = f.assignee,
    resolution = f.resolution, resolved_by = f.resolved_by, resolved_at = f.resolved_at, notes = f.notes
from folded f
where a.anomaly_id = f.anomaly_id
"""

HISTORY = (
    "select action_id, anomaly_id, camera_id, kind, actor, at, assignee, resolution, note from anomaly_actions"
    " where anomaly_id = %s order by at, action_id"
)
ONE = (
    "select action_id, anomaly_id, camera_id, kind, actor, at, assignee, resolution, note from anomaly_actions"
    " where action_id = %s"
)


def row_of(action: AnomalyAction) -> dict[str, Any]:
    return {
        "action_id": action.action_id,
        "anomaly_id": action.anomaly_id,
        "camera_id": action.camera_id,
        "kind": action.kind.value,
        "actor": action.actor,
        "at": action.at,
        "assignee": action.assignee,
        "resolution": action.resolution.value if action.resolution else None,
        "note": action.note,
    }


def derive_params(ids: Collection[str] | None) -> dict[str, Any]:
    """Parameters of ``DERIVE``: ``None`` derives every anomaly that has actions."""
    return {"every": ids is None, "ids": sorted(ids or ())}


def apply(cur: psycopg.Cursor[Any], actions: Sequence[AnomalyAction]) -> None:
    """Stores ``actions`` and derives their anomalies' rows, in the caller's transaction."""
    if not actions:
        return
    ids = sorted({a.anomaly_id for a in actions})
    for anomaly_id in ids:  # sorted: two appliers lock in the same order, never deadlock
        cur.execute(LOCK, (anomaly_id,))
    cur.executemany(INSERT, [row_of(a) for a in actions])
    cur.execute(DERIVE, derive_params(ids))


def derive(cur: psycopg.Cursor[Any], ids: Collection[str] | None) -> None:
    """Derives the rows of ``ids`` (None: all) from the stored actions, e.g. after their anomalies were (re)written."""
    cur.execute(DERIVE, derive_params(ids))


async def apply_one(conn: psycopg.AsyncConnection[Any], action: AnomalyAction) -> None:
    """``apply`` for one action on an async connection, in a transaction of its own."""
    async with conn.transaction(), conn.cursor() as cur:
        await cur.execute(LOCK, (action.anomaly_id,))
        await cur.execute(INSERT, row_of(action))
        await cur.execute(DERIVE, derive_params([action.anomaly_id]))
