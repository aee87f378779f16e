"""`anomaly analyze` and `anomaly demo`."""

from __future__ import annotations

import typer


def analyze() -> None:
    """Analyze recorded files."""
    raise typer.Exit(2)


def demo() -> None:
    """Run the whole pipeline on sample media."""
    raise typer.Exit(2)
