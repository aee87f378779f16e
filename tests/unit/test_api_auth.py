"""Credentials: key hashing, JWT checks, roles and camera scopes, the lookup cache."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import jwt
import pytest

from api.auth import (
    Authenticator,
    KeyRecord,
    Principal,
    Role,
    generate_key,
    hash_key,
    issue_jwt,
    looks_like_jwt,
    principal_from_jwt,
    principal_from_key,
)
from api.errors import ApiError

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
SECRET = "s3cret-for-tests-only-" + "0" * 48  # 64+ bytes, as HS512 wants for the wrong-algorithm case


def record(**kw: object) -> KeyRecord:
    base: dict[str, object] = {
        "id": "k1",
        "name": "ops",
        "role": Role.OPERATOR,
        "cameras": None,
        "created_at": NOW - timedelta(days=1),
        "expires_at": None,
        "revoked_at": None,
    }
    return KeyRecord(**(base | kw))  # type: ignore[arg-type]


def status_of(exc: pytest.ExceptionInfo[ApiError]) -> int:
    return exc.value.status


def test_generated_keys_are_unique_prefixed_and_hash_depends_on_pepper() -> None:
    a, b = generate_key(), generate_key()
    assert a != b and a.startswith("ak_") and len(a) > 40
    assert hash_key(a, "p1") == hash_key(a, "p1")
    assert hash_key(a, "p1") != hash_key(a, "p2")
    assert not looks_like_jwt(a)


def test_roles_are_ordered() -> None:
    admin = Principal("key:1", "a", Role.ADMIN, None)
    viewer = Principal("key:2", "v", Role.VIEWER, None)
    assert admin.has_role(Role.OPERATOR) and admin.has_role(Role.VIEWER)
    assert not viewer.has_role(Role.OPERATOR)
    with pytest.raises(ApiError) as exc:
        viewer.require(Role.ADMIN)
    assert status_of(exc) == 403


def test_camera_scope_narrows_and_refuses_others() -> None:
    scoped = Principal("key:1", "a", Role.VIEWER, frozenset({"cam-1", "cam-2"}))
    assert scoped.visible(None) == frozenset({"cam-1", "cam-2"})
    assert scoped.visible(["cam-1"]) == frozenset({"cam-1"})
    with pytest.raises(ApiError) as exc:
        scoped.visible(["cam-1", "cam-9"])
    assert status_of(exc) == 403 and "cam-9" in exc.value.detail
    everything = Principal("key:2", "b", Role.VIEWER, None)
    assert everything.visible(None) is None and everything.can_see("any")


def test_revoked_and_expired_keys_are_401() -> None:
    assert principal_from_key(record(), NOW).subject == "key:k1"
    for rec, words in (
        (record(revoked_at=NOW - timedelta(seconds=1)), "revoked"),
        (record(expires_at=NOW), "expired"),
    ):
        with pytest.raises(ApiError) as exc:
            principal_from_key(rec, NOW)
        assert status_of(exc) == 401 and words in exc.value.detail
    assert principal_from_key(record(expires_at=NOW + timedelta(seconds=1)), NOW).role is Role.OPERATOR


def test_jwt_round_trip_with_camera_claim() -> None:
    token = issue_jwt(SECRET, "alice", Role.VIEWER, cameras=["cam-1"], ttl=timedelta(minutes=5), now=NOW)
    assert looks_like_jwt(token)
    principal = principal_from_jwt(token, SECRET, NOW)
    assert principal == Principal("jwt:alice", "alice", Role.VIEWER, frozenset({"cam-1"}))


def _claims(**kw: object) -> dict[str, object]:
    return {"sub": "bob", "role": "admin", "exp": NOW + timedelta(minutes=1)} | kw


@pytest.mark.parametrize(
    ("token", "message"),
    [
        (jwt.encode(_claims(), "another-secret-of-sufficient-length!!", algorithm="HS256"), "invalid token"),
        (jwt.encode(_claims(exp=NOW - timedelta(seconds=1)), SECRET, algorithm="HS256"), "expired"),
        (jwt.encode({"sub": "bob", "role": "admin"}, SECRET, algorithm="HS256"), "invalid token"),
        (jwt.encode(_claims(role="root"), SECRET, algorithm="HS256"), "role"),
        (jwt.encode(_claims(cameras="cam-1"), SECRET, algorithm="HS256"), "cameras"),
        (jwt.encode(_claims(), SECRET, algorithm="HS512"), "invalid token"),
        (jwt.encode(_claims(), None, algorithm="none"), "invalid token"),
        (jwt.encode(_claims(nbf=NOW + timedelta(minutes=1)), SECRET, algorithm="HS256"), "not yet valid"),
        ("a.b.c", "invalid token"),
    ],
)
def test_bad_jwts_are_401(token: str, message: str) -> None:
    with pytest.raises(ApiError) as exc:
        principal_from_jwt(token, SECRET, NOW)
    assert status_of(exc) == 401 and message in exc.value.detail


def test_jwt_refused_when_not_enabled() -> None:
    token = issue_jwt(SECRET, "alice", Role.VIEWER, ttl=timedelta(minutes=5), now=NOW)
    with pytest.raises(ApiError) as exc:
        principal_from_jwt(token, None, NOW)
    assert status_of(exc) == 401


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_authenticator_caches_lookups_including_misses() -> None:
    key = generate_key()
    stored = {hash_key(key, "pep"): record(expires_at=datetime.now(UTC) + timedelta(days=1))}
    calls: list[str] = []

    async def lookup(digest: str) -> KeyRecord | None:
        calls.append(digest)
        return stored.get(digest)

    clock = FakeClock()
    auth = Authenticator(lookup, pepper="pep", jwt_secret=None, cache_seconds=5, clock=clock)

    async def scenario() -> None:
        assert (await auth.authenticate(key)).role is Role.OPERATOR
        await auth.authenticate(key)
        assert len(calls) == 1
        for _ in range(2):
            with pytest.raises(ApiError):
                await auth.authenticate("ak_forged")
        assert len(calls) == 2
        clock.now = 6.0
        await auth.authenticate(key)
        assert len(calls) == 3
        with pytest.raises(ApiError) as exc:
            await auth.authenticate(None)
        assert exc.value.status == 401 and "WWW-Authenticate" in exc.value.headers
        with pytest.raises(ApiError):
            await auth.authenticate("x" * 5000)

    asyncio.run(scenario())
