"""`anomaly bench fusion`: fusion throughput on one worker and alert latency to the committed row."""

from __future__ import annotations

import json
from typing import Annotated

import typer

JsonOpt = Annotated[bool, typer.Option("--json", help="Print the result as one JSON object.")]


def bench_fusion(
    events: Annotated[int, typer.Option(help="Score events in the throughput backlog.", min=1000)] = 60_000,
    cameras: Annotated[int, typer.Option(help="Cameras in the throughput backlog.", min=1)] = 40,
    latency_cameras: Annotated[int, typer.Option(help="Live cameras in the latency phase.", min=1)] = 40,
    as_json: JsonOpt = False,
) -> None:
    """Fusion throughput on one worker (score events/s) and p99 latency from score produce to anomaly row commit."""
    from rich.console import Console
    from rich.progress import Progress

    from anomaly_cli.phase_progress import phase_bars
    from anomaly_core.logs import configure_logging
    from anomaly_core.settings import DatabaseSettings, KafkaSettings
    from bench.fusion import run_fusion_bench
    from fusion_app.rules import load_rules
    from fusion_app.settings import FusionSettings

    configure_logging("WARNING")
    with Progress(console=Console(stderr=True), transient=True, disable=as_json) as progress:
        result = run_fusion_bench(
            KafkaSettings(),
            DatabaseSettings().url.get_secret_value(),
            load_rules(FusionSettings().rules_path),
            events=events,
            cameras=cameras,
            latency_cameras=latency_cameras,
            progress=phase_bars(progress),
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
