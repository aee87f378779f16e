"""`anomaly retention` commands."""

from __future__ import annotations

import typer

app = typer.Typer(help="retention commands.", no_args_is_help=True)
