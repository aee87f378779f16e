"""Client of a Confluent-compatible schema registry (Apicurio's ccompat API in the dev stack, Confluent in AWS).

Plain REST through httpx. Registered ids and fetched schemas are immutable, so both are cached for the life
of the client. An unreachable registry (connection error, timeout, 5xx) is a ``TransientError``: the caller
retries and keeps its offset.
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import httpx

from anomaly_core.errors import TransientError

log = logging.getLogger(__name__)

BACKWARD_TRANSITIVE = "BACKWARD_TRANSITIVE"
_CONTENT_TYPE = "application/vnd.schemaregistry.v1+json"


class SchemaRegistryError(Exception):
    """The registry answered with a definite refusal (not an outage)."""

    def __init__(self, message: str, *, status: int, error_code: int | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.error_code = error_code


class IncompatibleSchemaError(SchemaRegistryError):
    """The schema breaks the subject's compatibility rule (HTTP 409)."""


class UnknownSchemaError(SchemaRegistryError):
    """No schema (or subject) with that id/name (HTTP 404)."""


def _through_races(call: Callable[[], Any], attempts: int = 10) -> Any:
    """``call()``, again when the registry answers 409 "already exists": two services creating the same new
    subject (or its compatibility rule) at once; the loser's request succeeds when sent again, once the winner's
    write is committed (up to ≈ 5 s on a fresh registry under the load of every service starting)."""
    for attempt in range(attempts):
        try:
            return call()
        except IncompatibleSchemaError as exc:
            if "already exists" not in str(exc) or attempt == attempts - 1:
                raise
            time.sleep(0.1 * (attempt + 1))
    raise AssertionError("unreachable")


def subject_for(topic: str) -> str:
    """TopicNameStrategy: the value schema of ``topic`` lives under ``<topic>-value``."""
    return f"{topic}-value"


def topic_of(subject: str) -> str | None:
    """The topic a TopicNameStrategy subject (``<topic>-value`` or ``<topic>-key``) belongs to; None for others."""
    for suffix in ("-value", "-key"):
        if subject.endswith(suffix) and len(subject) > len(suffix):
            return subject[: -len(suffix)]
    return None


def canonical_json(schema: dict[str, Any]) -> str:
    """A stable text form of a schema, used as the cache key and as the registered text."""
    return json.dumps(schema, sort_keys=True, separators=(",", ":"))


class RegistryClient:
    """Registers and fetches Avro schemas; sets each subject we write to BACKWARD_TRANSITIVE."""

    def __init__(self, url: str, *, timeout_s: float = 5.0, compatibility: str = BACKWARD_TRANSITIVE) -> None:
        self.url = url.rstrip("/")
        self.compatibility = compatibility
        self._http = httpx.Client(
            base_url=self.url, timeout=timeout_s, headers={"Accept": "application/json", "Content-Type": _CONTENT_TYPE}
        )
        self._ids: dict[tuple[str, str], int] = {}
        self._schemas: dict[int, dict[str, Any]] = {}
        self._configured: set[str] = set()
        self._lock = threading.Lock()

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> RegistryClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- writing side -------------------------------------------------------------------------------------------

    def register(self, subject: str, schema: dict[str, Any]) -> int:
        """The id of ``schema`` under ``subject``, registering it (once per client) if needed.

        Raises IncompatibleSchemaError when the subject's rule refuses it, TransientError on an outage.
        """
        text = canonical_json(schema)
        cached = self._ids.get((subject, text))
        if cached is not None:
            return cached
        with self._lock:
            cached = self._ids.get((subject, text))
            if cached is not None:
                return cached
            schema_id = self._post_version(subject, text)
            self._ids[(subject, text)] = schema_id
            self._schemas.setdefault(schema_id, json.loads(text))
            if subject not in self._configured:
                # Set after the first version exists: some registries only keep rules for existing subjects.
                self.set_compatibility(subject, self.compatibility)
                self._configured.add(subject)
        log.debug("schema registered subject=%s id=%s", subject, schema_id)
        return schema_id

    def _post_version(self, subject: str, text: str) -> int:
        path = f"/subjects/{quote(subject, safe='')}/versions"
        return int(_through_races(lambda: self._request("POST", path, payload={"schema": text}))["id"])

    def set_compatibility(self, subject: str, level: str = BACKWARD_TRANSITIVE) -> None:
        path = f"/config/{quote(subject, safe='')}"
        _through_races(lambda: self._request("PUT", path, payload={"compatibility": level}))

    def get_compatibility(self, subject: str) -> str | None:
        try:
            body = self._request("GET", f"/config/{quote(subject, safe='')}")
        except UnknownSchemaError:
            return None
        level = body.get("compatibilityLevel") or body.get("compatibility")
        return str(level) if level else None

    def is_compatible(self, subject: str, schema: dict[str, Any]) -> bool:
        """Whether ``schema`` could be registered as the next version of ``subject`` (True for a new subject)."""
        path = f"/compatibility/subjects/{quote(subject, safe='')}/versions/latest"
        try:
            body = self._request("POST", path, payload={"schema": canonical_json(schema)})
        except UnknownSchemaError:
            return True
        return bool(body.get("is_compatible"))

    # --- reading side -------------------------------------------------------------------------------------------

    def schema(self, schema_id: int) -> dict[str, Any]:
        """The schema registered under ``schema_id``; raises UnknownSchemaError if there is none."""
        cached = self._schemas.get(schema_id)
        if cached is not None:
            return cached
        body = self._request("GET", f"/schemas/ids/{schema_id}")
        schema: dict[str, Any] = json.loads(body["schema"])
        self._schemas[schema_id] = schema
        return schema

    def subjects(self) -> list[str]:
        return [str(s) for s in self._request("GET", "/subjects")]

    def versions(self, subject: str) -> list[int]:
        return [int(v) for v in self._request("GET", f"/subjects/{quote(subject, safe='')}/versions")]

    # --- housekeeping -------------------------------------------------------------------------------------------

    def delete_subject(self, subject: str) -> bool:
        """Deletes ``subject`` with all its versions for good (a soft delete, then the permanent one); False when
        there was no such subject."""
        path = f"/subjects/{quote(subject, safe='')}"
        try:
            self._request("DELETE", path)
        except UnknownSchemaError:
            return False
        with contextlib.suppress(UnknownSchemaError):  # registries without soft deletes have nothing left
            self._request("DELETE", path + "?permanent=true")
        with self._lock:
            self._ids = {key: value for key, value in self._ids.items() if key[0] != subject}
            self._configured.discard(subject)
        return True

    # --- transport ----------------------------------------------------------------------------------------------

    def _request(self, method: str, path: str, *, payload: Any = None) -> Any:
        try:
            response = self._http.request(method, path, json=payload)
        except httpx.TransportError as exc:
            raise TransientError(f"schema registry {self.url} unreachable: {exc!r}") from exc
        if response.status_code >= 500:
            raise TransientError(f"schema registry {method} {path}: HTTP {response.status_code} {response.text[:200]}")
        if response.status_code >= 400:
            raise _refusal(method, path, response)
        return response.json() if response.content else {}


def _refusal(method: str, path: str, response: httpx.Response) -> SchemaRegistryError:
    try:
        body = response.json()
    except ValueError:
        body = {}
    code = body.get("error_code") if isinstance(body, dict) else None
    message = f"schema registry {method} {path}: HTTP {response.status_code} {body or response.text[:200]}"
    if response.status_code == 409:
        return IncompatibleSchemaError(message, status=409, error_code=code)
    if response.status_code == 404:
        return UnknownSchemaError(message, status=404, error_code=code)
    return SchemaRegistryError(message, status=response.status_code, error_code=code)
