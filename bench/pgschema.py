"""A private PostgreSQL schema for a benchmark or a test run: the projection tables without touching anyone's rows."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from anomaly_core.db import connect, migrate


def with_search_path(dsn: str, schema: str) -> str:
    """``dsn`` with ``search_path`` set to ``schema`` (so unqualified tables, migrations included, live there)."""
    parts = urlsplit(dsn)
    query = [(k, v) for k, v in parse_qsl(parts.query) if k != "options"]
    query.append(("options", f"-csearch_path={schema}"))
    return urlunsplit(parts._replace(query=urlencode(query)))


@contextmanager
def private_schema(dsn: str, prefix: str = "run") -> Iterator[str]:
    """Creates a fresh schema with the migrations applied; yields its DSN; drops it afterwards."""
    schema = f"{re.sub(r'[^a-z0-9_]', '_', prefix.lower())}_{uuid.uuid4().hex[:8]}"
    with connect(dsn, autocommit=True) as conn:
        conn.execute(f'create schema "{schema}"')
    scoped = with_search_path(dsn, schema)
    try:
        migrate(scoped)
        yield scoped
    finally:
        with connect(dsn, autocommit=True) as conn:
            conn.execute(f'drop schema if exists "{schema}" cascade')
