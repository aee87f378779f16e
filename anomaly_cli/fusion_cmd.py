"""`anomaly fusion`, `anomaly projection` and `anomaly replay`."""

from __future__ import annotations

import typer

app = typer.Typer(help="Fusion worker.", no_args_is_help=True)
projection_app = typer.Typer(help="PostgreSQL projection of anomalies.", no_args_is_help=True)


def replay() -> None:
    """Replay historical topics."""
    raise typer.Exit(2)
