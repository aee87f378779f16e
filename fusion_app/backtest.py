"""``anomaly backtest diff``: the same historical scores through two rules files, and where they disagree.

Reads a range of the score topics once, runs the pure state machine (``offline.run_offline``) with each rules
file, and compares the final decision of every window and the resulting incidents. Nothing is published.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from anomaly_core.errors import DecodeError
from anomaly_core.registry import RegistryClient
from anomaly_core.serde import AvroSerde
from anomaly_core.settings import KafkaSettings
from fusion_app.fuse import Decision
from fusion_app.observe import ScoreRecord, Where
from fusion_app.offline import OfflineRun, run_offline
from fusion_app.reader import read_range
from fusion_app.rules import Rules
from fusion_app.topics import FusionTopics, decode_score

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Outcome:
    alert: bool
    kinds: list[str]
    severity: str
    score: float

    @classmethod
    def of(cls, d: Decision | None) -> Outcome | None:
        if d is None:
            return None
        return cls(d.alert, [k.value for k in d.kinds], d.severity.value, d.score)

    def same_call(self, other: Outcome | None) -> bool:
        """Whether an operator would see the same thing (scores may move without changing the call)."""
        return other is not None and (self.alert, self.kinds, self.severity) == (
            other.alert,
            other.kinds,
            other.severity,
        )


@dataclass(frozen=True, slots=True)
class WindowDiff:
    camera_id: str
    window_start_ms: int
    window_end_ms: int
    a: Outcome | None
    b: Outcome | None


@dataclass(frozen=True, slots=True)
class IncidentSummary:
    camera_id: str
    start_ms: int
    end_ms: int
    kinds: list[str]
    severity: str


@dataclass
class BacktestReport:
    rules_a: str
    rules_b: str
    scores: int = 0
    skipped: int = 0
    windows: int = 0
    differing: list[WindowDiff] = field(default_factory=list)
    incidents_a: list[IncidentSummary] = field(default_factory=list)
    incidents_b: list[IncidentSummary] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def load_scores(
    kafka: KafkaSettings,
    topics: list[str],
    *,
    from_ms: int | None,
    to_ms: int | None,
    progress: Callable[[int], None] | None = None,
) -> tuple[list[tuple[ScoreRecord, Where]], int]:
    """Decoded score records of ``topics`` in the range, in read order, and how many could not be decoded."""
    fusion_topics = FusionTopics.for_prefix(kafka.topic_prefix)
    items: list[tuple[ScoreRecord, Where]] = []
    skipped = 0
    with RegistryClient(kafka.schema_registry_url) as registry:
        serde = AvroSerde(registry)
        for batch in read_range(kafka, topics, from_ms=from_ms, to_ms=to_ms):
            for msg in batch:
                try:
                    record = decode_score(serde, fusion_topics, msg.topic(), msg.value())
                except DecodeError as exc:
                    skipped += 1
                    log.warning("%s[%d]@%d skipped: %s", msg.topic(), msg.partition(), msg.offset(), exc)
                    continue
                key = msg.key().decode() if msg.key() else None
                items.append((record, Where(msg.topic(), msg.partition(), msg.offset(), key, msg.timestamp()[1])))
            if progress is not None:
                progress(len(items) + skipped)
    return items, skipped


def final_decisions(run: OfflineRun) -> dict[tuple[str, int], Decision]:
    """The last decision of each (camera, window start): the one made on the window's complete content."""
    return {(d.camera_id, d.window_start_ms): d for d in run.decisions}


def compare(
    items: list[tuple[ScoreRecord, Where]], rules_a: Rules, rules_b: Rules, batch_size: int = 500
) -> BacktestReport:
    """Runs both rules over the same records; pure apart from the CPU it takes."""
    report = BacktestReport(rules_a.version, rules_b.version, scores=len(items))
    runs = [run_offline(items, rules, batch_size=batch_size) for rules in (rules_a, rules_b)]
    a, b = (final_decisions(r) for r in runs)
    report.windows = len(set(a) | set(b))
    for key in sorted(set(a) | set(b)):
        da, db = a.get(key), b.get(key)
        oa, ob = Outcome.of(da), Outcome.of(db)
        if oa is not None and oa.same_call(ob):
            continue
        if oa is None and ob is not None and not ob.alert:
            continue  # a window only one rules file evaluates, quiet there: not a difference anyone would see
        if ob is None and oa is not None and not oa.alert:
            continue
        some = da or db
        assert some is not None
        report.differing.append(WindowDiff(key[0], key[1], some.window_end_ms, oa, ob))
    report.incidents_a, report.incidents_b = (_incidents(r) for r in runs)
    return report


def _incidents(run: OfflineRun) -> list[IncidentSummary]:
    return sorted(
        (
            IncidentSummary(i.camera_id, i.start_ms, i.end_ms, [k.value for k in i.kinds], i.severity.value)
            for i in run.latest().values()
        ),
        key=lambda s: (s.camera_id, s.start_ms),
    )
