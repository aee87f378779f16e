"""`anomaly projection sink|rebuild`: the PostgreSQL projection of the anomaly and action events."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from anomaly_cli.service_logging import configure_service_logging

app = typer.Typer(help="PostgreSQL projection of anomalies.v1 and anomalies.actions.v1.", no_args_is_help=True)

JsonOpt = Annotated[bool, typer.Option("--json", help="Print the result as one JSON object.")]


@app.command("sink")
def sink() -> None:
    """Upsert anomalies.v1 into the anomalies table (revision-guarded, a transaction per batch) and apply the
    operator actions of anomalies.actions.v1 (once per action id) until SIGTERM."""
    from anomaly_core import topics
    from anomaly_core.db import migrate
    from anomaly_core.runtime import ServiceSpec, run_service
    from anomaly_core.settings import DatabaseSettings, KafkaSettings
    from fusion_app.projection import Projection
    from fusion_app.settings import ProjectionSettings
    from schemas.records import AnomalyAction, AnomalyEvent

    configure_service_logging()
    kafka, settings = KafkaSettings(), ProjectionSettings()
    actions = topics.topic_name(topics.ANOMALY_ACTIONS, kafka.topic_prefix)
    dsn = DatabaseSettings().url.get_secret_value()
    migrate(dsn)
    projection = Projection(dsn)
    spec = ServiceSpec(
        name="projection",
        group_id=kafka.topic_prefix + settings.group_id,
        input_topics=[topics.topic_name(topics.ANOMALIES, kafka.topic_prefix), actions],
        input_record=AnomalyEvent,
        input_records={actions: AnomalyAction},
        handler=projection.handler(),
        max_batch=settings.max_batch,
        max_wait_ms=settings.max_wait_ms,
        metrics_port=settings.metrics_port,
        # The projection must see every anomaly, whenever it joins: the events are the source of truth.
        consumer_config={"auto.offset.reset": "earliest"},
    )
    try:
        run_service(spec, kafka)
    finally:
        projection.close()


@app.command("rebuild")
def rebuild(as_json: JsonOpt = False) -> None:
    """Truncate the anomalies and anomaly_actions tables and rebuild them from anomalies.v1 and anomalies.actions.v1
    (beginning to the current end), atomically."""
    from rich.console import Console
    from rich.progress import Progress

    from anomaly_core.settings import DatabaseSettings, KafkaSettings
    from fusion_app.rebuild import rebuild as run_rebuild

    configure_service_logging()
    with Progress(console=Console(stderr=True), transient=True, disable=as_json) as progress:
        task = progress.add_task("replaying anomalies.v1 and anomalies.actions.v1", total=None)
        report = run_rebuild(
            KafkaSettings(),
            DatabaseSettings().url.get_secret_value(),
            progress=lambda done, _batch: progress.update(task, completed=done),
        )
    if as_json:
        typer.echo(json.dumps(vars(report)))
        return
    typer.echo(
        f"rebuilt {report.rows} anomalies from {report.events} events of {report.topic} and {report.actions} "
        f"actions of {report.actions_topic} in {report.seconds:.1f}s"
        + (f" ({report.skipped} undecodable skipped)" if report.skipped else "")
    )
