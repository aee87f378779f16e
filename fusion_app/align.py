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
        self.held: list[Item] = []
        self.held_since: dict[TP, float] = {}
        self.paused: set[TP] = set()

    def forget(self, numbers: set[int]) -> None:
        """Partitions revoked: their held records will be read again by their next owner."""
        for tp in [tp for tp in self.read_ms if tp[1] in numbers]:
            self.read_ms.pop(tp, None)
            self.held_since.pop(tp, None)
            self.paused.discard(tp)
        self.held = [it for it in self.held if it.tp[1] not in numbers]

    def release(self, items: list[Item], fetcher: Fetcher, exclude: set[TP]) -> list[Item]:
        """The items (after those held before) that may be processed now; the others are held."""
        pending = self.held + items
        if self.align_ms <= 0:
            self.held = []
            return pending
        available = dict(self.read_ms)
        for it in pending:
            available[it.tp] = max(available.get(it.tp, _NOTHING_YET), it.obs.t_ms)
        floors = self._floors(fetcher, exclude, available)
        now = time.monotonic()
        ready: list[Item] = []
        held: list[Item] = []
        stopped: set[TP] = set()  # once one record of a partition waits, the later ones wait too (order)
        for it in pending:
            floor = floors.get(it.tp[1])
            overdue = now - self.held_since.get(it.tp, now) > self.max_hold_s
            if it.tp in stopped or (
                it.tp[0] in self.topics and floor is not None and it.obs.t_ms > floor + self.align_ms and not overdue
            ):
                stopped.add(it.tp)
                held.append(it)
                continue
            ready.append(it)
            if it.tp[0] in self.topics:
                self.read_ms[it.tp] = max(self.read_ms.get(it.tp, _NOTHING_YET), it.obs.t_ms)
        self.held = held
        self.held_since = {tp: self.held_since.get(tp, now) for tp in stopped}
        self._pause_ahead(fetcher, stopped)
        return ready

    def first_held(self) -> dict[TP, int]:
        """Offset of the first held record per topic partition: commits must stop there."""
        first: dict[TP, int] = {}
        for it in self.held:
            first.setdefault(it.tp, it.offset)
        return first

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
