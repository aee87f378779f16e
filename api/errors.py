"""Errors the API answers with, and handlers that keep stack traces out of every response.

Every error body has the same shape: ``{"error": <code>, "detail": <message>}`` (``api.models.ErrorBody``), and
``error_responses`` documents it in ``/openapi.json`` for each status an operation can answer.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.models import ErrorBody

logger = logging.getLogger(__name__)

_RETRY_AFTER = {"Retry-After": {"description": "Seconds to wait before trying again.", "schema": {"type": "integer"}}}
_ERRORS: dict[int, dict[str, Any]] = {
    400: {"description": "The request could not be read (e.g. a body that is not JSON)"},
    401: {
        "description": "Credentials missing, unknown, expired or revoked",
        "headers": {"WWW-Authenticate": {"description": 'Bearer realm="anomaly"', "schema": {"type": "string"}}},
    },
    403: {"description": "The caller's role or camera scope does not allow this"},
    404: {"description": "No such resource"},
    409: {"description": "Conflicts with what was done before (e.g. the anomaly is already resolved)"},
    413: {"description": "Request body over API_MAX_BODY_BYTES"},
    422: {"description": "A parameter or the body is invalid; the detail names each problem"},
    429: {"description": "Over the caller's rate limit", "headers": _RETRY_AFTER},
    503: {"description": "PostgreSQL, Kafka or the object store cannot be reached right now", "headers": _RETRY_AFTER},
}
#: What every authenticated operation may answer.
AUTHENTICATED = (401, 403, 422, 429, 503)


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The ``responses=`` of an operation answering ``statuses``, each with the body the handlers really send."""
    return {status: {"model": ErrorBody, **_ERRORS[status]} for status in statuses}


class ApiError(Exception):
    """An error with a status, a stable code and a message safe to show the caller."""

    def __init__(self, status: int, code: str, detail: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(detail)
        self.status = status
        self.code = code
        self.detail = detail
        self.headers = headers or {}


def unauthorized(detail: str) -> ApiError:
    return ApiError(401, "unauthorized", detail, {"WWW-Authenticate": 'Bearer realm="anomaly"'})


def forbidden(detail: str) -> ApiError:
    return ApiError(403, "forbidden", detail)


def not_found(detail: str) -> ApiError:
    return ApiError(404, "not_found", detail)


def invalid(detail: str) -> ApiError:
    return ApiError(422, "invalid_request", detail)


class ServiceUnavailableError(ApiError):
    """A backing service (PostgreSQL, Kafka, the object store) cannot be reached right now."""

    def __init__(self, service: str) -> None:
        super().__init__(503, "unavailable", f"{service} is unavailable, try again shortly", {"Retry-After": "5"})
        self.service = service


def _body(code: str, detail: object) -> dict[str, object]:
    return {"error": code, "detail": detail}


def describe_validation(exc: RequestValidationError) -> str:
    """One readable sentence per problem, e.g. ``query.limit: Input should be less than or equal to 500``."""
    parts = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err.get("loc", ()))
        parts.append(f"{loc}: {err.get('msg', 'invalid value')}")
    return "; ".join(parts) or "invalid request"


async def _api_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    return JSONResponse(_body(exc.code, exc.detail), status_code=exc.status, headers=exc.headers)


async def _validation_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    # The offending input is not echoed back: it may be large or hold a credential.
    return JSONResponse(_body("invalid_request", describe_validation(exc)), status_code=422)


def documented_methods(app: FastAPI, path: str) -> list[str]:
    """The methods ``/openapi.json`` documents for the path template ``path`` matches (empty: none matches)."""
    for template, operations in app.openapi().get("paths", {}).items():
        pattern = "/".join("[^/]+" if p.startswith("{") else re.escape(p) for p in template.split("/"))
        if re.fullmatch(pattern, path):
            return sorted(method.upper() for method in operations)
    return []


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = {400: "bad_request", 404: "not_found", 405: "method_not_allowed", 413: "payload_too_large"}.get(
        exc.status_code, "http_error"
    )
    headers = dict(exc.headers or {})
    if exc.status_code == 405 and (methods := documented_methods(request.app, request.url.path)):
        # Every method of the path, not only those of the first route the router tried.
        headers["Allow"] = ", ".join(methods)
    return JSONResponse(_body(code, exc.detail), status_code=exc.status_code, headers=headers)


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    logger.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return JSONResponse(_body("internal_error", "internal error"), status_code=500)


def install(app: FastAPI) -> None:
    app.add_exception_handler(ApiError, _api_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)
