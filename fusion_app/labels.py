"""Operator resolutions as labels for tuning: ``anomaly backtest labels`` exports them, ``anomaly backtest diff
--labels FILE`` says how each rules file does on them.

A label is one resolved anomaly: its camera, its incident span and the operator's verdict (TRUE_ALARM,
FALSE_ALARM; TEST resolutions are exported but not scored). A rules file *raises* a label when one of its
incidents on the same camera overlaps the label's span. Reading is a thin query of the projection, where the
resolutions come from anomalies.actions.v1; scoring is pure.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

import psycopg
from psycopg.rows import dict_row

_LABELS = """
select anomaly_id, camera_id, incident_start, incident_end, kinds, resolution, resolved_by, resolved_at, rules_version
from anomalies
where resolution is not null and (%(since)s::timestamptz is null or incident_start >= %(since)s)
order by incident_start, anomaly_id
"""


@dataclass(frozen=True, slots=True)
class Label:
    anomaly_id: str
    camera_id: str
    start_ms: int
    end_ms: int
    kinds: list[str]
    resolution: str  # TRUE_ALARM | FALSE_ALARM | TEST
    resolved_by: str
    resolved_at: str
    rules_version: str


class Span(Protocol):
    """What is compared with a label: an incident of a backtest run (``backtest.IncidentSummary``)."""

    @property
    def camera_id(self) -> str: ...

    @property
    def start_ms(self) -> int: ...

    @property
    def end_ms(self) -> int: ...


@dataclass
class LabelScore:
    """How one rules file does on the labels: false alarms it still raises, true alarms it still catches."""

    false_alarms: int = 0
    false_alarms_raised: list[str] = field(default_factory=list)
    true_alarms: int = 0
    true_alarms_missed: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _ms(value: Any) -> int:
    return int(value.timestamp() * 1000)


def label_of(row: dict[str, Any]) -> Label:
    return Label(
        anomaly_id=str(row["anomaly_id"]),
        camera_id=str(row["camera_id"]),
        start_ms=_ms(row["incident_start"]),
        end_ms=_ms(row["incident_end"]),
        kinds=list(row["kinds"] or []),
        resolution=str(row["resolution"]),
        resolved_by=str(row["resolved_by"] or ""),
        resolved_at=row["resolved_at"].isoformat() if row["resolved_at"] else "",
        rules_version=str(row["rules_version"]),
    )


def read_labels(dsn: str, *, since: Any = None) -> list[Label]:
    """Every resolved anomaly of the projection (incidents starting at or after ``since``), oldest first."""
    with psycopg.connect(dsn, row_factory=dict_row) as conn:
        return [label_of(row) for row in conn.execute(_LABELS, {"since": since}).fetchall()]


def to_json(label: Label) -> str:
    return json.dumps(asdict(label), sort_keys=True)


def write_labels(labels: Iterable[Label], path: Path) -> int:
    """JSON lines, one label each; returns how many."""
    lines = [to_json(label) for label in labels]
    path.write_text("".join(line + "\n" for line in lines))
    return len(lines)


def load_labels(path: Path) -> list[Label]:
    """Labels written by ``write_labels``; ValueError naming the line that is not one."""
    labels = []
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if not line.strip():
            continue
        try:
            labels.append(Label(**json.loads(line)))
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{path}:{number}: not a label ({exc})") from exc
    return labels


def raised(label: Label, incidents: Sequence[Span]) -> bool:
    return any(
        i.camera_id == label.camera_id and i.start_ms <= label.end_ms and label.start_ms <= i.end_ms for i in incidents
    )


def score(labels: Iterable[Label], incidents: Sequence[Span]) -> LabelScore:
    """Pure: the false alarms ``incidents`` still raise and the true alarms they miss."""
    result = LabelScore()
    for label in labels:
        if label.resolution == "FALSE_ALARM":
            result.false_alarms += 1
            if raised(label, incidents):
                result.false_alarms_raised.append(label.anomaly_id)
        elif label.resolution == "TRUE_ALARM":
            result.true_alarms += 1
            if not raised(label, incidents):
                result.true_alarms_missed.append(label.anomaly_id)
    return result
