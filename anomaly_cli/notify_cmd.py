"""`anomaly notify worker|test`: alerts to people (webhook, e-mail, MQTT) routed by the NOTIFY_CONFIG file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(
    help="Notifications: webhooks, e-mail and MQTT from anomaly events and actions.", no_args_is_help=True
)

ConfigOpt = Annotated[Path | None, typer.Option("--config", help="Routing file (default: NOTIFY_CONFIG).")]


def _config(path: Path | None) -> object:
    from notify.config import ConfigError, load_config
    from notify.settings import NotifySettings

    chosen = path or NotifySettings().config_path
    if chosen is None:
        typer.echo("error: no routing file: set NOTIFY_CONFIG or pass --config (see docs/notifications.md)", err=True)
        raise typer.Exit(2)
    try:
        return load_config(chosen)
    except ConfigError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc


@app.command("worker")
def worker(config_path: ConfigOpt = None) -> None:
    """Consume anomalies.v1 and anomalies.actions.v1 (consumer group NOTIFY_GROUP_ID) and notify the targets of
    the routing file; escalate alerts nobody acknowledged. Runs until SIGTERM."""
    from anomaly_core.logs import configure_logging
    from anomaly_core.settings import KafkaSettings, MetricsSettings
    from notify.config import NotifyConfig
    from notify.service import run_worker
    from notify.settings import NotifySettings

    metrics = MetricsSettings()
    configure_logging(metrics.log_level, metrics.log_json)
    config = _config(config_path)
    assert isinstance(config, NotifyConfig)
    run_worker(config, NotifySettings(), KafkaSettings())


@app.command("test")
def test(
    target: Annotated[str, typer.Argument(help="Name of a target of the routing file.")],
    config_path: ConfigOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the outcome as one JSON object.")] = False,
) -> None:
    """Send a test message (marked as a test) to TARGET and print the outcome; exit 1 if it failed."""
    from notify.config import NotifyConfig
    from notify.service import send_test

    config = _config(config_path)
    assert isinstance(config, NotifyConfig)
    try:
        chosen = config.target(target)
    except KeyError as exc:
        typer.echo(f"error: {exc.args[0]}", err=True)
        raise typer.Exit(2) from exc
    outcome = send_test(config, target)
    result = {
        "target": target,
        "kind": chosen.kind,
        "ok": outcome.ok,
        "detail": outcome.detail,
        "attempts": outcome.attempts,
        "latency_ms": round(outcome.latency_s * 1000, 1),
    }
    if as_json:
        typer.echo(json.dumps(result))
    else:
        verdict = "sent" if outcome.ok else "FAILED"
        typer.echo(
            f"{target} ({chosen.kind}): {verdict} after {outcome.attempts} attempt(s), "
            f"{result['latency_ms']} ms: {outcome.detail}"
        )
    if not outcome.ok:
        raise typer.Exit(1)
