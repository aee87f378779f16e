"""What a faulty run is compared with: pure functions of the inputs and of what came out."""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from schemas.records import AnomalyKind


@dataclass(frozen=True)
class Coverage:
    """Inputs against the outputs naming them as their source."""

    inputs: int
    lost: frozenset[str]
    #: Inputs with more than one output (a batch redone after a kill: allowed, at-least-once).
    redelivered: int


def coverage(inputs: Iterable[str], sources: Iterable[str]) -> Coverage:
    wanted = set(inputs)
    seen = Counter(sources)
    return Coverage(len(wanted), frozenset(wanted - set(seen)), sum(1 for i in wanted if seen[i] > 1))


@dataclass(frozen=True)
class Row:
    anomaly_id: str
    camera_id: str
    kinds: tuple[AnomalyKind, ...]
    state: str


@dataclass(frozen=True)
class RowCheck:
    """Anomaly rows against the anomalies an uninterrupted run of the same inputs decides."""

    lost: frozenset[str]
    #: Rows no uninterrupted run has: an incident raised twice (under another id), or a wrong one.
    extra: frozenset[str]
    #: Rows of an expected anomaly with another camera or other kinds, or not closed.
    wrong: frozenset[str]

    @property
    def ok(self) -> bool:
        return not (self.lost or self.extra or self.wrong)


def check_rows(expected: Mapping[str, tuple[str, tuple[AnomalyKind, ...]]], rows: Sequence[Row]) -> RowCheck:
    by_id = {row.anomaly_id: row for row in rows}
    wrong = {
        row.anomaly_id
        for row in rows
        if row.anomaly_id in expected
        and ((row.camera_id, tuple(row.kinds)) != expected[row.anomaly_id] or row.state != "CLOSED")
    }
    return RowCheck(frozenset(set(expected) - set(by_id)), frozenset(set(by_id) - set(expected)), frozenset(wrong))


def out_of_order(seqs: Sequence[int]) -> list[int]:
    """Sequence numbers that do not follow the one before them (a reference published late, out of place)."""
    return [b for a, b in itertools.pairwise(seqs) if b != a + 1]
