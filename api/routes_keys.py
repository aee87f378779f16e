"""``/v1/apikeys``: API key management over HTTP (admin only; the CLI does the same offline)."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Path

from api import keystore
from api.auth import KeyRecord, Role
from api.deps import Admin, Svc
from api.errors import AUTHENTICATED, error_responses, not_found
from api.models import ApiKeyCreated, ApiKeyIn, ApiKeyOut

router = APIRouter(prefix="/v1/apikeys", tags=["api keys"], responses=error_responses(*AUTHENTICATED))


def _out(record: KeyRecord) -> ApiKeyOut:
    return ApiKeyOut(
        id=record.id,
        name=record.name,
        role=record.role.value,
        cameras=record.cameras,
        created_at=record.created_at,
        expires_at=record.expires_at,
        revoked_at=record.revoked_at,
    )


@router.get("", response_model=list[ApiKeyOut], summary="List API keys (never their secrets)")
async def list_keys(_: Admin, svc: Svc) -> list[ApiKeyOut]:
    async with svc.db.connection() as conn:
        return [_out(r) for r in await keystore.list_keys_async(conn)]


@router.post(
    "",
    response_model=ApiKeyCreated,
    status_code=201,
    responses=error_responses(400, 413),
    summary="Create an API key (shown once)",
)
async def create_key(_: Admin, svc: Svc, body: ApiKeyIn) -> ApiKeyCreated:
    expires = timedelta(days=body.expires_days) if body.expires_days else None
    async with svc.db.connection() as conn:
        new = await keystore.create_async(
            conn,
            name=body.name,
            role=Role(body.role),
            cameras=body.cameras,
            expires_in=expires,
            pepper=svc.settings.api.api_key_pepper.get_secret_value(),
        )
    return ApiKeyCreated(**_out(new.record).model_dump(), key=new.secret)


@router.delete("/{key_id}", response_model=ApiKeyOut, responses=error_responses(404), summary="Revoke an API key")
async def revoke_key(_: Admin, svc: Svc, key_id: Annotated[uuid.UUID, Path()]) -> ApiKeyOut:
    async with svc.db.connection() as conn:
        record = await keystore.revoke_async(conn, str(key_id))
    if record is None:
        raise not_found(f"API key {key_id} not found")
    return _out(record)
