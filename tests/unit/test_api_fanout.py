"""Live fan-out: filters, bounded queues, slow subscribers dropped without touching the others."""

from __future__ import annotations

import asyncio

from api.fanout import Broadcast, Hub


def msg(camera: str, rank: int = 0, text: str = "x") -> Broadcast:
    return Broadcast(camera_id=camera, severity_rank=rank, text=text)


def test_camera_and_severity_filters() -> None:
    async def scenario() -> None:
        hub = Hub(queue_size=10)
        everything = hub.subscribe(None)
        cam1 = hub.subscribe(frozenset({"cam-1"}))
        severe = hub.subscribe(None, min_severity_rank=2)
        assert hub.publish(msg("cam-1", 0, "a")) == 2
        assert hub.publish(msg("cam-2", 3, "b")) == 2
        assert [everything.queue.get_nowait() for _ in range(2)] == ["a", "b"]
        assert cam1.queue.get_nowait() == "a" and cam1.queue.empty()
        assert severe.queue.get_nowait() == "b" and severe.queue.empty()

    asyncio.run(scenario())


def test_full_queue_drops_only_that_subscriber() -> None:
    async def scenario() -> None:
        hub = Hub(queue_size=2)
        slow = hub.subscribe(None)
        fast = hub.subscribe(None)
        for i in range(3):
            hub.publish(msg("cam-1", text=str(i)))
            fast.queue.get_nowait()  # the fast one keeps up
        assert slow.overflowed.is_set() and not fast.overflowed.is_set()
        assert len(hub) == 1 and hub.dropped == 1
        hub.publish(msg("cam-1", text="after"))
        assert fast.queue.get_nowait() == "after"
        assert slow.queue.qsize() == 2  # nothing more is queued for a dropped subscriber
        hub.unsubscribe(slow)  # idempotent
        hub.unsubscribe(fast)
        assert len(hub) == 0

    asyncio.run(scenario())


def test_pump_lets_readers_that_keep_up_survive_a_burst() -> None:
    async def scenario() -> None:
        hub = Hub(queue_size=2)
        reader = hub.subscribe(None)
        stuck = hub.subscribe(None)  # never reads
        got: list[str] = []

        async def read() -> None:
            while True:
                got.append(await reader.queue.get())

        inbox: asyncio.Queue[Broadcast] = asyncio.Queue()
        for i in range(50):  # a burst far larger than the queues
            inbox.put_nowait(msg("cam-1", text=str(i)))
        tasks = [asyncio.create_task(read()), asyncio.create_task(hub.pump(inbox))]
        for _ in range(200):
            await asyncio.sleep(0)
        for task in tasks:
            task.cancel()
        assert got == [str(i) for i in range(50)]
        assert stuck.overflowed.is_set() and not reader.overflowed.is_set()

    asyncio.run(scenario())
