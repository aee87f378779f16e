"""`anomaly retention`: lifecycle rules on the media buckets, and an on-demand sweep."""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from anomaly_core.objectstore import ObjectStore
    from producers.retention import BucketRetention

app = typer.Typer(
    help="Media retention: VIDEO_RETENTION_DAYS, AUDIO_CHUNK_RETENTION_HOURS, EVIDENCE_RETENTION_DAYS, "
    "ANOMALY_FRAME_LIMIT.",
    no_args_is_help=True,
)

JsonOpt = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]
_EXIT_UNAVAILABLE = 3


def _store() -> tuple[ObjectStore, list[BucketRetention]]:
    from anomaly_core.objectstore import ObjectStore
    from anomaly_core.settings import ObjectStoreSettings, RetentionSettings
    from producers.retention import retention_plan

    settings = ObjectStoreSettings()
    return ObjectStore.from_settings(settings), retention_plan(settings, RetentionSettings())


def _unavailable(exc: Exception) -> typer.Exit:
    from rich.console import Console

    Console(stderr=True).print(f"[bold red]error:[/] object store unavailable: {exc}", highlight=False)
    return typer.Exit(_EXIT_UNAVAILABLE)


@app.command()
def apply(as_json: JsonOpt = False) -> None:
    """Set an expiration lifecycle rule on each media bucket (creating missing buckets, encrypted); idempotent."""
    import urllib3
    from rich.console import Console
    from rich.table import Table

    from anomaly_core.errors import TransientError
    from producers.retention import apply_lifecycle

    store, plan = _store()
    try:
        for rule in plan:
            store.ensure_bucket(rule.bucket)
            apply_lifecycle(store.client, rule)
    except (urllib3.exceptions.HTTPError, OSError, TransientError) as exc:
        raise _unavailable(exc) from exc
    if as_json:
        rows = [
            {
                "bucket": rule.bucket,
                "purpose": rule.purpose,
                "expire_after_days": rule.lifecycle_days,
                "max_age_hours": rule.max_age.total_seconds() / 3600,
                "max_objects": rule.max_objects,
            }
            for rule in plan
        ]
        print(json.dumps(rows))
        return
    table = Table(title="lifecycle rules applied")
    for col in ("bucket", "purpose", "expire after (days)", "sweep age (h)", "object limit (sweep)"):
        table.add_column(col)
    for rule in plan:
        table.add_row(
            rule.bucket,
            rule.purpose,
            str(rule.lifecycle_days),
            f"{rule.max_age.total_seconds() / 3600:g}",
            str(rule.max_objects or "-"),
        )
    Console().print(table)


@app.command()
def sweep(
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Report what would be deleted, delete nothing.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Delete objects older than their retention now, and the oldest evidence beyond ANOMALY_FRAME_LIMIT."""
    import urllib3
    from rich.console import Console
    from rich.table import Table

    from producers.retention import sweep_bucket

    store, plan = _store()
    now = datetime.now(UTC)
    try:
        results = [sweep_bucket(store.client, rule, now, dry_run=dry_run) for rule in plan]
    except (urllib3.exceptions.HTTPError, OSError) as exc:
        raise _unavailable(exc) from exc
    if as_json:
        print(json.dumps([asdict(r) for r in results]))
    else:
        table = Table(title="retention sweep" + (" (dry run)" if dry_run else ""))
        for col in ("bucket", "scanned", "expired", "over limit", "deleted", "bytes freed"):
            table.add_column(col)
        for r in results:
            if r.missing_bucket:
                table.add_row(r.bucket, "(no bucket)", "", "", "", "")
                continue
            table.add_row(
                r.bucket, str(r.scanned), str(r.expired), str(r.over_limit), str(r.deleted), str(r.bytes_freed)
            )
        Console().print(table)
    if any(r.errors for r in results):
        raise typer.Exit(1)
