"""The ``api_keys`` table: the SQL, run from the CLI (sync) and from the API (async)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, TypedDict, Unpack

import psycopg
from psycopg.rows import dict_row

from api.auth import KeyRecord, Role, generate_key, hash_key

INSERT = """
    insert into api_keys (name, hash, role, cameras, expires_at)
    values (%(name)s, %(hash)s, %(role)s, %(cameras)s, now() + %(ttl)s::interval)
    returning id::text as id, name, role, cameras, created_at, expires_at, revoked_at"""
BY_HASH = """
    select id::text as id, name, role, cameras, created_at, expires_at, revoked_at
    from api_keys where hash = %s"""
LIST = """
    select id::text as id, name, role, cameras, created_at, expires_at, revoked_at
    from api_keys order by created_at, id"""
REVOKE = """
    update api_keys set revoked_at = coalesce(revoked_at, now()) where id = %s
    returning id::text as id, name, role, cameras, created_at, expires_at, revoked_at"""


@dataclass(frozen=True, slots=True)
class NewKey:
    """A freshly created key: ``secret`` is shown once and never stored."""

    record: KeyRecord
    secret: str


class KeySpec(TypedDict):
    """What a new key is made of (the keyword arguments of ``create`` and ``create_async``, both required)."""

    name: str
    role: Role
    cameras: Sequence[str] | None
    expires_in: timedelta | None
    pepper: str


def _record(row: dict[str, Any]) -> KeyRecord:
    return KeyRecord(
        id=row["id"],
        name=row["name"],
        role=Role(row["role"]),
        cameras=list(row["cameras"]) if row["cameras"] is not None else None,
        created_at=row["created_at"],
        expires_at=row["expires_at"],
        revoked_at=row["revoked_at"],
    )


def _insert_params(
    name: str, role: Role, cameras: Sequence[str] | None, expires_in: timedelta | None, pepper: str
) -> tuple[str, dict[str, Any]]:
    secret = generate_key()
    params = {
        "name": name,
        "hash": hash_key(secret, pepper),
        "role": role.value,
        "cameras": list(cameras) if cameras else None,
        "ttl": expires_in,  # null interval -> null expires_at (never expires)
    }
    return secret, params


def _valid_uuid(key_id: str) -> bool:
    try:
        uuid.UUID(key_id)
    except ValueError:
        return False
    return True


# --- sync (CLI) ---------------------------------------------------------------------------------------------


def create(conn: psycopg.Connection, **key: Unpack[KeySpec]) -> NewKey:
    secret, params = _insert_params(**key)
    with conn.cursor(row_factory=dict_row) as cur:
        row = cur.execute(INSERT, params).fetchone()
    conn.commit()
    assert row is not None
    return NewKey(record=_record(row), secret=secret)


def list_keys(conn: psycopg.Connection) -> list[KeyRecord]:
    with conn.cursor(row_factory=dict_row) as cur:
        return [_record(r) for r in cur.execute(LIST).fetchall()]


def revoke(conn: psycopg.Connection, key_id: str) -> KeyRecord | None:
    if not _valid_uuid(key_id):
        return None
    with conn.cursor(row_factory=dict_row) as cur:
        row = cur.execute(REVOKE, (key_id,)).fetchone()
    conn.commit()
    return _record(row) if row else None


# --- async (API) --------------------------------------------------------------------------------------------


async def find_by_hash(conn: psycopg.AsyncConnection, digest: str) -> KeyRecord | None:
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(BY_HASH, (digest,))
        row = await cur.fetchone()
    return _record(row) if row else None


async def create_async(conn: psycopg.AsyncConnection, **key: Unpack[KeySpec]) -> NewKey:
    secret, params = _insert_params(**key)
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(INSERT, params)
        row = await cur.fetchone()
    assert row is not None
    return NewKey(record=_record(row), secret=secret)


async def list_keys_async(conn: psycopg.AsyncConnection) -> list[KeyRecord]:
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(LIST)
        return [_record(r) for r in await cur.fetchall()]


async def revoke_async(conn: psycopg.AsyncConnection, key_id: str) -> KeyRecord | None:
    if not _valid_uuid(key_id):
        return None
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(REVOKE, (key_id,))
        row = await cur.fetchone()
    return _record(row) if row else None
