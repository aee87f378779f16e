"""Keeps the co-partitioned inputs of one partition number close to each other in event time.

When the worker reads a backlog (after an outage, a restart, a replay), the consumer fetches each topic partition
independently: it can hand over a minute of audio scores before the first pose score of that minute. Lateness is
judged per modality, so that audio is not dropped, but incidents are decided in event-time order: video arriving
after the audio of the same minute would be judged against incidents the audio already closed. So, per partition
number, the worker merges its inputs in event time, as a k-way merge:

* **hold**: a record more than ``align_ms`` ahead of a sibling that still has records to read (position below the
  end offset) waits in memory, its offset uncommitted, until the sibling has caught up;
* **pause**: a topic partition that runs ahead is paused, so held records do not pile up.

Live streams are never held back: a sibling at its end offset (audio arrives seconds late, in chunks) is not
waited for. A record held longer than ``max_hold_s`` is released anyway (a sibling that stopped mid-backlog).
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

from fusion_app.window import CaptionObs, Obs

log = logging.getLogger(__name__)
TP = tuple[str, int]
_NOTHING_YET = -(2**62)


@dataclass(frozen=True, slots=True)
class Item:
    """A decoded input record on its way to the state machine."""

    tp: TP
    offset: int
    camera_id: str
    obs: Obs | CaptionObs


class Fetcher(Protocol):
    """What the aligner needs of a consumer, whichever client it is."""

    def inputs(self) -> list[TP]:
        """The assigned input partitions."""
        ...

    def has_backlog(self, tp: TP) -> bool:
        """Whether records of ``tp`` are still to be read (False when nothing is known yet)."""
        ...

    def pause(self, tps: set[TP]) -> None: ...

    def resume(self, tps: set[TP]) -> None: ...


class Aligner:
    def __init__(self, align_ms: int, topics: Iterable[str], max_hold_s: float = 10.0) -> None:
        self.align_ms = align_ms
        self.topics = set(topics)
        self.max_hold_s = max_hold_s
        self.read_ms: dict[TP, int] = {}  # newest event time released, per topic partition
        self.queues: dict[TP, deque[Item]] = {}  # held records, in offset order, per topic partition
        self.progress: dict[int, float] = {}  # last release per partition number (monotonic time)
        self.paused: set[TP] = set()

    @property
    def held(self) -> list[Item]:
        return [it for q in self.queues.values() for it in q]

    def forget(self, numbers: set[int]) -> None:
        """Partitions revoked: their held records will be read again by their next owner."""
        for tp in [tp for tp in {*self.read_ms, *self.queues} if tp[1] in numbers]:
            self.read_ms.pop(tp, None)
            self.queues.pop(tp, None)
            self.paused.discard(tp)
        for n in numbers:
            self.progress.pop(n, None)

    def release(self, items: list[Item], fetcher: Fetcher, exclude: set[TP]) -> list[Item]:
        """The items (after those held before) that may be processed now; the others are held.

        A partition number whose held records see no release for ``max_hold_s`` (a sibling stopped mid-backlog)
        is released anyway."""
        if self.align_ms <= 0 and not self.queues:
            return items
        for it in items:
            self.queues.setdefault(it.tp, deque()).append(it)
        available = dict(self.read_ms)
        for tp, q in self.queues.items():
            if q:
                available[tp] = max(available.get(tp, _NOTHING_YET), q[-1].obs.t_ms)
        floors = self._floors(fetcher, exclude, available) if self.align_ms > 0 else {}
        now = time.monotonic()
        ready: list[Item] = []
        for tp, q in self.queues.items():
            floor = floors.get(tp[1])
            limit = None if floor is None or tp[0] not in self.topics else floor + self.align_ms
            if limit is not None and now - self.progress.setdefault(tp[1], now) > self.max_hold_s:
                limit = None  # overdue
            while q and (limit is None or q[0].obs.t_ms <= limit):
                it = q.popleft()
                ready.append(it)
                if tp[0] in self.topics:
                    self.read_ms[tp] = max(self.read_ms.get(tp, _NOTHING_YET), it.obs.t_ms)
        for it in ready:
            self.progress[it.tp[1]] = now
        self.queues = {tp: q for tp, q in self.queues.items() if q}
        holding = {tp[1] for tp in self.queues}
        self.progress = {n: t for n, t in self.progress.items() if n in holding}  # a new hold starts its clock
        self._pause_ahead(fetcher, set(self.queues))
        return ready

    def first_held(self) -> dict[TP, int]:
        """Offset of the first held record per topic partition: commits must stop there."""
        return {tp: q[0].offset for tp, q in self.queues.items()}

    def _floors(self, fetcher: Fetcher, exclude: set[TP], available: dict[TP, int]) -> dict[int, int]:
        """Per partition number: event time of the slowest sibling that still has records to read."""
        floors: dict[int, int] = {}
        for tp in fetcher.inputs():
            if tp[0] not in self.topics or tp in exclude or not fetcher.has_backlog(tp):
                continue
            seen = available.get(tp, _NOTHING_YET)
            floors[tp[1]] = min(floors.get(tp[1], seen), seen)
        return floors

    def _pause_ahead(self, fetcher: Fetcher, ahead: set[TP]) -> None:
        """Stops fetching partitions with held records; resumes the others paused here before."""
        pause = ahead - self.paused
        resume = self.paused - ahead
        if pause:
            fetcher.pause(pause)
        if resume:
            fetcher.resume(resume)
        self.paused = set(ahead)
