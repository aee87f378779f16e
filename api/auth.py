"""Who is calling: API keys (hashed at rest) and optional HS256 JWT bearer tokens, roles and camera scopes.

Keys look like ``ak_<43 urlsafe chars>``; the database keeps only HMAC-SHA256(pepper, key), which is
indexed, so a lookup is one equality probe. JWTs are told apart by their three dot-separated parts.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum

import jwt

from api.errors import forbidden, unauthorized

KEY_PREFIX = "ak_"
_MAX_TOKEN_CHARS = 4096


class Role(StrEnum):
    VIEWER = "viewer"  # reads anomalies, cameras, evidence and the live feed
    OPERATOR = "operator"  # also acknowledges anomalies
    ADMIN = "admin"  # also manages API keys

    @property
    def rank(self) -> int:
        return _RANKS[self]


_RANKS = {Role.VIEWER: 0, Role.OPERATOR: 1, Role.ADMIN: 2}


@dataclass(frozen=True, slots=True)
class Principal:
    """An authenticated caller. ``cameras`` None means every camera."""

    subject: str  # "key:<id>" or "jwt:<sub>"; also the rate-limit bucket
    name: str
    role: Role
    cameras: frozenset[str] | None

    def has_role(self, needed: Role) -> bool:
        return self.role.rank >= needed.rank

    def can_see(self, camera_id: str) -> bool:
        return self.cameras is None or camera_id in self.cameras

    def visible(self, requested: Iterable[str] | None) -> frozenset[str] | None:
        """Cameras a query may touch: the request narrowed to the allow-list; 403 when asking for others."""
        wanted = frozenset(requested) if requested else None
        if wanted is None:
            return self.cameras
        denied = sorted(c for c in wanted if not self.can_see(c))
        if denied:
            raise forbidden(f"this key may not read camera(s): {', '.join(denied)}")
        return wanted

    def require(self, needed: Role) -> None:
        if not self.has_role(needed):
            raise forbidden(f"role {needed.value} or higher is required (this key is {self.role.value})")

    def require_camera(self, camera_id: str) -> None:
        if not self.can_see(camera_id):
            raise forbidden(f"this key may not read camera {camera_id}")


@dataclass(frozen=True, slots=True)
class KeyRecord:
    """A row of ``api_keys`` (without the hash)."""

    id: str
    name: str
    role: Role
    cameras: list[str] | None
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None


def generate_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


def hash_key(key: str, pepper: str) -> str:
    return hmac.new(pepper.encode(), key.encode(), hashlib.sha256).hexdigest()


def looks_like_jwt(token: str) -> bool:
    return token.count(".") == 2 and not token.startswith(KEY_PREFIX)


def principal_from_key(record: KeyRecord, now: datetime) -> Principal:
    """The caller behind a stored key, or 401 when the key is revoked or expired."""
    if record.revoked_at is not None and record.revoked_at <= now:
        raise unauthorized("API key revoked")
    if record.expires_at is not None and record.expires_at <= now:
        raise unauthorized("API key expired")
    cameras = frozenset(record.cameras) if record.cameras is not None else None
    return Principal(subject=f"key:{record.id}", name=record.name, role=record.role, cameras=cameras)


def issue_jwt(
    secret: str, subject: str, role: Role, *, cameras: list[str] | None = None, ttl: timedelta, now: datetime
) -> str:
    """Mints a token this API accepts (used by tests, docs and identity bridges)."""
    claims: dict[str, object] = {"sub": subject, "role": role.value, "iat": now, "exp": now + ttl}
    if cameras is not None:
        claims["cameras"] = cameras
    return jwt.encode(claims, secret, algorithm="HS256")


def principal_from_jwt(token: str, secret: str | None, now: datetime) -> Principal:
    if not secret:
        raise unauthorized("bearer tokens are not enabled on this server")
    try:
        claims = jwt.decode(
            token,
            secret,
            algorithms=["HS256"],  # pinned: never let the token pick its own algorithm
            # Expiry is checked below against ``now`` (the library would read the wall clock itself).
            options={"require": ["exp", "sub"], "verify_exp": False, "verify_iat": False, "verify_nbf": False},
        )
    except jwt.InvalidTokenError as exc:
        raise unauthorized("invalid token") from exc
    exp = claims["exp"]
    if not isinstance(exp, int | float) or isinstance(exp, bool):
        raise unauthorized("invalid token")
    if exp <= now.timestamp():
        raise unauthorized("token expired")
    nbf = claims.get("nbf")
    if isinstance(nbf, int | float) and nbf > now.timestamp():
        raise unauthorized("token not yet valid")
    try:
        role = Role(claims.get("role", ""))
    except ValueError as exc:
        raise unauthorized("token has no valid role") from exc
    cameras = claims.get("cameras")
    if cameras is not None and (not isinstance(cameras, list) or not all(isinstance(c, str) for c in cameras)):
        raise unauthorized("token cameras claim must be a list of strings")
    scope = frozenset(cameras) if cameras is not None else None
    return Principal(subject=f"jwt:{claims['sub']}", name=str(claims["sub"]), role=role, cameras=scope)


KeyLookup = Callable[[str], Awaitable[KeyRecord | None]]


class Authenticator:
    """Turns a presented credential into a ``Principal`` or a 401.

    Key lookups (by hash) are cached for ``cache_seconds``, so a busy key costs no database round trip;
    revocation therefore takes effect within that time.
    """

    def __init__(
        self,
        lookup: KeyLookup,
        *,
        pepper: str,
        jwt_secret: str | None,
        cache_seconds: float,
        clock: Callable[[], float] = time.monotonic,
        max_cached: int = 10_000,
    ) -> None:
        self._lookup = lookup
        self._pepper = pepper
        self._jwt_secret = jwt_secret
        self._ttl = cache_seconds
        self._clock = clock
        self._max_cached = max_cached
        self._cache: dict[str, tuple[float, KeyRecord | None]] = {}

    async def authenticate(self, token: str | None) -> Principal:
        if not token:
            raise unauthorized("credentials required: send 'Authorization: Bearer <key>' or 'X-API-Key: <key>'")
        if len(token) > _MAX_TOKEN_CHARS:
            raise unauthorized("invalid credentials")
        now = datetime.now(UTC)
        if looks_like_jwt(token):
            return principal_from_jwt(token, self._jwt_secret, now)
        record = await self._record(hash_key(token, self._pepper))
        if record is None:
            raise unauthorized("invalid credentials")
        return principal_from_key(record, now)

    async def _record(self, digest: str) -> KeyRecord | None:
        now = self._clock()
        cached = self._cache.get(digest)
        if cached is not None and cached[0] > now:
            return cached[1]
        record = await self._lookup(digest)
        if self._ttl > 0:
            if len(self._cache) >= self._max_cached:
                self._cache.clear()  # crude but bounded; a refill costs one query per active key
            self._cache[digest] = (now + self._ttl, record)
        return record
