"""Who is told what, and when: pure functions of the routing file, the alert, its change and the time.

``changes_of`` says what a revision changed; ``decide`` says, for one target, whether that change is sent, skipped
(not this target's business: nothing is recorded) or held back (quiet hours, outside the schedule, over the rate
limit: recorded, so the API shows why nobody was told).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from notify.alert import Alert
from notify.config import DAYS, Change, NotifyConfig, RateLimit, TargetRules, Window
from schemas.records import ActionKind, AnomalyAction, AnomalyState, Severity

SEVERITY_ORDER = {s: i for i, s in enumerate((Severity.LOW, Severity.MEDIUM, Severity.HIGH, Severity.CRITICAL))}
_DAY_INDEX = {name: i for i, name in enumerate(DAYS)}
_ACTION_CHANGE = {
    ActionKind.ACKNOWLEDGE: Change.ACKNOWLEDGED,
    ActionKind.ASSIGN: Change.ASSIGNED,
    ActionKind.RESOLVE: Change.RESOLVED,
    ActionKind.NOTE: Change.NOTE,
}


class Verdict(StrEnum):
    SEND = "send"
    SKIP = "skip"  # not for this target
    QUIET = "quiet"  # quiet hours or outside the schedule
    RATE_LIMITED = "rate_limited"


@dataclass(frozen=True, slots=True)
class Decision:
    verdict: Verdict
    reason: str
    change: Change | None = None


def changes_of(previous: Alert | None, current: Alert) -> list[Change]:
    """What ``current`` changed for a person since ``previous`` (most important first); [] for a mere refresh."""
    if previous is None:
        return [Change.CLOSED] if current.state is AnomalyState.CLOSED else [Change.OPENED]
    if current.revision <= previous.revision:
        return []  # redelivered or older: nothing new
    changes: list[Change] = []
    if current.state is AnomalyState.CLOSED and previous.state is not AnomalyState.CLOSED:
        changes.append(Change.CLOSED)
    up = SEVERITY_ORDER[current.severity] - SEVERITY_ORDER[previous.severity]
    if up > 0:
        changes.append(Change.SEVERITY_UP)
    elif up < 0:
        changes.append(Change.SEVERITY_DOWN)
    if set(current.kinds) - set(previous.kinds):
        changes.append(Change.NEW_KIND)
    return changes


def change_of_action(action: AnomalyAction) -> Change:
    return _ACTION_CHANGE[action.kind]


def in_window(window: Window, local: datetime) -> bool:
    """Whether local wall-clock time ``local`` is inside ``window`` (a window crossing midnight belongs to the day
    it starts on)."""
    t, day = local.time().replace(tzinfo=None), local.weekday()
    if window.start <= window.end:
        return day in _days(window) and window.start <= t < window.end
    if t >= window.start:
        return day in _days(window)
    return t < window.end and (day - 1) % 7 in _days(window)


def _days(window: Window) -> set[int]:
    return {_DAY_INDEX[d] for d in window.days}


def rate_allows(sent_at: Sequence[datetime], now: datetime, limit: RateLimit | None) -> bool:
    """Whether one more notification fits ``limit`` given the times of the recent ones."""
    if limit is None:
        return True
    since = now - timedelta(minutes=limit.per_minutes)
    return sum(1 for t in sent_at if t > since) < limit.count


def matches(target: TargetRules, alert: Alert) -> str | None:
    """Why ``alert`` is not for ``target`` (None: it is)."""
    if target.cameras is not None and alert.camera_id not in target.cameras:
        return f"camera {alert.camera_id} not in the target's cameras"
    if SEVERITY_ORDER[alert.severity] < SEVERITY_ORDER[target.min_severity]:
        return f"severity {alert.severity.value} below {target.min_severity.value}"
    if target.kinds is not None and not {k.value for k in target.kinds} & set(alert.kinds):
        return f"kinds {','.join(alert.kinds)} not among the target's kinds"
    return None


def timing(target: TargetRules, now: datetime) -> str | None:
    """Why nobody is told now (quiet hours, outside the schedule); None when the time is right."""
    local = now.astimezone(target.zone)
    for window in target.quiet_hours:
        if in_window(window, local):
            return f"quiet hours {window.start:%H:%M}-{window.end:%H:%M} {target.timezone}"
    if target.schedule is not None and not any(in_window(w, local) for w in target.schedule):
        return f"outside the schedule ({target.timezone})"
    return None


def decide(
    config: NotifyConfig,
    target: TargetRules,
    alert: Alert,
    changes: Sequence[Change],
    *,
    now: datetime,
    recent: Sequence[datetime] = (),
) -> Decision:
    """The decision for one target about one change of ``alert`` (``recent``: the target's recent send times)."""
    if alert.origin not in {o.value for o in config.origins}:
        return Decision(Verdict.SKIP, f"origin {alert.origin} is not notified")
    wanted = [c for c in changes if c in config.changes_for(target)]
    if not wanted:
        shown = ",".join(c.value for c in changes) or "nothing"
        return Decision(Verdict.SKIP, f"change {shown} does not notify this target")
    change = wanted[0]
    mismatch = matches(target, alert)
    if mismatch is not None:
        return Decision(Verdict.SKIP, mismatch, change)
    held = timing(target, now)
    if held is not None:
        return Decision(Verdict.QUIET, held, change)
    if not rate_allows(recent, now, target.rate_limit):
        assert target.rate_limit is not None
        limit = target.rate_limit
        return Decision(Verdict.RATE_LIMITED, f"over {limit.count} per {limit.per_minutes:g} min", change)
    return Decision(Verdict.SEND, "", change)


def escalation_due(target: TargetRules, notified_at: datetime) -> datetime | None:
    """When an unacknowledged alert this target was told about goes to its ``escalate_to`` target."""
    if target.escalate_after_minutes is None:
        return None
    return notified_at + timedelta(minutes=target.escalate_after_minutes)
