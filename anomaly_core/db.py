"""PostgreSQL access: connections and the ordered SQL migrations in ``anomaly_core/migrations``."""

from __future__ import annotations

import logging
from pathlib import Path

import psycopg

from anomaly_core.errors import TransientError

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
# One advisory lock id for migrations, so concurrent services starting together migrate once.
_MIGRATION_LOCK = 0x616E6F6D


def connect(dsn: str, *, autocommit: bool = False, timeout_s: float = 5.0) -> psycopg.Connection:
    """Opens a connection, raising ``TransientError`` when the server is unreachable."""
    try:
        return psycopg.connect(dsn, autocommit=autocommit, connect_timeout=max(1, int(timeout_s)))
    except psycopg.OperationalError as exc:
        raise TransientError(f"database unreachable: {exc}".strip()) from exc


def migrate(dsn: str) -> list[str]:
    """Applies migrations not yet recorded in ``schema_migrations``; returns the names applied."""
    applied: list[str] = []
    with connect(dsn) as conn:
        conn.execute("select pg_advisory_lock(%s)", (_MIGRATION_LOCK,))
        try:
            conn.execute(
                "create table if not exists schema_migrations ("
                " name text primary key, applied_at timestamptz not null default now())"
            )
            done = {row[0] for row in conn.execute("select name from schema_migrations")}
            for path in sorted(MIGRATIONS_DIR.glob("*.sql")):
                if path.name in done:
                    continue
                conn.execute(path.read_text())
                conn.execute("insert into schema_migrations(name) values (%s)", (path.name,))
                applied.append(path.name)
            conn.commit()
        finally:
            conn.execute("select pg_advisory_unlock(%s)", (_MIGRATION_LOCK,))
            conn.commit()
    return applied


def close_quietly(conn: psycopg.Connection | None) -> None:
    """Closes ``conn`` (None: nothing to do); a connection that is already broken may fail to close, which is fine."""
    if conn is None:
        return
    try:
        conn.close()
    except psycopg.Error:
        logging.getLogger(__name__).debug("closing a broken connection", exc_info=True)
