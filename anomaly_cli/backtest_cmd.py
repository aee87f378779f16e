"""`anomaly backtest diff`: two rules files over the same historical scores, and the windows they decide
differently; `anomaly backtest labels`: operator resolutions exported as labels the diff can score."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from anomaly_cli.service_logging import configure_service_logging
from anomaly_cli.time_range import epoch_ms

app = typer.Typer(help="Compare fusion rules files on historical scores.", no_args_is_help=True)

JsonOpt = Annotated[bool, typer.Option("--json", help="Print the result as one JSON object.")]
SCORE_TOPICS = ("scores.pose.v1", "scores.scene.v1", "scores.audio.v1")


@app.command("diff")
def backtest_diff(  # noqa: PLR0917 - typer options
    rules_b: Annotated[Path, typer.Option("--rules-b", help="The rules file to compare.")],
    rules_a: Annotated[Path | None, typer.Option("--rules-a", help="The baseline (default: packaged).")] = None,
    from_: Annotated[str | None, typer.Option("--from", help="Start (ISO 8601 or epoch ms).")] = None,
    to: Annotated[str | None, typer.Option(help="End (ISO 8601 or epoch ms).")] = None,
    topics: Annotated[list[str] | None, typer.Option("--topics", help="Score topics (base names).")] = None,
    limit: Annotated[int, typer.Option(help="Differences printed (all with --json).", min=1)] = 50,
    labels_path: Annotated[
        Path | None,
        typer.Option(
            "--labels",
            help="Operator resolutions (`anomaly backtest labels --out FILE`): the false alarms each rules file "
            "still raises and the true alarms it misses.",
        ),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Run fuse() over historical score topics with two rules files and show the windows decided differently."""
    from rich.console import Console
    from rich.table import Table

    from anomaly_core import topics as catalog
    from anomaly_core.settings import KafkaSettings
    from fusion_app.backtest import compare, load_scores
    from fusion_app.labels import load_labels, score
    from fusion_app.rules import load_rules

    configure_service_logging()
    kafka = KafkaSettings()
    names = [catalog.topic_name(t, kafka.topic_prefix) for t in (topics or SCORE_TOPICS)]
    a, b = load_rules(rules_a), load_rules(rules_b)
    try:
        labels = load_labels(labels_path) if labels_path else None
    except (OSError, ValueError) as exc:
        raise typer.BadParameter(str(exc), param_hint="--labels") from exc
    items, skipped = load_scores(kafka, names, from_ms=epoch_ms(from_), to_ms=epoch_ms(to))
    report = compare(items, a, b)
    report.skipped = skipped
    scored = {"a": score(labels, report.incidents_a), "b": score(labels, report.incidents_b)} if labels else {}
    if as_json:
        typer.echo(json.dumps(report.as_dict() | {"labels": {k: v.as_dict() for k, v in scored.items()}}))
        return
    console = Console()
    console.print(
        f"{report.scores} scores, {report.windows} windows: {len(report.differing)} decided differently; "
        f"incidents {len(report.incidents_a)} ({a.version}) vs {len(report.incidents_b)} ({b.version})"
    )
    for side, rules in (("a", a), ("b", b)):
        if side in scored:
            got = scored[side]
            console.print(
                f"{rules.version}: raises {len(got.false_alarms_raised)} of {got.false_alarms} false alarms, "
                f"misses {len(got.true_alarms_missed)} of {got.true_alarms} true alarms"
            )
    table = Table("camera", "window", a.version, b.version)
    for d in report.differing[:limit]:
        start = datetime.fromtimestamp(d.window_start_ms / 1000, tz=UTC).isoformat(timespec="seconds")
        table.add_row(d.camera_id, start, _call(d.a), _call(d.b))
    if report.differing:
        console.print(table)


@app.command("labels")
def backtest_labels(
    out: Annotated[Path | None, typer.Option("--out", help="Write JSON lines here (default: print them).")] = None,
    since: Annotated[str | None, typer.Option(help="Incidents starting at or after (ISO 8601 or epoch ms).")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Export operator resolutions (TRUE_ALARM, FALSE_ALARM, TEST) as labels for `backtest diff --labels`."""
    from collections import Counter

    from anomaly_core.settings import DatabaseSettings
    from fusion_app.labels import read_labels, to_json, write_labels

    configure_service_logging()
    start = epoch_ms(since)
    labels = read_labels(
        DatabaseSettings().url.get_secret_value(),
        since=datetime.fromtimestamp(start / 1000, tz=UTC) if start is not None else None,
    )
    if out is None:
        for label in labels:
            typer.echo(to_json(label))
        return
    write_labels(labels, out)
    counts = dict(Counter(label.resolution for label in labels))
    if as_json:
        typer.echo(json.dumps({"path": str(out), "labels": len(labels), "by_resolution": counts}))
    else:
        summary = ", ".join(f"{k} {v}" for k, v in sorted(counts.items())) or "none resolved yet"
        typer.echo(f"wrote {len(labels)} labels to {out} ({summary})")


def _call(outcome: object) -> str:
    if outcome is None:
        return "-"
    alert, kinds, severity = (getattr(outcome, n) for n in ("alert", "kinds", "severity"))
    return f"{severity} {','.join(kinds)}" if alert else "no alert"
