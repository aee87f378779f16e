"""The notify worker's logic around IO: one alert change -> decisions per target -> sends -> records.

For each input record, in one transaction on its alert (``NotifyStore.alert``):

1. read what the worker knew of the alert, apply the event or action, work out what changed (``routing``);
2. per target: decide; skip what is not its business or was already decided (a restart, a rebalance);
3. send what is due (``TargetChannel``: breaker, retries), record every decision (sent, failed, quiet,
   rate-limited) in ``notifications``;
4. plan or cancel the escalation, save the alert, commit;
5. return a dead letter for each failed send; the runtime commits the offset only after they are acknowledged.

The escalation loop (``escalate_due``) runs the same steps for alerts nobody acknowledged in time.
"""

from __future__ import annotations

import logging
import threading
from collections import defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from anomaly_core.dlq import dead_letter
from anomaly_core.errors import PermanentError
from anomaly_core.runtime import Message, Output
from notify.alert import Alert
from notify.config import Change, NotifyConfig, TargetRules
from notify.delivery import Outcome, TargetChannel
from notify.payloads import Notice
from notify.routing import Verdict, change_of_action, changes_of, decide, escalation_due
from notify.store import AlertTx, NotifyStore
from schemas.records import ActionKind, AnomalyAction, AnomalyEvent, DeadLetterStage, ObjectRef

log = logging.getLogger(__name__)

_RECENT_KEPT = 1000


class NotificationFailedError(PermanentError):
    """A notification given up on after its last retry (or refused by an open circuit)."""


@dataclass(frozen=True, slots=True)
class Sent:
    target: TargetRules
    notice: Notice
    outcome: Outcome


def now_utc() -> datetime:
    return datetime.now(tz=UTC)


class Notifier:
    def __init__(
        self,
        config: NotifyConfig,
        channels: dict[str, TargetChannel],
        store: NotifyStore,
        *,
        dlq_topic: str,
        evidence_url: Callable[[ObjectRef], str | None] = lambda _ref: None,
        clock: Callable[[], datetime] = now_utc,
    ) -> None:
        self.config = config
        self.channels = channels
        self.store = store
        self.dlq_topic = dlq_topic
        self.evidence_url = evidence_url
        self.clock = clock
        self.recent: dict[str, deque[datetime]] = defaultdict(lambda: deque(maxlen=_RECENT_KEPT))
        # The stream and the escalation loop share the channels, the rate-limit history and the connection.
        self._lock = threading.Lock()

    # --- the stream ---------------------------------------------------------------------------------------------

    def handle(self, message: Message[Any]) -> list[Output]:
        """The runtime's per-message handler: AnomalyEvents and AnomalyActions."""
        with self._lock:
            if isinstance(message.value, AnomalyAction):
                failures = self._on_action(message.value)
            else:
                failures = self._on_event(message.value)
        return [self._dead_letter(message, sent) for sent in failures]

    def _on_event(self, event: AnomalyEvent) -> list[Sent]:
        with self.store.alert(event.anomaly_id) as tx:
            previous = tx.alert
            if previous is not None and event.revision <= previous.revision:
                return []  # a redelivery or an older revision: already handled
            alert = replace(Alert.of_event(event), **tx.operator())
            changes = changes_of(previous, alert)
            results = self._notify(tx, alert, changes, f"r{alert.revision}", self.config.targets)
            escalation = self._plan_escalation(tx, alert, results)
            tx.save(alert.camera_id, alert, tx.operator(), **escalation)
        return [r for r in results if not r.outcome.ok]

    def _on_action(self, action: AnomalyAction) -> list[Sent]:
        with self.store.alert(action.anomaly_id) as tx:
            operator = _apply(tx.operator(), action)
            stored = tx.alert
            escalation: dict[str, Any] = {}
            if action.kind in (ActionKind.ACKNOWLEDGE, ActionKind.RESOLVE):
                escalation = {"escalation_due": None}
            results: list[Sent] = []
            if stored is not None:
                alert = replace(stored, **operator)
                step = f"a{action.action_id}"
                results = self._notify(tx, alert, [change_of_action(action)], step, self.config.targets, action=action)
            tx.save(action.camera_id, None if stored is None else replace(stored, **operator), operator, **escalation)
        return [r for r in results if not r.outcome.ok]

    # --- escalation ---------------------------------------------------------------------------------------------

    def escalate_due(self) -> int:
        """Tells the next target about every alert whose escalation is due; returns how many were escalated."""
        done = 0
        with self._lock:
            due_ids = self.store.due_escalations(self.clock())
        for anomaly_id in due_ids:
            with self._lock, self.store.alert(anomaly_id) as tx:
                row, alert, now = tx.row or {}, tx.alert, self.clock()
                due = row.get("escalation_due")
                if alert is None or alert.handled or due is None or due > now:
                    continue  # acknowledged or rescheduled meanwhile
                try:
                    target = self.config.target(row["escalation_target"])
                except KeyError:  # the routing file changed since: nobody left to escalate to
                    log.warning(
                        "%s: escalation target %s is no longer configured", anomaly_id, row["escalation_target"]
                    )
                    tx.save(alert.camera_id, alert, tx.operator(), escalation_due=None)
                    continue
                level = int(row.get("escalation_level") or 0) + 1
                results = self._notify(tx, alert, [Change.ESCALATED], f"e{level}", [target], level=level)
                for failed in (r for r in results if not r.outcome.ok):
                    log.error("escalation of %s to %s failed: %s", anomaly_id, target.name, failed.outcome.detail)
                tx.save(
                    alert.camera_id,
                    alert,
                    tx.operator(),
                    escalation_target=target.escalate_to,
                    escalation_level=level,
                    escalation_due=escalation_due(target, now) if target.escalate_to else None,
                )
                done += 1
        return done

    # --- shared steps -------------------------------------------------------------------------------------------

    def _notify(
        self,
        tx: AlertTx,
        alert: Alert,
        changes: list[Change],
        step: str,
        targets: list[Any],
        *,
        action: AnomalyAction | None = None,
        level: int = 0,
    ) -> list[Sent]:
        """Decides, sends and records ``step`` of ``alert`` for each of ``targets``; returns what was attempted."""
        if not changes:
            return []
        now = self.clock()
        results: list[Sent] = []
        evidence_url: str | None = None
        for target in targets:
            decision = decide(self.config, target, alert, changes, now=now, recent=self.recent[target.name])
            if decision.verdict is Verdict.SKIP or decision.change is None or tx.done(step, target.name):
                continue
            if evidence_url is None and alert.best_frame is not None:
                evidence_url = self.evidence_url(alert.best_frame)
            notice = Notice(
                target.name,
                alert,
                decision.change,
                step,
                now,
                evidence_url=evidence_url,
                link_template=self.config.link_template,
                action=action,
                escalation_level=level,
            )
            channel = self.channels[target.name]
            if decision.verdict is Verdict.SEND:
                outcome = channel.deliver(notice)
                status = "sent" if outcome.ok else "failed"
                if outcome.ok:
                    self.recent[target.name].append(now)
                results.append(Sent(target, notice, outcome))
            else:
                outcome = Outcome(False, decision.reason, 0, 0.0)
                status = decision.verdict.value
                channel.metrics.held.labels(target.name, channel.kind).inc()
            log.info(
                "%s %s of %s to %s: %s", status, decision.change.value, alert.anomaly_id, target.name, outcome.detail
            )
            tx.record(
                step=step,
                target=target.name,
                camera_id=alert.camera_id,
                revision=alert.revision,
                channel=channel.kind,
                change=decision.change.value,
                status=status,
                detail=outcome.detail[:1000],
                attempts=outcome.attempts,
                latency_ms=round(outcome.latency_s * 1000, 3) if outcome.attempts else None,
                idempotency_key=notice.idempotency_key,
            )
        return results

    def _plan_escalation(self, tx: AlertTx, alert: Alert, results: list[Sent]) -> dict[str, Any]:
        """The first delivered notification to a target with ``escalate_to`` starts the escalation clock."""
        row = tx.row or {}
        if alert.handled or row.get("escalation_due") is not None or row.get("escalation_level"):
            return {}
        for sent in results:
            due = escalation_due(sent.target, sent.notice.created_at)
            if sent.outcome.ok and due is not None:
                return {"escalation_target": sent.target.escalate_to, "escalation_level": 0, "escalation_due": due}
        return {}

    def _dead_letter(self, message: Message[Any], sent: Sent) -> Output:
        channel = self.channels[sent.target.name]
        error = NotificationFailedError(
            f"{channel.kind} notification to {sent.target.name} for {sent.notice.idempotency_key} failed: "
            f"{sent.outcome.detail}"
        )
        letter = dead_letter(
            f"notify/{sent.target.name}",
            error,
            topic=message.topic,
            partition=message.partition,
            offset=message.offset,
            key=None if message.key is None else message.key.encode(),
            value=message.raw,
            stage=DeadLetterStage.HANDLE,
        )
        return Output(self.dlq_topic, message.key, letter)

    def close(self) -> None:
        for channel in self.channels.values():
            channel.close()
        self.store.close()


def _apply(operator: dict[str, Any], action: AnomalyAction) -> dict[str, Any]:
    """What operators did, after ``action``. As in the projection, the first ACKNOWLEDGE or RESOLVE is the
    acknowledgement that is kept (resolving an alert nobody acknowledged acknowledges it)."""
    updated = dict(operator)
    handled = action.kind in (ActionKind.ACKNOWLEDGE, ActionKind.RESOLVE)
    if handled and updated.get("acknowledged_at") is None:
        updated["acknowledged_by"], updated["acknowledged_at"] = action.actor, action.at
    if action.kind is ActionKind.ASSIGN:
        updated["assignee"] = action.assignee
    elif action.kind is ActionKind.RESOLVE:
        updated["resolution"] = action.resolution.value if action.resolution else None
    return updated
