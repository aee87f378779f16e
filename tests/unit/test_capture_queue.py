import threading
from dataclasses import dataclass

from producers.jobqueue import DropPolicy, JobQueue


@dataclass
class Job:
    kind: str
    n: int


def test_drop_oldest_drops_frames_before_audio_and_counts():
    q: JobQueue[Job] = JobQueue(3, DropPolicy.DROP_OLDEST)
    assert q.put(Job("audio", 0)) is None
    assert q.put(Job("frame", 1)) is None
    assert q.put(Job("frame", 2)) is None
    assert q.put(Job("frame", 3)) == Job("frame", 1)
    assert q.put(Job("frame", 4)) == Job("frame", 2)
    assert q.dropped.frames == 2 and q.dropped.audio == 0
    assert [q.get(0).n for _ in range(3)] == [0, 3, 4]


def test_drop_oldest_drops_audio_only_when_nothing_else_is_queued():
    q: JobQueue[Job] = JobQueue(2, DropPolicy.DROP_OLDEST)
    q.put(Job("audio", 0))
    q.put(Job("audio", 1))
    assert q.put(Job("frame", 2)) == Job("audio", 0)
    assert q.dropped.audio == 1


def test_block_waits_for_room_and_gives_up_on_stop():
    q: JobQueue[Job] = JobQueue(1, DropPolicy.BLOCK)
    q.put(Job("frame", 0))
    stop = threading.Event()
    result = {}

    def producer():
        result["dropped"] = q.put(Job("frame", 1), stop)

    t = threading.Thread(target=producer)
    t.start()
    t.join(0.2)
    assert t.is_alive()  # blocked, nothing dropped
    assert q.get(1).n == 0
    t.join(2)
    assert result["dropped"] is None and q.get(1).n == 1
    q.put(Job("frame", 2))
    stop.set()
    assert q.put(Job("frame", 3), stop) == Job("frame", 3)
    assert q.dropped.frames == 0  # a refused put on stop is not a policy drop


def test_close_drains_then_ends():
    q: JobQueue[Job] = JobQueue(4, DropPolicy.BLOCK)
    q.put(Job("frame", 0))
    q.close()
    assert not q.closed_and_empty
    assert q.get(0.01).n == 0
    assert q.get(0.01) is None and q.closed_and_empty
