"""Errors the API answers with, and handlers that keep stack traces out of every response.

Every error body has the same shape: ``{"error": <code>, "detail": <message>}``.
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

logger = logging.getLogger(__name__)


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


async def _http_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = {404: "not_found", 405: "method_not_allowed", 413: "payload_too_large"}.get(exc.status_code, "http_error")
    return JSONResponse(_body(code, exc.detail), status_code=exc.status_code, headers=exc.headers)


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    logger.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return JSONResponse(_body("internal_error", "internal error"), status_code=500)


def install(app: FastAPI) -> None:
    app.add_exception_handler(ApiError, _api_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)
