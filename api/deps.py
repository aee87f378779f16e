"""FastAPI dependencies: the authenticated, rate-limited caller with at least a given role."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Request, Security
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from api.auth import Principal, Role
from api.errors import ApiError
from api.services import Services, services

_bearer = HTTPBearer(auto_error=False, description="An API key (ak_...) or an HS256 JWT.")
_api_key = APIKeyHeader(name="X-API-Key", auto_error=False, description="An API key (ak_...).")


def rate_limited(retry_after_s: int) -> ApiError:
    return ApiError(
        429, "rate_limited", f"too many requests, retry in {retry_after_s}s", {"Retry-After": str(retry_after_s)}
    )


def requires(role: Role) -> Callable[..., Awaitable[Principal]]:
    async def caller(
        request: Request,
        svc: Annotated[Services, Depends(services)],
        bearer: Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)],
        api_key: Annotated[str | None, Security(_api_key)],
    ) -> Principal:
        token = bearer.credentials if bearer is not None else api_key
        principal = await svc.auth.authenticate(token)
        decision = svc.limiter.check(principal.subject)
        if not decision.allowed:
            raise rate_limited(decision.retry_after_s)
        principal.require(role)
        request.state.principal = principal
        return principal

    return caller


Viewer = Annotated[Principal, Depends(requires(Role.VIEWER))]
Operator = Annotated[Principal, Depends(requires(Role.OPERATOR))]
Admin = Annotated[Principal, Depends(requires(Role.ADMIN))]
Svc = Annotated[Services, Depends(services)]
