"""The API's PostgreSQL pool: short timeouts, and every connection failure mapped to a 503.

The pool opens without waiting, so the process starts (and stays up) while PostgreSQL is down;
requests that need the database then answer 503 until it is back.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import psycopg
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from api.errors import ApiError, ServiceUnavailableError

logger = logging.getLogger(__name__)


class Database:
    def __init__(self, dsn: str, *, pool_size: int, timeout_s: float, statement_timeout_ms: int) -> None:
        self._timeout_s = timeout_s
        self._pool = AsyncConnectionPool(
            dsn,
            min_size=1,
            max_size=max(1, pool_size),
            open=False,
            timeout=timeout_s,  # how long a request waits for a connection before it gets a 503
            reconnect_timeout=30.0,
            name="api",
            kwargs={
                "autocommit": True,
                "connect_timeout": max(1, round(timeout_s)),
                "options": f"-c statement_timeout={statement_timeout_ms} -c timezone=UTC",
                "application_name": "anomaly-api",
            },
        )

    async def open(self) -> None:
        await self._pool.open(wait=False)

    async def close(self) -> None:
        await self._pool.close(timeout=2.0)

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[psycopg.AsyncConnection]:
        """A pooled connection; ``ServiceUnavailableError('postgres')`` when the server cannot serve."""
        try:
            async with self._pool.connection() as conn:
                yield conn
        except (PoolTimeout, psycopg.OperationalError) as exc:
            # OperationalError covers lost connections and statement timeouts (QueryCanceled).
            logger.warning("postgres unavailable: %s", type(exc).__name__)
            raise ServiceUnavailableError("postgres") from exc
        except psycopg.DataError as exc:
            # A value PostgreSQL cannot take (a NUL character in a text, a number out of range): the caller's input.
            # The input is not echoed back (see api.errors).
            detail = "a parameter holds a value PostgreSQL cannot take (e.g. a NUL character)"
            raise ApiError(422, "invalid_request", detail) from exc
        except psycopg.errors.UndefinedTable as exc:
            logger.error("postgres schema is not migrated: %s", exc)
            raise ServiceUnavailableError("postgres (schema not migrated)") from exc

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[psycopg.AsyncConnection]:
        async with self.connection() as conn, conn.transaction():
            yield conn

    async def ping(self) -> None:
        async with self.connection() as conn:
            await conn.execute("select 1")
