"""`anomaly api` and `anomaly apikeys create|revoke|list`."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    import psycopg

    from api.auth import KeyRecord

apikeys_app = typer.Typer(help="API keys: create (shown once), revoke, list.", no_args_is_help=True)


def serve(
    host: Annotated[str | None, typer.Option(help="Bind address (default API_HOST).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default API_PORT).")] = None,
    workers: Annotated[int | None, typer.Option(help="Worker processes (default API_WORKERS).")] = None,
) -> None:
    """Serve the HTTP API, the live WebSocket and the dashboard (uvicorn, production settings)."""
    from api.server import serve as run_server
    from api.settings import ApiServerSettings

    api = ApiServerSettings()
    run_server(host=host or api.host, port=port or api.port, workers=workers or api.workers)


def _connect() -> psycopg.Connection:
    """A connection to the database with migrations applied; exits 3 when it is unreachable."""
    from anomaly_core.db import connect, migrate
    from anomaly_core.errors import TransientError
    from anomaly_core.settings import DatabaseSettings

    dsn = DatabaseSettings().url.get_secret_value()
    try:
        migrate(dsn)
        return connect(dsn)
    except TransientError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(3) from exc


def _key_dict(record: KeyRecord) -> dict[str, object]:
    return {
        "id": record.id,
        "name": record.name,
        "role": record.role.value,
        "cameras": record.cameras,
        "created_at": record.created_at.isoformat(),
        "expires_at": record.expires_at.isoformat() if record.expires_at else None,
        "revoked_at": record.revoked_at.isoformat() if record.revoked_at else None,
    }


@apikeys_app.command("create")
def create(
    name: Annotated[str, typer.Option(help="Who or what the key is for.")],
    role: Annotated[str, typer.Option(help="viewer, operator or admin.")] = "viewer",
    camera: Annotated[list[str] | None, typer.Option(help="Allowed camera (repeat); none means all cameras.")] = None,
    expires_days: Annotated[float | None, typer.Option(help="Expire after this many days.", min=0.0)] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Create an API key. The key is printed once; only its hash is stored."""
    from datetime import timedelta

    from api import keystore
    from api.auth import Role
    from api.settings import ApiServerSettings

    try:
        parsed_role = Role(role)
    except ValueError as exc:
        raise typer.BadParameter("role must be viewer, operator or admin", param_hint="--role") from exc
    with _connect() as conn:
        new = keystore.create(
            conn,
            name=name,
            role=parsed_role,
            cameras=camera or None,
            expires_in=timedelta(days=expires_days) if expires_days else None,
            pepper=ApiServerSettings().api_key_pepper.get_secret_value(),
        )
    if as_json:
        typer.echo(json.dumps(_key_dict(new.record) | {"key": new.secret}))
        return
    scope = ", ".join(new.record.cameras) if new.record.cameras else "all cameras"
    typer.echo(f"created key {new.record.id} ({new.record.name}, {new.record.role.value}, {scope})")
    typer.echo(f"key: {new.secret}")
    typer.echo("Store it now: it is not shown again.")


@apikeys_app.command("revoke")
def revoke(
    key_id: Annotated[str, typer.Argument(help="The key id (from `anomaly apikeys list`).")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Revoke an API key (takes effect within API_KEY_CACHE_SECONDS)."""
    from api import keystore

    with _connect() as conn:
        record = keystore.revoke(conn, key_id)
    if record is None:
        typer.echo(f"error: no API key {key_id}", err=True)
        raise typer.Exit(1)
    if as_json:
        typer.echo(json.dumps(_key_dict(record)))
    else:
        typer.echo(f"revoked {record.id} ({record.name})")


@apikeys_app.command("list")
def list_keys(as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """List API keys (ids, names, roles, scopes; never the keys)."""
    from rich.console import Console
    from rich.table import Table

    from api import keystore

    with _connect() as conn:
        records = keystore.list_keys(conn)
    if as_json:
        typer.echo(json.dumps([_key_dict(r) for r in records]))
        return
    table = Table("id", "name", "role", "cameras", "created", "expires", "revoked")
    for r in records:
        table.add_row(
            r.id,
            r.name,
            r.role.value,
            ", ".join(r.cameras) if r.cameras else "all",
            f"{r.created_at:%Y-%m-%d %H:%M}",
            f"{r.expires_at:%Y-%m-%d %H:%M}" if r.expires_at else "-",
            f"{r.revoked_at:%Y-%m-%d %H:%M}" if r.revoked_at else "-",
        )
    Console().print(table)
