"""Erasing one camera (`anomaly cameras purge`): its media objects, its rows in PostgreSQL and its registry entry.

Objects: every version of every object under ``<kind>/<camera>/`` (or ``<camera>/``) in each media bucket (frames/,
audio/, evidence clips, recordings: the key layout of producers/keys.py), plus any object the camera's anomalies
name as evidence.
Rows: the tables are found, not listed, so tables added later are purged too: every table with a ``camera_id``
column loses the camera's rows, and every table keyed by ``anomaly_id`` alone loses the rows of the camera's
anomalies; ``cameras`` (the camera registry) is one of them. All rows go in one transaction.

Not erased here: the camera's events in Kafka topics, which expire with their topic's retention (anomalies.v1 is
kept forever, so `anomaly projection rebuild` would project the camera's anomalies again; docs/security.md).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import psycopg
from minio import Minio
from minio.deleteobjects import DeleteObject
from psycopg import sql

from anomaly_core.db import connect

CAMERA_COLUMN = "camera_id"
ANOMALY_COLUMN = "anomaly_id"
# The table whose rows say which anomalies are the camera's.
ANOMALIES_TABLE = "anomalies"


@dataclass(frozen=True)
class TableKeys:
    """A table and which of the purge's key columns it has."""

    name: str
    camera: bool
    anomaly: bool


@dataclass
class PurgeReport:
    camera_id: str
    dry_run: bool
    objects: dict[str, int] = field(default_factory=dict)  # bucket -> objects (versions) removed
    rows: dict[str, int] = field(default_factory=dict)  # table -> rows removed
    registered: bool = False  # the camera had a registry entry (a row in `cameras`)

    @property
    def total_objects(self) -> int:
        return sum(self.objects.values())

    @property
    def total_rows(self) -> int:
        return sum(self.rows.values())

    def to_json(self) -> dict[str, Any]:
        return {
            "camera_id": self.camera_id,
            "dry_run": self.dry_run,
            "registered": self.registered,
            "objects": self.objects,
            "rows": self.rows,
            "total_objects": self.total_objects,
            "total_rows": self.total_rows,
        }


# ---- pure ----------------------------------------------------------------------------------------------------------


def camera_prefixes(top_level: Iterable[str], camera_id: str) -> list[str]:
    """``<kind>/<camera>/`` for every top-level folder of a bucket (``frames/``, ``audio/``, ``evidence/``, ...),
    and ``<camera>/`` itself."""
    folders = {f"{folder.rstrip('/')}/{camera_id}/" for folder in top_level if folder.endswith("/")}
    return sorted(folders | {f"{camera_id}/"})


def object_refs(value: Any, buckets: Iterable[str]) -> set[tuple[str, str]]:
    """Every ``{"bucket": ..., "key": ...}`` in a JSON value (an anomaly's evidence) that lies in ``buckets``."""
    allowed = set(buckets)
    found: set[tuple[str, str]] = set()
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            bucket, key = item.get("bucket"), item.get("key")
            if isinstance(bucket, str) and isinstance(key, str) and bucket in allowed and key:
                found.add((bucket, key))
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return found


def purge_order(tables: Iterable[TableKeys]) -> tuple[list[TableKeys], list[TableKeys]]:
    """(tables purged by the camera's anomaly ids, tables purged by camera id): the first group goes first, while
    the anomalies that name their ids still exist; ``cameras`` comes last."""
    by_anomaly = sorted((t for t in tables if t.anomaly and not t.camera), key=lambda t: t.name)
    by_camera = sorted((t for t in tables if t.camera), key=lambda t: (t.name == "cameras", t.name))
    return by_anomaly, by_camera


# ---- PostgreSQL ----------------------------------------------------------------------------------------------------

_KEY_TABLES = """
select c.table_name,
       bool_or(c.column_name = %(camera)s) as has_camera,
       bool_or(c.column_name = %(anomaly)s) as has_anomaly
from information_schema.columns c
join information_schema.tables t on t.table_schema = c.table_schema and t.table_name = c.table_name
where c.table_schema = current_schema() and t.table_type = 'BASE TABLE' and c.column_name in (%(camera)s, %(anomaly)s)
group by c.table_name
"""


def key_tables(conn: psycopg.Connection) -> list[TableKeys]:
    rows = conn.execute(_KEY_TABLES, {"camera": CAMERA_COLUMN, "anomaly": ANOMALY_COLUMN}).fetchall()
    return [TableKeys(str(name), bool(camera), bool(anomaly)) for name, camera, anomaly in rows]


def camera_evidence(conn: psycopg.Connection, camera_id: str) -> list[Any]:
    """The evidence of the camera's anomalies (JSON), for the objects it names."""
    if ANOMALIES_TABLE not in {t.name for t in key_tables(conn)}:
        return []
    query = sql.SQL("select evidence from {} where {} = %s").format(
        sql.Identifier(ANOMALIES_TABLE), sql.Identifier(CAMERA_COLUMN)
    )
    return [row[0] for row in conn.execute(query, (camera_id,))]


def purge_rows(conn: psycopg.Connection, camera_id: str, *, dry_run: bool) -> dict[str, int]:
    """Deletes (or, with ``dry_run``, counts) the camera's rows in every table; table -> rows. Commits on success."""
    by_anomaly, by_camera = purge_order(key_tables(conn))
    anomaly_ids: set[Any] = set()
    for table in by_camera:
        if table.anomaly:
            query = sql.SQL("select distinct {} from {} where {} = %s").format(
                sql.Identifier(ANOMALY_COLUMN), sql.Identifier(table.name), sql.Identifier(CAMERA_COLUMN)
            )
            anomaly_ids.update(row[0] for row in conn.execute(query, (camera_id,)))
    steps: list[tuple[TableKeys, str, str, object]] = [
        (t, ANOMALY_COLUMN, "= any(%s)", list(anomaly_ids)) for t in by_anomaly
    ]
    steps += [(t, CAMERA_COLUMN, "= %s", camera_id) for t in by_camera]
    counts: dict[str, int] = {}
    for table, column, test, value in steps:
        where = sql.SQL("{} where {} " + test).format(sql.Identifier(table.name), sql.Identifier(column))
        if dry_run:
            row = conn.execute(sql.SQL("select count(*) from ") + where, (value,)).fetchone()
            counts[table.name] = int(row[0]) if row else 0
        else:
            counts[table.name] = conn.execute(sql.SQL("delete from ") + where, (value,)).rowcount
    if dry_run:
        conn.rollback()
    else:
        conn.commit()
    return counts


# ---- object store --------------------------------------------------------------------------------------------------


ObjectVersion = tuple[str, str | None]  # key, version id (None where the bucket is not versioned)


def camera_objects(client: Minio, bucket: str, camera_id: str) -> Iterator[ObjectVersion]:
    """Every version of every object under ``<kind>/<camera>/`` in ``bucket``."""
    if not client.bucket_exists(bucket):
        return
    top = [o.object_name for o in client.list_objects(bucket) if o.is_dir and o.object_name]
    for prefix in camera_prefixes(top, camera_id):
        for obj in client.list_objects(bucket, prefix=prefix, recursive=True, include_version=True):
            if obj.object_name:
                yield obj.object_name, obj.version_id


def named_objects(client: Minio, refs: Iterable[tuple[str, str]]) -> Iterator[tuple[str, ObjectVersion]]:
    """Every version of the objects named by ``refs`` (bucket, key) that still exist."""
    for bucket, key in sorted(refs):
        if not client.bucket_exists(bucket):
            continue
        for obj in client.list_objects(bucket, prefix=key, include_version=True):
            if obj.object_name == key:
                yield bucket, (key, obj.version_id)


def delete_objects(client: Minio, bucket: str, objects: Iterable[ObjectVersion]) -> int:
    """Deletes ``objects`` (batched by the SDK); raises when the store refuses any of them."""
    batch = [DeleteObject(key, version) for key, version in objects]
    if not batch:
        return 0
    errors = list(client.remove_objects(bucket, batch))
    if errors:
        raise RuntimeError(f"{len(errors)} objects of {bucket} not deleted, e.g. {errors[0].name}: {errors[0].message}")
    return len(batch)


def purge_camera(
    client: Minio, dsn: str, buckets: Iterable[str], camera_id: str, *, dry_run: bool = False
) -> PurgeReport:
    """Objects first (the rows name some of them), then the rows in one transaction."""
    names = sorted(set(buckets))
    report = PurgeReport(camera_id, dry_run)
    with connect(dsn) as conn:
        refs = set().union(*(object_refs(e, names) for e in camera_evidence(conn, camera_id)))
        pending: dict[str, set[ObjectVersion]] = {b: set(camera_objects(client, b, camera_id)) for b in names}
        for bucket, version in named_objects(client, refs):
            pending[bucket].add(version)
        for bucket, versions in pending.items():
            report.objects[bucket] = (
                len(versions) if dry_run else delete_objects(client, bucket, sorted(versions, key=str))
            )
        report.rows = purge_rows(conn, camera_id, dry_run=dry_run)
    report.registered = report.rows.get("cameras", 0) > 0
    return report
