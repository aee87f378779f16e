"""`anomaly models pull|list|verify`: the model catalog in MODEL_CACHE_DIR."""

from __future__ import annotations

import dataclasses
import json
from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:
    from processors.model_admin import ModelRow

app = typer.Typer(help="Model weights: pull from the Hugging Face hub, list, verify.", no_args_is_help=True)

_NAMES = typer.Argument(None, help="Models (pose, clip, blip, whisper); all when omitted.")
_JSON = typer.Option(False, "--json", help="Machine-readable output.")


def _settings() -> object:
    from processors.settings import ProcessorSettings

    return ProcessorSettings()


def _print(rows: list[ModelRow], as_json: bool) -> None:
    if as_json:
        typer.echo(json.dumps([dataclasses.asdict(r) for r in rows], indent=2))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table("model", "id", "source", "size MB", "version", "load s", "ok")
    for r in rows:
        size = f"{r.size_bytes / 1e6:.1f}" if r.size_bytes is not None else "-"
        ok = "-" if r.ok is None else ("yes" if r.ok else "NO")
        table.add_row(r.name, r.model_id, r.source, size, r.version or "-", str(r.load_s or "-"), ok)
    console = Console()
    console.print(table)
    for r in rows:  # paths and errors are long: one line each under the table
        console.print(f"{r.name}: {r.detail or r.path or 'not on disk'}", soft_wrap=True)


def _names(names: list[str] | None) -> list[str]:
    from processors.models import MODEL_NAMES

    chosen = names or list(MODEL_NAMES)
    unknown = [n for n in chosen if n not in MODEL_NAMES]
    if unknown:
        raise typer.BadParameter(f"unknown model(s) {unknown}; known: {', '.join(MODEL_NAMES)}")
    return chosen


@app.command("list")
def list_(as_json: bool = _JSON) -> None:
    """Where each model is (MODEL_CACHE_DIR, bundled with a package, or missing) and its size."""
    from processors.model_admin import list_models

    _print(list_models(_settings()), as_json)  # type: ignore[arg-type]


@app.command("pull")
def pull(names: list[str] | None = _NAMES, as_json: bool = _JSON) -> None:
    """Download models from the Hugging Face hub into MODEL_CACHE_DIR (machines with hub access)."""
    from processors.model_admin import pull as do_pull

    rows = do_pull(_settings(), _names(names))  # type: ignore[arg-type]
    _print(rows, as_json)
    if not all(r.ok for r in rows):
        raise typer.Exit(1)


@app.command("verify")
def verify(names: list[str] | None = _NAMES, as_json: bool = _JSON) -> None:
    """Load each model through its processor's loader; print name, version (weights hash), size, load time."""
    from processors.model_admin import verify as do_verify

    rows = do_verify(_settings(), _names(names))  # type: ignore[arg-type]
    _print(rows, as_json)
    if not all(r.ok for r in rows):
        raise typer.Exit(1)
