"""`anomaly topics`: create the catalog's topics (anomaly_core/topics.py) and list what the broker has."""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from anomaly_core.settings import KafkaSettings

app = typer.Typer(help="Create and list the platform's Kafka topics.", no_args_is_help=True)

JsonOpt = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]
PrefixOpt = Annotated[str | None, typer.Option("--prefix", help="Name prefix (default: KAFKA_TOPIC_PREFIX).")]
_MISMATCH_EXIT = 2


def _fail(message: str) -> typer.Exit:
    from rich.console import Console

    Console(stderr=True, soft_wrap=True).print(f"[bold red]error:[/] {message}", highlight=False)
    return typer.Exit(1)


def _admin(kafka: KafkaSettings) -> Any:
    from anomaly_core.admin import admin_client
    from anomaly_core.kafka_logs import silent_logger

    # librdkafka prints its own housekeeping lines to stderr; the command reports the outcome itself.
    return admin_client(kafka, logger=silent_logger("anomaly.topics.librdkafka"))


@app.command()
def create(
    prefix: PrefixOpt = None,
    partitions: Annotated[int | None, typer.Option(min=1, help="Override KAFKA_TOPIC_PARTITIONS.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Create every catalog topic that does not exist yet (idempotent). Exits 2 on a partition mismatch."""
    from confluent_kafka import KafkaException
    from rich.console import Console

    from anomaly_cli.topics_view import CreatedRow, retention_text
    from anomaly_core.admin import create_topics, describe_topics
    from anomaly_core.settings import KafkaSettings
    from anomaly_core.topics import build_catalog

    kafka = KafkaSettings()
    specs = build_catalog(kafka, prefix=prefix, partitions=partitions)
    admin = _admin(kafka)
    try:
        outcome = create_topics(admin, specs, replication=kafka.replication_factor)
        existing = {info.name: info for info in describe_topics(admin, [s.name for s in specs])}
    except KafkaException as exc:
        raise _fail(f"Kafka at {kafka.bootstrap_servers}: {exc.args[0]} (is the stack up? `anomaly stack up`)") from exc
    rows = []
    for spec in specs:
        info = existing.get(spec.name)
        rows.append(
            CreatedRow(
                name=spec.name,
                result=outcome.get(spec.name, "?"),
                partitions=info.partitions if info else spec.partitions,
                expected_partitions=spec.partitions,
                retention_ms=info.retention_ms if info else spec.retention_ms,
                mismatch=info is not None and info.partitions != spec.partitions,
            )
        )
    if as_json:
        print(json.dumps([asdict(row) for row in rows], indent=2))
    else:
        console = Console(highlight=False, soft_wrap=True)
        for row in rows:
            warn = (
                f"  [yellow]has {row.partitions} partitions, the catalog wants {row.expected_partitions}[/]"
                if row.mismatch
                else ""
            )
            console.print(
                f"{row.result:<8} {row.name}  ({row.partitions} partitions, "
                f"retention {retention_text(row.retention_ms)}){warn}"
            )
    if any(row.mismatch for row in rows):
        raise typer.Exit(_MISMATCH_EXIT)


@app.command("list")
def list_topics(
    prefix: PrefixOpt = None,
    all_topics: Annotated[bool, typer.Option("--all", help="Also topics outside the catalog.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """The catalog's topics with their partitions and retention as the broker has them."""
    from confluent_kafka import KafkaException
    from rich.console import Console

    from anomaly_cli.topics_view import ListedRow, listed_table
    from anomaly_core.admin import describe_topics
    from anomaly_core.settings import KafkaSettings
    from anomaly_core.topics import build_catalog

    kafka = KafkaSettings()
    specs = {spec.name: spec for spec in build_catalog(kafka, prefix=prefix)}
    admin = _admin(kafka)
    try:
        infos = {info.name: info for info in describe_topics(admin, None if all_topics else list(specs))}
    except KafkaException as exc:
        raise _fail(f"Kafka at {kafka.bootstrap_servers}: {exc.args[0]} (is the stack up? `anomaly stack up`)") from exc
    rows = []
    for name in sorted(set(specs) | set(infos)):
        info, spec = infos.get(name), specs.get(name)
        rows.append(
            ListedRow(
                name=name,
                exists=info is not None,
                in_catalog=spec is not None,
                partitions=info.partitions if info else None,
                retention_ms=info.retention_ms if info else None,
                cleanup_policy=info.cleanup_policy if info else None,
                value_record=spec.value_record if spec else None,
            )
        )
    if as_json:
        print(json.dumps([asdict(row) for row in rows], indent=2))
        return
    Console().print(listed_table(kafka.bootstrap_servers, rows))
    if any(not row.exists for row in rows if row.in_catalog):
        Console(stderr=True).print("some catalog topics are missing: run `anomaly topics create`")


@app.command("prune-subjects")
def prune_subjects(
    yes: Annotated[bool, typer.Option("--yes", help="Delete without asking (required with --json).")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Delete the registry subjects of topics that no longer exist (what `anomaly stack status` warns about)."""
    from rich.console import Console

    from anomaly_core.registry import RegistryClient
    from anomaly_core.settings import KafkaSettings
    from devstack.housekeeping import stale_subjects

    kafka = KafkaSettings()
    err = Console(stderr=True, soft_wrap=True)
    stale = stale_subjects(kafka, timeout_s=10.0)
    if stale is None:
        raise _fail("Kafka or the schema registry does not answer; nothing deleted")
    if stale and not yes:
        if as_json:
            raise _fail("--json needs --yes: there is no one to ask")
        typer.confirm(f"Delete {len(stale)} subject(s) of topics that no longer exist?", abort=True)
    with RegistryClient(kafka.schema_registry_url) as registry, err.status(f"deleting {len(stale)} subject(s)"):
        deleted = [subject for subject in stale if registry.delete_subject(subject)]
    if as_json:
        print(json.dumps({"deleted": deleted}))
    else:
        err.print(f"deleted {len(deleted)} subject(s) of topics that no longer exist", highlight=False)
