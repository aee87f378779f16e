"""Fan-out of live messages to WebSocket subscribers through bounded per-subscriber queues.

``publish`` never waits: a subscriber whose queue is full is marked overflowed and removed, and its
connection is closed by its own handler, so one slow client never delays the others. ``pump`` publishes
one message at a time and yields to the event loop in between, so every sender that can write drains
its queue before the next message: a burst of events fills only the queues of clients that cannot keep
up. Runs on the event loop thread only.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Broadcast:
    """A message serialized once for every subscriber, with what filters look at."""

    camera_id: str
    severity_rank: int
    text: str


class Subscriber:
    def __init__(self, cameras: frozenset[str] | None, min_severity_rank: int, queue_size: int) -> None:
        self.cameras = cameras
        self.min_severity_rank = min_severity_rank
        self.queue: asyncio.Queue[str] = asyncio.Queue(maxsize=queue_size)
        self.overflowed = asyncio.Event()

    def wants(self, message: Broadcast) -> bool:
        if self.cameras is not None and message.camera_id not in self.cameras:
            return False
        return message.severity_rank >= self.min_severity_rank


class Hub:
    def __init__(self, queue_size: int) -> None:
        self._queue_size = queue_size
        self._subscribers: set[Subscriber] = set()
        self.delivered = 0
        self.dropped = 0

    def subscribe(self, cameras: frozenset[str] | None, min_severity_rank: int = 0) -> Subscriber:
        subscriber = Subscriber(cameras, min_severity_rank, self._queue_size)
        self._subscribers.add(subscriber)
        return subscriber

    def unsubscribe(self, subscriber: Subscriber) -> None:
        self._subscribers.discard(subscriber)

    def __len__(self) -> int:
        return len(self._subscribers)

    def publish(self, message: Broadcast) -> int:
        """Queues ``message`` for every interested subscriber; returns how many got it."""
        delivered = 0
        for subscriber in list(self._subscribers):
            if not subscriber.wants(message):
                continue
            try:
                subscriber.queue.put_nowait(message.text)
                delivered += 1
            except asyncio.QueueFull:
                self._subscribers.discard(subscriber)
                subscriber.overflowed.set()
                self.dropped += 1
        self.delivered += delivered
        return delivered

    async def pump(self, inbox: asyncio.Queue[Broadcast], on_publish: Callable[[], None] | None = None) -> None:
        """Publishes what arrives in ``inbox`` until cancelled."""
        while True:
            message = await inbox.get()
            self.publish(message)
            if on_publish is not None:
                on_publish()
            await asyncio.sleep(0)  # let the woken senders write before the next message
