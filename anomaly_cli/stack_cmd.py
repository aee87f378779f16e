"""`anomaly stack`: the embedded local stack (Kafka, schema registry, PostgreSQL, MinIO)."""

from __future__ import annotations

import json
import shlex
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from devstack.manager import ServiceStatus, Stack

app = typer.Typer(
    help="Run Kafka, the schema registry, PostgreSQL, MinIO and Mosquitto on this machine.", no_args_is_help=True
)

ServicesArg = Annotated[
    list[str] | None, typer.Argument(help="kafka, schema_registry, postgres, minio, mosquitto (default: all)")
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]
_STATUS_UNHEALTHY_EXIT = 3  # like `systemctl status`: the command worked, the stack is not all healthy


def _fail(exc: Exception) -> typer.Exit:
    from rich.console import Console

    Console(stderr=True, soft_wrap=True).print(f"[bold red]error:[/] {exc}", highlight=False)
    return typer.Exit(1)


@app.command()
def up(services: ServicesArg = None, as_json: JsonOpt = False) -> None:
    """Start the stack (idempotent) and wait until every service answers a real request."""
    from rich.console import Console

    from devstack.errors import StackError
    from devstack.manager import SERVICE_NAMES, Stack
    from devstack.progress import ConsoleReporter

    console = Console(stderr=as_json, soft_wrap=True)
    t0 = time.monotonic()
    try:
        stack = Stack()
        names = [svc.name for svc in stack.select(services)] if services else list(SERVICE_NAMES)
        with ConsoleReporter(console, names) as reporter:
            result = stack.up(services, reporter)
    except StackError as exc:
        raise _fail(exc) from exc
    elapsed = time.monotonic() - t0
    if result.noop:
        console.print(f"stack already up: nothing to do ({stack.ctx.paths.root})")
    else:
        console.print(f"started {', '.join(result.started)} in {elapsed:.1f}s ({stack.ctx.paths.root})")
    if as_json:
        print(
            json.dumps(
                {
                    "noop": result.noop,
                    "started": result.started,
                    "already_running": result.already_running,
                    "external": result.external,
                    "elapsed_s": round(elapsed, 1),
                }
            )
        )


@app.command()
def down(services: ServicesArg = None, as_json: JsonOpt = False) -> None:
    """Stop the services (SIGTERM, then SIGKILL after STACK_STOP_TIMEOUT); their data is kept."""
    from rich.console import Console

    from devstack.errors import StackError
    from devstack.manager import SERVICE_NAMES, Stack
    from devstack.progress import ConsoleReporter

    console = Console(stderr=as_json, soft_wrap=True)
    try:
        stack = Stack()
        names = [svc.name for svc in stack.select(services)] if services else list(SERVICE_NAMES)
        with ConsoleReporter(console, list(reversed(names))) as reporter:
            outcome = stack.down(services, reporter)
    except StackError as exc:
        raise _fail(exc) from exc
    if as_json:
        print(json.dumps(outcome))


@app.command()
def status(services: ServicesArg = None, as_json: JsonOpt = False) -> None:
    """Each service's pid, port and health (a real request). Exits 3 when any is not healthy."""
    from rich.console import Console
    from rich.table import Table

    from devstack.errors import StackError
    from devstack.manager import Stack

    try:
        stack = Stack()
        rows = stack.status(services)
    except StackError as exc:
        raise _fail(exc) from exc
    healthy = all(row.healthy for row in rows)
    stale = _stale_subjects(stack, rows)
    if as_json:
        print(
            json.dumps(
                {
                    "stack_dir": str(stack.ctx.paths.root),
                    "healthy": healthy,
                    "services": {row.name: row.to_json() for row in rows},
                    # null: not checked (Kafka or the registry not selected or not healthy)
                    "stale_subjects": stale,
                },
                indent=2,
            )
        )
    else:
        table = Table(title=f"stack at {stack.ctx.paths.root}")
        for column in ("service", "state", "pid", "address", "uptime"):
            table.add_column(column, no_wrap=True)
        table.add_column("detail")
        colors = {"healthy": "green", "external": "cyan", "stopped": "dim"}
        for row in rows:
            color = colors.get(row.state, "red")
            uptime = f"{row.uptime_s:.0f}s" if row.uptime_s is not None else ""
            table.add_row(row.name, f"[{color}]{row.state}[/]", str(row.pid or ""), row.address, uptime, row.detail)
        Console().print(table)
        if stale:
            shown = ", ".join(stale[:5]) + (f" and {len(stale) - 5} more" if len(stale) > 5 else "")
            Console(stderr=True, soft_wrap=True).print(
                f"[yellow]warning:[/] the schema registry holds {len(stale)} subject(s) of topics that no longer "
                f"exist: {shown} (`anomaly stack status --json` lists them all)",
                highlight=False,
            )
    if not healthy:
        raise typer.Exit(_STATUS_UNHEALTHY_EXIT)


def _stale_subjects(stack: Stack, rows: list[ServiceStatus]) -> list[str] | None:
    """Registry subjects of deleted topics, when Kafka and the registry both answered."""
    from devstack.housekeeping import stale_subjects

    answered = {row.name for row in rows if row.healthy}
    if not {"kafka", "schema_registry"} <= answered:
        return None
    return stale_subjects(stack.ctx.kafka, timeout_s=5.0)


@app.command()
def env(
    export: Annotated[bool, typer.Option("--export", help="Prefix lines with `export `.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """KEY=VALUE lines for the services' connection settings: `eval "$(anomaly stack env --export)"`."""
    from devstack.env import StackEnv

    variables = StackEnv.from_env().variables()
    if as_json:
        print(json.dumps(variables, indent=2))
        return
    prefix = "export " if export else ""
    for key, value in variables.items():
        print(f"{prefix}{key}={shlex.quote(value)}")


@app.command()
def logs(
    service: Annotated[str | None, typer.Argument(help="One service (default: all).")] = None,
    follow: Annotated[bool, typer.Option("--follow", "-f", help="Keep printing new lines.")] = False,
    lines: Annotated[int, typer.Option("--lines", "-n", help="Lines of history to show.")] = 40,
) -> None:
    """Show (and with -f follow) the services' logs."""
    from devstack.errors import StackError
    from devstack.manager import Stack
    from devstack.process import tail

    try:
        services = Stack().select([service] if service else None)
    except StackError as exc:
        raise _fail(exc) from exc
    paths = {svc.name: svc.log_path for svc in services}
    for name, path in paths.items():
        if len(paths) > 1:
            print(f"==> {name}: {path} <==")
        print(tail(path, lines) if path.exists() else "(no log yet)")
    if follow:
        _follow(paths, prefix=len(paths) > 1)


def _follow(paths: dict[str, Path], *, prefix: bool) -> None:
    offsets = {name: path.stat().st_size if path.exists() else 0 for name, path in paths.items()}
    try:
        while True:
            for name, path in paths.items():
                if not path.exists():
                    continue
                size = path.stat().st_size
                offsets[name] = min(offsets[name], size)  # the file was truncated or replaced
                if size > offsets[name]:
                    with path.open("rb") as fh:
                        fh.seek(offsets[name])
                        chunk = fh.read().decode(errors="replace")
                    offsets[name] = size
                    for line in chunk.splitlines():
                        print(f"[{name}] {line}" if prefix else line, flush=True)
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
