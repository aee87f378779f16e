"""`anomaly fusion worker`, `anomaly projection sink|rebuild`, `anomaly replay`, `anomaly backtest diff`, and
`anomaly bench fusion`. Heavy imports stay inside the commands."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(help="Fusion of per-camera score windows into anomaly events.", no_args_is_help=True)
projection_app = typer.Typer(
    help="PostgreSQL projection of anomalies.v1 and anomalies.actions.v1.", no_args_is_help=True
)
backtest_app = typer.Typer(help="Compare fusion rules files on historical scores.", no_args_is_help=True)

RulesOpt = Annotated[
    Path | None, typer.Option("--rules", help="Rules file (default: FUSION_RULES, else the packaged rules.yaml).")
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print the result as one JSON object.")]
SCORE_TOPICS = ("scores.pose.v1", "scores.scene.v1", "scores.audio.v1")


def _when(text: str | None) -> int | None:
    """Epoch milliseconds from ``2025-11-26T08:00:00Z``-style text or a plain number of milliseconds."""
    if text is None:
        return None
    if text.isdigit():
        return int(text)
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise typer.BadParameter(f"{text!r} is neither ISO 8601 nor epoch milliseconds") from exc
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000)


def _logging() -> None:
    from anomaly_core.logs import configure_logging
    from anomaly_core.settings import MetricsSettings

    metrics = MetricsSettings()
    configure_logging(metrics.log_level, metrics.log_json)


@app.command("worker")
def worker(
    rules_path: RulesOpt = None,
    group: Annotated[str | None, typer.Option(help="Consumer group (default FUSION_GROUP_ID, topic-prefixed).")] = None,
) -> None:
    """The faust-streaming fusion app: consume the score topics, fuse per-camera windows, publish anomalies.v1
    (and candidates). Runs until SIGTERM (last checkpoint, commit, exit 0)."""
    from anomaly_core.settings import DatabaseSettings, KafkaSettings
    from fusion_app.cameras import RegisteredCameras
    from fusion_app.faust_worker import build, run
    from fusion_app.rules import load_rules
    from fusion_app.settings import FusionSettings

    _logging()
    kafka, settings = KafkaSettings(), FusionSettings()
    rules = load_rules(rules_path or settings.rules_path)
    known = None
    if settings.require_registered_cameras:
        known = RegisteredCameras(DatabaseSettings().url.get_secret_value(), settings.camera_refresh_s)
    run(build(kafka, settings, rules, group=group or kafka.topic_prefix + settings.group_id, known_camera=known))


@projection_app.command("sink")
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

    _logging()
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


@projection_app.command("rebuild")
def rebuild(as_json: JsonOpt = False) -> None:
    """Truncate the anomalies and anomaly_actions tables and rebuild them from anomalies.v1 and anomalies.actions.v1
    (beginning to the current end), atomically."""
    from rich.console import Console
    from rich.progress import Progress

    from anomaly_core.settings import DatabaseSettings, KafkaSettings
    from fusion_app.rebuild import rebuild as run_rebuild

    _logging()
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


def replay(
    from_: Annotated[
        str | None, typer.Option("--from", help="Start (ISO 8601 or epoch ms; default: beginning).")
    ] = None,
    to: Annotated[str | None, typer.Option(help="End (ISO 8601 or epoch ms; default: the current end).")] = None,
    topics: Annotated[
        list[str] | None,
        typer.Option("--topics", help="Score topics to re-consume (base names; default: all fusion inputs)."),
    ] = None,
    rules_path: RulesOpt = None,
    group: Annotated[str | None, typer.Option(help="Consumer group (default: a fresh replay group).")] = None,
) -> None:
    """Re-consume a historical range of the score topics into the fusion, under a fresh consumer group.

    The replay reads from the first record at --from (offsets_for_times) to --to, with its own state, and
    publishes to anomalies.v1 like the live worker: the same scores under the same rules give the same anomaly
    ids (the projection upsert absorbs them); other rules give new ids.
    """
    import uuid

    from anomaly_core import topics as catalog
    from anomaly_core.settings import KafkaSettings
    from fusion_app.app import FusionWorker
    from fusion_app.rules import load_rules
    from fusion_app.settings import FusionSettings

    _logging()
    kafka, settings = KafkaSettings(), FusionSettings()
    rules = load_rules(rules_path or settings.rules_path)
    inputs = [catalog.topic_name(t, kafka.topic_prefix) for t in topics] if topics else None
    group_id = group or f"{kafka.topic_prefix}fusion-replay-{uuid.uuid4().hex[:8]}"
    replayer = FusionWorker(
        kafka, settings, rules, group_id=group_id, from_ms=_when(from_), to_ms=_when(to), bounded=True, inputs=inputs
    )
    replayer.run()
    typer.echo(f"replayed {replayer.records} records under group {group_id} with rules {rules.version}")


@backtest_app.command("diff")
def backtest_diff(  # noqa: PLR0917 - typer options
    rules_b: Annotated[Path, typer.Option("--rules-b", help="The rules file to compare.")],
    rules_a: Annotated[Path | None, typer.Option("--rules-a", help="The baseline (default: packaged).")] = None,
    from_: Annotated[str | None, typer.Option("--from", help="Start (ISO 8601 or epoch ms).")] = None,
    to: Annotated[str | None, typer.Option(help="End (ISO 8601 or epoch ms).")] = None,
    topics: Annotated[list[str] | None, typer.Option("--topics", help="Score topics (base names).")] = None,
    limit: Annotated[int, typer.Option(help="Differences printed (all with --json).", min=1)] = 50,
    as_json: JsonOpt = False,
) -> None:
    """Run fuse() over historical score topics with two rules files and show the windows decided differently."""
    from rich.console import Console
    from rich.table import Table

    from anomaly_core import topics as catalog
    from anomaly_core.settings import KafkaSettings
    from fusion_app.backtest import compare, load_scores
    from fusion_app.rules import load_rules

    _logging()
    kafka = KafkaSettings()
    names = [catalog.topic_name(t, kafka.topic_prefix) for t in (topics or SCORE_TOPICS)]
    a, b = load_rules(rules_a), load_rules(rules_b)
    items, skipped = load_scores(kafka, names, from_ms=_when(from_), to_ms=_when(to))
    report = compare(items, a, b)
    report.skipped = skipped
    if as_json:
        typer.echo(json.dumps(report.as_dict()))
        return
    console = Console()
    console.print(
        f"{report.scores} scores, {report.windows} windows: {len(report.differing)} decided differently; "
        f"incidents {len(report.incidents_a)} ({a.version}) vs {len(report.incidents_b)} ({b.version})"
    )
    table = Table("camera", "window", a.version, b.version)
    for d in report.differing[:limit]:
        start = datetime.fromtimestamp(d.window_start_ms / 1000, tz=UTC).isoformat(timespec="seconds")
        table.add_row(d.camera_id, start, _call(d.a), _call(d.b))
    if report.differing:
        console.print(table)


def _call(outcome: object) -> str:
    if outcome is None:
        return "-"
    alert, kinds, severity = (getattr(outcome, n) for n in ("alert", "kinds", "severity"))
    return f"{severity} {','.join(kinds)}" if alert else "no alert"


def bench_fusion(
    events: Annotated[int, typer.Option(help="Score events in the throughput backlog.", min=1000)] = 60_000,
    cameras: Annotated[int, typer.Option(help="Cameras in the throughput backlog.", min=1)] = 40,
    latency_cameras: Annotated[int, typer.Option(help="Live cameras in the latency phase.", min=1)] = 40,
    as_json: JsonOpt = False,
) -> None:
    """Fusion throughput on one worker (score events/s) and p99 latency from score produce to anomaly row commit."""
    from rich.console import Console
    from rich.progress import Progress, TaskID

    from anomaly_core.logs import configure_logging
    from anomaly_core.settings import DatabaseSettings, KafkaSettings
    from bench.fusion import run_fusion_bench
    from fusion_app.rules import load_rules
    from fusion_app.settings import FusionSettings

    configure_logging("WARNING")
    with Progress(console=Console(stderr=True), transient=True, disable=as_json) as progress:
        tasks: dict[str, TaskID] = {}

        def report(phase: str, done: int, total: int) -> None:
            if phase not in tasks:
                tasks[phase] = progress.add_task(phase, total=total)
            progress.update(tasks[phase], completed=done)

        result = run_fusion_bench(
            KafkaSettings(),
            DatabaseSettings().url.get_secret_value(),
            load_rules(FusionSettings().rules_path),
            events=events,
            cameras=cameras,
            latency_cameras=latency_cameras,
            progress=report,
        )
    if as_json:
        typer.echo(json.dumps(result.as_dict()))
        return
    console = Console()
    console.print(
        f"[bold]{result.throughput_events_per_s:,.0f} score events/s[/bold] through one worker "
        f"({result.events:,} events, {result.cameras} cameras, {result.partitions} partitions); "
        f"Faust alone, no-op agent: {result.faust_noop_events_per_s:,.0f} events/s"
    )
    console.print(
        f"alert latency (last score produced -> row committed) over {result.latency_anomalies} anomalies: "
        f"p50 {result.latency_p50_ms} ms, p95 {result.latency_p95_ms} ms, [bold]p99 {result.latency_p99_ms} ms[/bold]"
    )
    console.print(f"  rules {result.rules_version}; {result.machine}")
