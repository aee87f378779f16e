"""The bounded queue between capture and upload, with a counted drop policy.

``block``: the producer waits for room (files: nothing may be lost, the file can wait).
``drop-oldest``: a live camera cannot wait, so when the queue is full the oldest *frame* is dropped and counted
(audio chunks are tiny and dropping one would leave a gap in the audio, so they are dropped only when the queue
holds nothing else).
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass
from enum import StrEnum
from typing import Generic, Protocol, TypeVar


class DropPolicy(StrEnum):
    BLOCK = "block"
    DROP_OLDEST = "drop-oldest"


class _Kinded(Protocol):
    @property
    def kind(self) -> str: ...


J = TypeVar("J", bound=_Kinded)


@dataclass
class DropCounts:
    frames: int = 0
    audio: int = 0


class JobQueue(Generic[J]):
    """A FIFO of at most ``capacity`` jobs; ``close()`` ends it once drained."""

    def __init__(self, capacity: int, policy: DropPolicy) -> None:
        if capacity < 1:
            raise ValueError("capacity must be >= 1")
        self.capacity = capacity
        self.policy = policy
        self.dropped = DropCounts()
        self._items: deque[J] = deque()
        self._cond = threading.Condition()
        self._closed = False

    def put(self, job: J, stop: threading.Event | None = None) -> J | None:
        """Adds ``job``; returns the job dropped to make room (if any). Blocks under ``BLOCK`` until there is room
        or ``stop`` is set (then the job is not added and is returned as dropped)."""
        with self._cond:
            if self.policy is DropPolicy.BLOCK:
                while len(self._items) >= self.capacity and not self._closed:
                    if stop is not None and stop.is_set():
                        return job
                    self._cond.wait(0.1)
                self._items.append(job)
                self._cond.notify_all()
                return None
            victim = None
            if len(self._items) >= self.capacity:
                victim = self._evict()
            self._items.append(job)
            self._cond.notify_all()
            return victim

    def _evict(self) -> J:
        for i, item in enumerate(self._items):
            if item.kind == "frame":
                del self._items[i]
                self.dropped.frames += 1
                return item
        victim = self._items.popleft()
        self.dropped.audio += 1
        return victim

    def get(self, timeout: float | None = None) -> J | None:
        """The next job, or ``None`` when the queue is closed and empty (or ``timeout`` passed)."""
        with self._cond:
            if not self._items and not self._closed:
                self._cond.wait(timeout)
            if not self._items:
                return None
            job = self._items.popleft()
            self._cond.notify_all()
            return job

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    @property
    def closed_and_empty(self) -> bool:
        with self._cond:
            return self._closed and not self._items

    def __len__(self) -> int:
        with self._cond:
            return len(self._items)
