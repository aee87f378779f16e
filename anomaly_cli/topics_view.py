"""What `anomaly topics create|list` report: one row per topic, and the table of the listing."""

from __future__ import annotations

from dataclasses import dataclass

from rich.table import Table


@dataclass(frozen=True)
class CreatedRow:
    name: str
    result: str  # created | exists
    partitions: int
    expected_partitions: int
    retention_ms: int | None
    mismatch: bool  # an existing topic with another partition count breaks co-partitioning


@dataclass(frozen=True)
class ListedRow:
    name: str
    exists: bool
    in_catalog: bool
    partitions: int | None
    retention_ms: int | None
    cleanup_policy: str | None
    value_record: str | None


def retention_text(ms: int | None) -> str:
    if ms is None:
        return "?"
    if ms < 0:
        return "forever"
    hours = ms / 3_600_000
    return f"{hours / 24:g}d" if hours >= 24 else f"{hours:g}h"


def listed_table(bootstrap: str, rows: list[ListedRow]) -> Table:
    table = Table(title=f"topics on {bootstrap}")
    for column in ("topic", "partitions", "retention", "cleanup", "value"):
        table.add_column(column)
    for row in rows:
        if row.exists:
            table.add_row(
                row.name,
                str(row.partitions),
                retention_text(row.retention_ms),
                row.cleanup_policy or "",
                row.value_record or "",
            )
        else:
            table.add_row(row.name, "[red]missing[/]", "", "", row.value_record or "")
    return table
