"""`anomaly api` and `anomaly apikeys`."""

from __future__ import annotations

import typer

apikeys_app = typer.Typer(help="API keys.", no_args_is_help=True)


def serve() -> None:
    """Serve the HTTP API and dashboard."""
    raise typer.Exit(2)
