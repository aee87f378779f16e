"""`anomaly bench ...`: benchmarks whose numbers go to docs/performance.md.

Each benchmark is one command registered with ``register(name, function)``; a new benchmark is a function
in its own module plus one ``register`` line at the bottom of this file.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Annotated, Any

import typer

from anomaly_cli.bench_fusion import bench_fusion
from bench.api import bench_api
from bench.gate import bench_gate
from bench.models import bench_models
from bench.notify import bench_notify
from bench.pipeline_report import bench_pipeline
from bench.producer import bench_producer

app = typer.Typer(help="Benchmarks (numbers for docs/performance.md).", no_args_is_help=True)

JsonOpt = Annotated[bool, typer.Option("--json", help="Print the result as one JSON object.")]


def register(name: str, command: Callable[..., Any]) -> None:
    """Adds ``command`` as ``anomaly bench <name>`` (its docstring is the help text)."""
    app.command(name)(command)


def infra(
    events: Annotated[int, typer.Option(help="PoseScore events to produce and consume.", min=1000)] = 100_000,
    batch: Annotated[int, typer.Option(help="Records per consume() call.", min=1)] = 1000,
    cpu: Annotated[int | None, typer.Option(help="CPU to pin to (default: the last one).")] = None,
    pin: Annotated[bool, typer.Option(help="Pin the process to one CPU.")] = True,
    as_json: JsonOpt = False,
) -> None:
    """Serde + Kafka throughput on one core: encode, produce, consume and decode PoseScore events (33 keypoints)."""
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn

    from anomaly_cli.phase_progress import phase_bars
    from anomaly_core.logs import configure_logging
    from anomaly_core.settings import KafkaSettings
    from bench.infra import run_infra_bench

    configure_logging("WARNING")
    console = Console(stderr=True)
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        console=console,
        transient=True,
        disable=as_json,
    ) as progress:
        bars = phase_bars(progress)
        result = run_infra_bench(
            KafkaSettings(),
            events=events,
            batch=batch,
            cpu=cpu,
            pin=pin,
            progress=lambda phase, done: bars(phase, done, events),
        )
    if as_json:
        typer.echo(json.dumps(result.as_dict()))
        return
    console = Console()
    console.print(
        f"[bold]{result.events_per_s:,} events/s[/bold] end to end on CPU {result.cpu} "
        f"({result.events:,} PoseScore events, {result.value_bytes} bytes each)"
    )
    console.print(
        f"  {result.events_per_cpu_s:,} events per CPU-second of this process "
        f"(load average {result.load_average}: other processes share the machine)"
    )
    phases = (
        ("encode+produce", result.produce_events_per_s, result.produce_s, result.produce_cpu_s),
        ("consume+decode", result.consume_events_per_s, result.consume_s, result.consume_cpu_s),
    )
    for label, rate, wall_s, cpu_s in phases:
        console.print(f"  {label}  {rate:>9,} events/s  ({wall_s:.2f} s, CPU {cpu_s:.2f} s)")
    console.print(f"  encode {result.encode_us:.1f} us, decode {result.decode_us:.1f} us per event (no Kafka)")
    console.print(f"  {result.machine}")


register("infra", infra)
register("api", bench_api)
register("fusion", bench_fusion)
register("producer", bench_producer)
register("gate", bench_gate)
register("models", bench_models)
register("pipeline", bench_pipeline)
register("notify", bench_notify)
