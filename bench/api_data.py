"""The benchmark's dataset: a dedicated database bulk-loaded with synthetic anomalies through COPY.

Rows look like the projection's: 50 cameras, 30 days, skewed severities, one or two kinds, a small
evidence document. Generation is seeded, so every run loads the same rows.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from psycopg.types.json import Jsonb

from anomaly_core.db import migrate
from schemas.records import AnomalyKind, Severity

CAMERAS = [f"bench-cam-{i:02d}" for i in range(50)]
KINDS = [k.value for k in AnomalyKind]
SEVERITIES = [s.value for s in Severity]
SEVERITY_WEIGHTS = [50, 30, 15, 5]
RULES_VERSIONS = ["rules-1", "rules-2"]
SPAN = timedelta(days=30)

COLUMNS = (
    "anomaly_id",
    "camera_id",
    "revision",
    "state",
    "incident_start",
    "incident_end",
    "window_start",
    "window_end",
    "severity",
    "kinds",
    "score",
    "reasons",
    "evidence",
    "lineage",
    "transcript",
    "caption",
    "rules_version",
    "fusion_version",
    "decided_at",
)


def database_dsn(dsn: str, dbname: str) -> str:
    return make_conninfo(dsn, dbname=dbname)


def bench_database_name(dsn: str) -> str:
    return f"{conninfo_to_dict(dsn).get('dbname') or 'anomaly'}_bench_api"


def ensure_database(dsn: str, dbname: str, *, fresh: bool) -> str:
    """Creates (or with ``fresh``, recreates) ``dbname`` next to ``dsn``'s database; returns its DSN."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        exists = conn.execute("select 1 from pg_database where datname = %s", (dbname,)).fetchone()
        if exists and fresh:
            conn.execute(sql.SQL("drop database {} with (force)").format(sql.Identifier(dbname)))
            exists = None
        if not exists:
            conn.execute(sql.SQL("create database {}").format(sql.Identifier(dbname)))
    target = database_dsn(dsn, dbname)
    migrate(target)
    return target


def row_count(dsn: str) -> int:
    with psycopg.connect(dsn) as conn:
        row = conn.execute("select count(*) from anomalies").fetchone()
    return int(row[0]) if row else 0


def synthetic_rows(n: int, end: datetime, seed: int = 7) -> Iterator[tuple[object, ...]]:
    rng = random.Random(seed)
    start = end - SPAN
    span_s = SPAN.total_seconds()
    for i in range(n):
        camera = CAMERAS[rng.randrange(len(CAMERAS))]
        t0 = start + timedelta(seconds=rng.random() * span_s)
        t1 = t0 + timedelta(seconds=rng.uniform(1, 40))
        severity = rng.choices(SEVERITIES, SEVERITY_WEIGHTS)[0]
        kinds = rng.sample(KINDS, rng.choice((1, 1, 2)))
        key = f"{camera}/{i:08x}.jpg"
        frame = {
            "bucket": "anomaly-frames",
            "key": key,
            "sha256": f"{i:064x}",
            "size_bytes": 48_000,
            "content_type": "image/jpeg",
        }
        evidence = {"frames": [frame], "best_frame": frame, "audio": [], "transcript_excerpt": None, "caption": None}
        yield (
            uuid.UUID(int=rng.getrandbits(128), version=4),
            camera,
            rng.randint(1, 4),
            rng.choice(("OPEN", "ONGOING", "CLOSED", "CLOSED")),
            t0,
            t1,
            t0,
            t1,
            severity,
            kinds,
            round(rng.uniform(0.5, 1.0), 3),
            [f"{kinds[0].lower()} score over threshold"],
            Jsonb(evidence),
            Jsonb([]),
            "help" if "DISTRESS_SPEECH" in kinds else None,
            None,
            RULES_VERSIONS[0] if rng.random() < 0.8 else RULES_VERSIONS[1],
            "bench",
            t1 + timedelta(seconds=1),
        )


def load(dsn: str, n: int, *, advance: Callable[[int], None], chunk: int = 50_000) -> datetime:
    """Replaces the table's rows with ``n`` synthetic ones via COPY; returns the newest possible start."""
    end = datetime.now(UTC).replace(microsecond=0)
    copy_sql = sql.SQL("copy anomalies ({}) from stdin").format(sql.SQL(", ").join(map(sql.Identifier, COLUMNS)))
    with psycopg.connect(dsn) as conn:
        # Secondary indexes are built once after the load (several times faster than maintained row by row);
        # their definitions come from the catalog, so they stay exactly what the migrations declare.
        indexes = conn.execute(
            "select indexname, indexdef from pg_indexes where tablename = 'anomalies'"
            " and indexname not in (select conname from pg_constraint where conrelid = 'anomalies'::regclass)"
        ).fetchall()
        for name, _ in indexes:
            conn.execute(sql.SQL("drop index {}").format(sql.Identifier(name)))
        conn.execute("truncate anomalies")
        with conn.cursor() as cur, cur.copy(copy_sql) as copy:
            for i, row in enumerate(synthetic_rows(n, end), start=1):
                copy.write_row(row)
                if i % chunk == 0:
                    advance(chunk)
        advance(n % chunk)
        for _, definition in indexes:
            conn.execute(definition)
        conn.commit()
        conn.autocommit = True
        conn.execute("vacuum analyze anomalies")
    return end


def newest_start(dsn: str) -> datetime:
    with psycopg.connect(dsn) as conn:
        row = conn.execute("select max(incident_start) from anomalies").fetchone()
    assert row is not None and row[0] is not None
    value: datetime = row[0]
    return value
