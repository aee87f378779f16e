"""Scoring of an ``anomaly analyze`` report against labels. Pure: labels and report.json's anomalies in, numbers out.

- A labelled event is **found** when an anomaly of one of its kinds (FALL or PERSON_DOWN for a fall) overlaps its
  span widened by the tolerance. Recall per kind = found / labelled events.
- A **false alarm** is one kind of one anomaly that no labelled event of its clip explains: any anomaly on a
  negative clip, or one of another kind or outside every span on a positive clip.
- **Time to first alert** of a found event: from the span start to the earliest moment, in the recording, the
  rules could alert. report.json does not say when a decision was made (``analyze`` fuses a file in one batch, so
  an incident's first revision already holds all of it), so it is estimated from the report's pose timeline: the
  first lying sighting (torso >= ``lying_deg``) at or after the incident's first evidence, plus how long lying
  must persist (``fall_persist_s`` for FALL, ``down_persist_s`` for PERSON_DOWN alone). Alerts of other kinds, or
  without a lying sighting, use the incident start (its first evidence).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from evaluation.labels import Event, LabelSet
from schemas.records import AnomalyKind

FALL_RECALL_TARGET = 0.9
FIRST_ALERT_TARGET_S = 3.0


@dataclass(frozen=True, slots=True)
class Alert:
    """One anomaly of the report, as the scoring needs it (seconds from the file start)."""

    kinds: tuple[AnomalyKind, ...]
    start_s: float
    end_s: float
    decided_s: float | None = None  # estimated earliest decision (see the module doc); None: use start_s

    @property
    def alert_time_s(self) -> float:
        return max(self.start_s, self.decided_s) if self.decided_s is not None else self.start_s


@dataclass(frozen=True, slots=True)
class LyingRule:
    """The pose rule's numbers the decision estimate needs (fusion_app/rules.yaml ``pose:``)."""

    lying_deg: float = 60.0
    fall_persist_s: float = 1.0
    down_persist_s: float = 3.0


@dataclass(frozen=True, slots=True)
class KindRow:
    kind: str
    events: int
    found: int
    recall: float | None  # None when no event of the kind is labelled
    false_alarms: int
    first_alert_p50_s: float | None
    first_alert_max_s: float | None


@dataclass(frozen=True, slots=True)
class EventResult:
    kind: str
    span: tuple[float, float]
    found: bool
    first_alert_s: float | None  # from the span start


@dataclass(frozen=True, slots=True)
class ClipRow:
    clip: str
    expect: str  # "FALL/PERSON_DOWN 4.0-14.0 s", or "nothing"
    analysed: bool
    events: list[EventResult]
    alerts: list[str]  # "FALL 3.8-14.0 s (alert at 5.2 s)"
    false_alarms: list[str]  # kind of each false alarm


@dataclass(frozen=True, slots=True)
class Target:
    name: str
    met: bool
    value: str


@dataclass(frozen=True, slots=True)
class Evaluation:
    labels_version: str
    tolerance_s: float
    kinds: list[KindRow]
    clips: list[ClipRow]
    targets: list[Target]
    not_analysed: list[str]


def alerts_from_report(report: Mapping[str, Any], rule: LyingRule | None = None) -> dict[str, list[Alert]]:
    """Camera id -> its anomalies, from a report.json body."""
    rule = rule or LyingRule()
    out: dict[str, list[Alert]] = {}
    for camera in report.get("cameras", []):
        torso: list[dict[str, Any]] = next(
            (s["points"] for s in camera.get("series", []) if s["key"] == "pose.torso_angle_deg"), []
        )
        timeline = [(float(p["t_s"]), float(p["value"])) for p in torso]
        out[str(camera["camera_id"])] = [
            _alert(tuple(AnomalyKind(k) for k in a["kinds"]), float(a["start_s"]), float(a["end_s"]), timeline, rule)
            for a in camera.get("anomalies", [])
        ]
    return out


def _alert(
    kinds: tuple[AnomalyKind, ...], start: float, end: float, torso: list[tuple[float, float]], rule: LyingRule
) -> Alert:
    if AnomalyKind.FALL in kinds:
        persist = rule.fall_persist_s
    elif AnomalyKind.PERSON_DOWN in kinds:
        persist = rule.down_persist_s
    else:
        return Alert(kinds, start, end)
    lying = next((t for t, angle in sorted(torso) if start <= t <= end and angle >= rule.lying_deg), None)
    return Alert(kinds, start, end, None if lying is None else round(lying + persist, 3))


def _overlaps(alert: Alert, event: Event, tolerance: float) -> bool:
    return alert.start_s <= event.end_s + tolerance and alert.end_s >= event.start_s - tolerance


def _explained(alert: Alert, kind: AnomalyKind, events: Iterable[Event], tolerance: float) -> bool:
    return any(kind in e.kinds and _overlaps(alert, e, tolerance) for e in events)


def percentile(values: list[float], q: float) -> float | None:
    """Nearest-rank percentile (``q`` in 0..100) of ``values``; None when empty."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def _span_text(e: Event) -> str:
    return f"{'/'.join(k.value for k in e.kinds)} {e.start_s:g}-{e.end_s:g} s"


def score(labels: LabelSet, alerts: Mapping[str, list[Alert]]) -> Evaluation:
    """Per-kind and per-clip results of one run; clips without a camera in ``alerts`` count as not analysed."""
    tol = labels.tolerance_s
    results: list[EventResult] = []
    false_alarms: dict[str, int] = {}
    clips: list[ClipRow] = []
    for clip in labels.clips:
        found_alerts = alerts.get(clip.name)
        if found_alerts is None:
            clips.append(ClipRow(clip.name, _expect(clip.events), False, [], [], []))
            continue
        events = [_event_result(e, found_alerts, tol) for e in clip.events]
        results.extend(events)
        wrong = [k.value for a in found_alerts for k in a.kinds if not _explained(a, k, clip.events, tol)]
        for kind in wrong:
            false_alarms[kind] = false_alarms.get(kind, 0) + 1
        shown = [
            f"{'/'.join(k.value for k in a.kinds)} {a.start_s:.1f}-{a.end_s:.1f} s"
            + (f" (decidable at {a.alert_time_s:.1f} s)" if a.decided_s is not None else "")
            for a in found_alerts
        ]
        clips.append(ClipRow(clip.name, _expect(clip.events), True, events, shown, wrong))
    kinds = _kind_rows(results, false_alarms)
    return Evaluation(
        labels_version=labels.version,
        tolerance_s=tol,
        kinds=kinds,
        clips=clips,
        targets=_targets(kinds),
        not_analysed=[c.clip for c in clips if not c.analysed],
    )


def _expect(events: tuple[Event, ...]) -> str:
    return "; ".join(_span_text(e) for e in events) or "nothing"


def _event_result(event: Event, alerts: list[Alert], tolerance: float) -> EventResult:
    matching = [a for a in alerts if any(k in event.kinds for k in a.kinds) and _overlaps(a, event, tolerance)]
    first = min((a.alert_time_s for a in matching), default=None)
    return EventResult(
        kind=event.kind.value,
        span=(event.start_s, event.end_s),
        found=bool(matching),
        first_alert_s=None if first is None else round(first - event.start_s, 3),
    )


def _kind_rows(results: list[EventResult], false_alarms: dict[str, int]) -> list[KindRow]:
    order = [k.value for k in AnomalyKind]
    kinds = sorted({r.kind for r in results} | set(false_alarms), key=order.index)
    rows = []
    for kind in kinds:
        mine = [r for r in results if r.kind == kind]
        found = [r for r in mine if r.found]
        delays = [r.first_alert_s for r in found if r.first_alert_s is not None]
        rows.append(
            KindRow(
                kind=kind,
                events=len(mine),
                found=len(found),
                recall=round(len(found) / len(mine), 3) if mine else None,
                false_alarms=false_alarms.get(kind, 0),
                first_alert_p50_s=percentile(delays, 50),
                first_alert_max_s=max(delays, default=None),
            )
        )
    return rows


def _targets(kinds: list[KindRow]) -> list[Target]:
    """The issue's targets: fall recall >= 90 %, no VIOLENCE where none is labelled, first alert <= 3 s."""
    by_kind = {r.kind: r for r in kinds}
    fall = by_kind.get(AnomalyKind.FALL.value)
    violence = by_kind.get(AnomalyKind.VIOLENCE.value)
    recall = fall.recall if fall else None
    slowest = fall.first_alert_max_s if fall else None
    alarms = violence.false_alarms if violence else 0
    return [
        Target(
            f"fall recall >= {FALL_RECALL_TARGET:.0%}",
            recall is not None and recall >= FALL_RECALL_TARGET,
            "no fall labelled" if recall is None else f"{recall:.0%}",
        ),
        Target("no VIOLENCE where none is labelled", alarms == 0, f"{alarms} false VIOLENCE alarm(s)"),
        Target(
            f"first fall alert <= {FIRST_ALERT_TARGET_S:g} s after the fall",
            slowest is not None and slowest <= FIRST_ALERT_TARGET_S,
            "no fall found" if slowest is None else f"max {slowest:.1f} s",
        ),
    ]
