"""`anomaly cameras`: operations on one camera's data."""

from __future__ import annotations

import json
from typing import Annotated

import typer

app = typer.Typer(help="Operations on one camera's stored data.", no_args_is_help=True)

_EXIT_UNAVAILABLE = 3


@app.command()
def purge(
    camera_id: Annotated[str, typer.Argument(help="The camera whose data is erased.")],
    yes: Annotated[bool, typer.Option("--yes", help="Erase without asking (required with --json).")] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Count what would be removed, remove nothing.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable report.")] = False,
) -> None:
    """Erase a camera: its media objects (frames, audio, evidence, recordings, every version), its rows in every
    PostgreSQL table (anomalies, actions, notifications, ...) and its registry entry; reports what was removed.

    Stop the camera's producer and take it out of the cameras file first, or it registers again. Its events in
    Kafka stay until their topics' retention removes them (docs/security.md)."""
    import urllib3
    from rich.console import Console

    from anomaly_core.errors import TransientError
    from anomaly_core.objectstore import ObjectStore
    from anomaly_core.purge import purge_camera
    from anomaly_core.settings import DatabaseSettings, ObjectStoreSettings
    from producers.keys import InvalidCameraIdError, validate_camera_id

    err = Console(stderr=True, soft_wrap=True)
    try:
        validate_camera_id(camera_id)
    except InvalidCameraIdError as exc:
        err.print(f"[bold red]error:[/] {exc}", highlight=False)
        raise typer.Exit(2) from exc
    if not (yes or dry_run):
        if as_json:
            err.print("[bold red]error:[/] --json needs --yes (or --dry-run): there is no one to ask", highlight=False)
            raise typer.Exit(2)
        typer.confirm(f"Erase every object and row of camera {camera_id}? This cannot be undone", abort=True)

    store_settings = ObjectStoreSettings()
    buckets = [value for name, value in store_settings.model_dump().items() if name.endswith("_bucket") and value]
    store = ObjectStore.from_settings(store_settings)
    try:
        with err.status(f"{'counting' if dry_run else 'erasing'} the objects and rows of camera {camera_id}"):
            report = purge_camera(
                store.client, DatabaseSettings().url.get_secret_value(), buckets, camera_id, dry_run=dry_run
            )
    except (TransientError, urllib3.exceptions.HTTPError, OSError) as exc:
        err.print(f"[bold red]error:[/] store or database unavailable, nothing more removed: {exc}", highlight=False)
        raise typer.Exit(_EXIT_UNAVAILABLE) from exc
    if as_json:
        print(json.dumps(report.to_json()))
        return
    from rich.table import Table

    verb = "would remove" if dry_run else "removed"
    table = Table(title=f"camera {camera_id}: {verb}")
    table.add_column("where")
    table.add_column("what")
    table.add_column("count", justify="right")
    for bucket, count in report.objects.items():
        table.add_row(bucket, "objects", str(count))
    for name, count in report.rows.items():
        table.add_row(name, "rows", str(count))
    Console().print(table)
    registry = "its registry entry" if report.registered else "no registry entry (it was not registered)"
    Console().print(f"{verb} {report.total_objects} objects, {report.total_rows} rows; {registry}")
