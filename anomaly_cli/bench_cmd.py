"""`anomaly bench ...`: benchmarks whose numbers go to docs/performance.md."""

from __future__ import annotations

import typer

app = typer.Typer(help="Benchmarks (numbers for docs/performance.md).", no_args_is_help=True)
