"""``anomaly bench api``: list query latency over 1,000,000 anomalies and live fan-out latency to 500 sockets.

1. A dedicated database (``<db>_bench_api``) is migrated and bulk-loaded with COPY; it is kept, so later runs
   reuse it (``--fresh`` reloads).
2. ``anomaly api`` runs as its own process with the production uvicorn settings, against that database and a
   private anomalies topic.
3. List: ``GET /v1/anomalies`` with a mix of filters and deep cursor pages, one request at a time over
   keep-alive (what one operator sees); the same SQL is also timed directly against PostgreSQL.
4. Fan-out: N sockets subscribe; AnomalyEvents are produced one at a time at a steady rate; latency is the
   client's receive time minus the time just before ``produce``, over every (event, socket) pair.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer


def bench_api(
    *,
    rows: Annotated[int, typer.Option(help="Anomaly rows in the benchmark database.", min=1000)] = 1_000_000,
    requests: Annotated[int, typer.Option(help="List requests to time.", min=10)] = 700,
    clients: Annotated[int, typer.Option(help="Concurrent WebSocket clients.", min=1)] = 500,
    events: Annotated[int, typer.Option(help="Anomaly events to fan out.", min=1)] = 40,
    rate: Annotated[float, typer.Option(help="Events produced per second.", min=0.1)] = 4.0,
    fresh: Annotated[bool, typer.Option(help="Reload the benchmark database even if it is complete.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the results as JSON.")] = False,
) -> None:
    """API: list query p99 over ROWS anomalies and WebSocket fan-out p99 to CLIENTS sockets."""
    from anomaly_core.logs import configure_logging
    from bench.api_run import BenchConfig, run

    configure_logging("WARNING")
    result = run(BenchConfig(rows=rows, requests=requests, clients=clients, events=events, rate=rate, fresh=fresh))
    if as_json:
        typer.echo(json.dumps(result, indent=2))
    else:
        _print(result)


def _print(result: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table("measure", "p50 ms", "p95 ms", "p99 ms", "max ms", "n", title="anomaly bench api")
    for name, stats in result["list"]["http"].items():
        table.add_row(f"list http: {name}", *_cells(stats))
    for name, stats in result["list"]["sql"].items():
        table.add_row(f"list sql: {name}", *_cells(stats))
    table.add_row(f"fan-out to {result['fanout']['clients']} sockets", *_cells(result["fanout"]["latency"]))
    console = Console()
    console.print(table)
    console.print(
        f"rows {result['list']['rows']:,}; list p99 {result['list']['http']['all']['p99_ms']} ms "
        f"(target <= {result['targets']['list_p99_ms']}); fan-out p99 {result['fanout']['latency']['p99_ms']} ms "
        f"(target <= {result['targets']['fanout_p99_ms']}); delivered {result['fanout']['delivered']}"
        f"/{result['fanout']['expected']}, dropped clients {result['fanout']['dropped_clients']}"
    )


def _cells(stats: dict[str, float]) -> list[str]:
    return [
        f"{stats['p50_ms']:.1f}",
        f"{stats['p95_ms']:.1f}",
        f"{stats['p99_ms']:.1f}",
        f"{stats['max_ms']:.1f}",
        str(int(stats["n"])),
    ]
