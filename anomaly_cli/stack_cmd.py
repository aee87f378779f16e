"""`anomaly stack`: the embedded local stack (Kafka, schema registry, PostgreSQL, MinIO)."""

from __future__ import annotations

import json
import shlex
import time
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

    from anomaly_cli.stack_view import stale_warning, status_table
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
        Console().print(status_table(stack.ctx.paths.root, rows))
        if stale:
            Console(stderr=True, soft_wrap=True).print(stale_warning(stale), highlight=False)
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
    from devstack.process import follow as follow_logs
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
        follow_logs(paths, prefix=len(paths) > 1)
