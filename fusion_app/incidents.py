"""Incident lifecycle per camera: hysteresis, cooldown and revisions. Pure functions over immutable values.

One incident is one anomaly id, ``uuid5(camera | incident start | rules version)``, so a replay of the same scores
under the same rules names the same incidents. An incident opens on an alerting window, absorbs every window that
scores at least the (lower) hold level, and closes once the camera's event time has moved ``quiet_ms`` (plus the
allowed lateness, so no late score could still extend it) past its last holding evidence. A new incident cannot
open on evidence within ``cooldown_ms`` of the previous one's end: the same fall does not alert twice.

A new revision is published only when something an operator cares about changes (kinds, severity, a clear rise of
score, the caption, the close), which bounds the revisions per incident to a handful.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass, replace
from typing import TypeVar

from fusion_app.fuse import SEVERITY_ORDER, Decision, Reason
from fusion_app.rules import Rules
from fusion_app.window import AudioObs, CaptionObs, PoseObs, SceneObs
from schemas.records import AnomalyKind, AnomalyState, LineageEntry, ObjectRef, Severity

T = TypeVar("T")

#: Namespace of anomaly ids (fixed forever: changing it renames every incident).
ANOMALY_NAMESPACE = uuid.UUID("6f1c3a52-3c2e-5b8e-9d0a-7a4f2b1e9c11")
#: Closed incidents kept per camera, for the cooldown and for captions that arrive after the close.
RECENT_CLOSED = 3


def anomaly_id(camera_id: str, start_ms: int, rules_version: str) -> str:
    return str(uuid.uuid5(ANOMALY_NAMESPACE, f"{camera_id}|{start_ms}|{rules_version}"))


@dataclass(frozen=True, slots=True)
class Incident:
    anomaly_id: str
    camera_id: str
    rules_version: str
    start_ms: int
    end_ms: int  # event time of the latest holding evidence
    window_start_ms: int  # window of the latest holding decision
    window_end_ms: int
    kinds: tuple[AnomalyKind, ...]
    severity: Severity
    score: float
    reasons: tuple[Reason, ...]  # one per rule, the strongest seen
    frames: tuple[ObjectRef, ...]
    best_frame: ObjectRef | None
    best_score: float
    audio: tuple[ObjectRef, ...]
    transcript: str | None
    caption: str | None
    lineage: tuple[LineageEntry, ...]
    closed: bool = False
    revision: int = 0  # last published revision, 0 before the first
    state: AnomalyState = AnomalyState.CANDIDATE  # state of the last published revision
    published: str = ""  # what the last revision showed (see _signature), to tell whether a new one is due
    published_score: float = 0.0


@dataclass(frozen=True, slots=True)
class Incidents:
    active: Incident | None = None
    recent: tuple[Incident, ...] = ()  # closed, newest first


def on_decision(incidents: Incidents, decision: Decision, rules: Rules) -> tuple[Incidents, bool]:
    """Folds one window decision in; returns the new value and whether an alert was suppressed (cooldown)."""
    quiet = rules.incidents.quiet_ms
    active = incidents.active
    if active is not None:
        if not decision.hold:
            return incidents, False
        if decision.last_evidence_ms < active.start_ms - quiet:
            # Evidence from well before the open incident (read late): not part of it, and it cannot open a
            # second incident while this one is open.
            return incidents, decision.alert
        return replace(incidents, active=_absorb(active, decision, rules)), False
    if not decision.alert:
        return incidents, False
    start = decision.first_evidence_ms
    for done in incidents.recent:
        # Cooldown after an incident (and no second incident on evidence from inside it, read late).
        if done.start_ms - quiet <= start <= done.end_ms + rules.incidents.cooldown_ms:
            return incidents, True
    return replace(incidents, active=_open(decision, rules)), False


def on_watermark(incidents: Incidents, watermark_ms: int, rules: Rules) -> Incidents:
    """Closes the active incident once no late score could extend it any more."""
    active = incidents.active
    if active is None:
        return incidents
    if watermark_ms < active.end_ms + rules.incidents.quiet_ms + rules.windows.allowed_lateness_ms:
        return incidents
    return close(incidents)


def close(incidents: Incidents) -> Incidents:
    """Closes the active incident now (quiet period over, or the camera went idle)."""
    if incidents.active is None:
        return incidents
    done = replace(incidents.active, closed=True)
    return Incidents(active=None, recent=(done, *incidents.recent)[:RECENT_CLOSED])


def on_caption(incidents: Incidents, caption: CaptionObs, rules: Rules) -> tuple[Incidents, bool]:
    """Attaches a caption to the incident it names; returns whether that incident is known here."""
    if incidents.active is not None and incidents.active.anomaly_id == caption.anomaly_id:
        return replace(incidents, active=_captioned(incidents.active, caption, rules)), True
    for i, inc in enumerate(incidents.recent):
        if inc.anomaly_id == caption.anomaly_id:
            updated = _captioned(inc, caption, rules)
            recent = (*incidents.recent[:i], updated, *incidents.recent[i + 1 :])
            return replace(incidents, recent=recent), True
    return incidents, False


def _captioned(inc: Incident, caption: CaptionObs, rules: Rules) -> Incident:
    # The caption does not go through the lineage cap: it is one entry and it must be traceable.
    lineage = _merge(inc.lineage, (caption.source,), rules.incidents.max_lineage + 1, _lineage_key)
    return replace(inc, caption=caption.caption, lineage=lineage)


def due(incidents: Incidents, rules: Rules) -> tuple[Incidents, list[Incident]]:
    """Incidents whose change deserves a new revision, with revision and state already advanced."""
    out: list[Incident] = []
    active = incidents.active
    if active is not None and _is_due(active, rules):
        active = _publish(active, out)
    recent = list(incidents.recent)
    for i, inc in enumerate(recent):
        if _is_due(inc, rules):
            recent[i] = _publish(inc, out)
    return Incidents(active=active, recent=tuple(recent)), out


def _signature(inc: Incident) -> str:
    kinds = ",".join(k.value for k in inc.kinds)
    return f"{kinds}|{inc.severity.value}|{inc.closed}|{inc.caption}"


def _is_due(inc: Incident, rules: Rules) -> bool:
    if inc.revision == 0:
        return True
    if _signature(inc) != inc.published:
        return True
    return inc.score >= inc.published_score + rules.incidents.score_step


def _publish(inc: Incident, out: list[Incident]) -> Incident:
    """Appends the next revision(s) to ``out``: every incident starts with a CANDIDATE revision (the one that is
    captioned), even one that opened and closed within a single batch of a replay."""
    if inc.revision == 0 and inc.closed:
        inc = replace(_publish(replace(inc, closed=False), out), closed=True)
    if inc.closed:
        state = AnomalyState.CLOSED
    elif inc.revision == 0:
        state = AnomalyState.CANDIDATE
    elif inc.state == AnomalyState.CANDIDATE:
        state = AnomalyState.OPEN
    else:
        state = AnomalyState.ONGOING
    published = replace(
        inc, revision=inc.revision + 1, state=state, published=_signature(inc), published_score=inc.score
    )
    out.append(published)
    return published


def _open(decision: Decision, rules: Rules) -> Incident:
    start = decision.first_evidence_ms
    empty = Incident(
        anomaly_id=anomaly_id(decision.camera_id, start, rules.version),
        camera_id=decision.camera_id,
        rules_version=rules.version,
        start_ms=start,
        end_ms=start,
        window_start_ms=decision.window_start_ms,
        window_end_ms=decision.window_end_ms,
        kinds=(),
        severity=Severity.LOW,
        score=0.0,
        reasons=(),
        frames=(),
        best_frame=None,
        best_score=-1.0,
        audio=(),
        transcript=None,
        caption=None,
        lineage=(),
    )
    return _absorb(empty, decision, rules)


def _absorb(inc: Incident, decision: Decision, rules: Rules) -> Incident:
    limits = rules.incidents
    order = {k: SEVERITY_ORDER.index(rules.fusion.severity[k]) for k in (*inc.kinds, *decision.kinds)}
    kinds = tuple(sorted(dict.fromkeys((*inc.kinds, *decision.kinds)), key=lambda k: -order[k]))
    severity = max(inc.severity, decision.severity, key=SEVERITY_ORDER.index)
    frames = tuple(o.frame for o in decision.evidence if isinstance(o, PoseObs | SceneObs))
    audio = tuple(o.audio for o in decision.evidence if isinstance(o, AudioObs))
    better = decision.best_frame is not None and decision.score > inc.best_score
    newest = max(inc.end_ms, decision.last_evidence_ms)
    later_window = decision.window_start_ms >= inc.window_start_ms
    return replace(
        inc,
        end_ms=newest,
        window_start_ms=decision.window_start_ms if later_window else inc.window_start_ms,
        window_end_ms=decision.window_end_ms if later_window else inc.window_end_ms,
        kinds=kinds,
        severity=severity,
        score=max(inc.score, decision.score),
        reasons=_strongest(inc.reasons, decision.reasons, limits.max_reasons),
        frames=_merge(inc.frames, frames, limits.max_frames, _ref_key),
        best_frame=decision.best_frame if better else inc.best_frame,
        best_score=decision.score if better else inc.best_score,
        audio=_merge(inc.audio, audio, limits.max_audio, _ref_key),
        transcript=inc.transcript or decision.transcript,
        lineage=_merge(inc.lineage, (o.source for o in decision.evidence), limits.max_lineage, _lineage_key),
    )


def _merge(old: tuple[T, ...], new: Iterable[T], cap: int, key: Callable[[T], Hashable]) -> tuple[T, ...]:
    """Union keeping first arrivals, capped (evidence and lineage must stay bounded per incident)."""
    merged = {key(x): x for x in old}
    for x in new:
        if len(merged) >= cap:
            break
        merged.setdefault(key(x), x)
    return tuple(merged.values())


def _strongest(old: tuple[Reason, ...], new: tuple[Reason, ...], cap: int) -> tuple[Reason, ...]:
    by_rule = {r.key: r for r in old}
    for r in new:
        stronger = r.key in by_rule and r.score > by_rule[r.key].score
        if stronger or (r.key not in by_rule and len(by_rule) < cap):
            by_rule[r.key] = r
    return tuple(sorted(by_rule.values(), key=lambda r: (-r.score, r.key)))


def _ref_key(ref: ObjectRef) -> Hashable:
    return (ref.bucket, ref.key)


def _lineage_key(entry: LineageEntry) -> Hashable:
    return (entry.topic, entry.partition, entry.offset)
