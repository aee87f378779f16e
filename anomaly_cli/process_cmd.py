"""`anomaly process` commands."""

from __future__ import annotations

import typer

app = typer.Typer(help="process commands.", no_args_is_help=True)
