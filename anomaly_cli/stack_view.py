"""What `anomaly stack status` prints: a table of the services, and a warning about stale registry subjects."""

from __future__ import annotations

from pathlib import Path

from rich.table import Table

from devstack.manager import ServiceStatus

_STATE_COLOURS = {"healthy": "green", "external": "cyan", "stopped": "dim"}


def status_table(root: Path, rows: list[ServiceStatus]) -> Table:
    table = Table(title=f"stack at {root}")
    for column in ("service", "state", "pid", "address", "uptime"):
        table.add_column(column, no_wrap=True)
    table.add_column("detail")
    for row in rows:
        color = _STATE_COLOURS.get(row.state, "red")
        uptime = f"{row.uptime_s:.0f}s" if row.uptime_s is not None else ""
        table.add_row(row.name, f"[{color}]{row.state}[/]", str(row.pid or ""), row.address, uptime, row.detail)
    return table


def stale_warning(stale: list[str]) -> str:
    shown = ", ".join(stale[:5]) + (f" and {len(stale) - 5} more" if len(stale) > 5 else "")
    return (
        f"[yellow]warning:[/] the schema registry holds {len(stale)} subject(s) of topics that no longer "
        f"exist: {shown} (`anomaly stack status --json` lists them all, `anomaly topics prune-subjects` deletes them)"
    )
