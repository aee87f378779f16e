"""The fusion's ordering rules, written once for both drivers: the Faust app of ``anomaly fusion worker``
(``live_driver.py``) and the bounded confluent-kafka loop of ``anomaly replay`` and the backtests
(``replay_driver.py``). A driver hands records in and performs the writes through its ``Port``; the order is
this module's:

* ``batch``: decode each record (schema registry unreachable: nothing is applied, the same records are read
  again after a backoff; a bad record becomes a dead letter), merge the inputs of each partition number in event
  time (``align.py``), step every camera, then ``publish``;
* publish: 1. the state of each publishing camera, whose outbox holds the revisions it is about to send, to the
  changelog, with the dead letters, acknowledged; 2. the revisions sent, each kept in its camera's outbox until
  its own acknowledgement;
* ``checkpoint``: 1. held records now due stepped and published; 2. revisions whose send failed sent again;
  3. every other changed camera to the changelog, acknowledged; 4. the input offsets committed (``Port.commit``:
  never past a record the aligner still holds);
* ``assigned``: the restored cameras of new partitions taken over, their outboxes sent again;
* ``revoked``: the cameras, held records and outboxes of those partitions forgotten (their next owner restores
  them from the changelog);
* ``tick``: the incidents of idle cameras on caught-up partitions closed, then published.

A crash anywhere leaves either an older checkpoint (records are processed again from the committed offsets and
give the same revisions) or a newer one (its records are recognised by offset and skipped; its outbox is sent
again): a revision is never visible before the state that made it, and no offset is committed before the state
it covers. See docs/fusion.md.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from anomaly_core.backoff import Retry
from anomaly_core.dlq import dead_letter
from anomaly_core.errors import PermanentError, TransientError
from anomaly_core.metrics import RuntimeMetrics
from anomaly_core.producer import Delivery
from anomaly_core.serde import AvroSerde
from fusion_app import checkpoint as ckpt
from fusion_app.align import Aligner, Fetcher, Item
from fusion_app.camera_state import CameraState
from fusion_app.engine import FusionEngine
from fusion_app.events import to_event
from fusion_app.incidents import Incident
from fusion_app.liveness import CommitLiveness
from fusion_app.observe import Where
from fusion_app.statecodec import Pending
from fusion_app.topics import FusionTopics, decode_score
from schemas.records import AnomalyState

log = logging.getLogger(__name__)
SERVICE = "fusion"


@dataclass(frozen=True, slots=True)
class Raw:
    """One input record as any Kafka client read it."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    timestamp_ms: int


@dataclass(frozen=True, slots=True)
class Output:
    """One revision to send: on the camera's input partition number (co-partitioned with its scores)."""

    camera: str
    partition: int
    pending: Pending

    def delivery(self) -> Delivery:
        topic, key, value = self.pending
        return Delivery(topic, key.encode(), value, partition=self.partition)


class Port(Protocol):
    """The writes a driver performs for the orchestration, with its own Kafka client."""

    async def save(self, checkpoints: Sequence[Delivery], letters: Sequence[Delivery]) -> None:
        """Writes changelog records and dead letters; returns once every one is acknowledged."""
        ...

    async def send(self, outputs: Sequence[Output]) -> None:
        """Sends revisions; tells ``Orchestration.delivered`` / ``undelivered`` of each (now or later)."""
        ...

    async def commit(self, *, final: bool) -> None:
        """Commits the input offsets of every record processed, up to the first one the aligner holds (or marks
        them for the commit its driver makes as soon as this step returns)."""
        ...

    async def idle(self, seconds: float) -> None:
        """Waits, keeping the consumer in its group and taking no new records."""
        ...


def now_ms() -> int:
    return int(time.time() * 1000)


class Orchestration:
    def __init__(
        self,
        port: Port,
        fetcher: Fetcher,
        engine: FusionEngine,
        *,
        topics: FusionTopics,
        group: str,
        serde: AvroSerde,
        metrics: RuntimeMetrics,
        liveness: CommitLiveness,
        align_ms: int,
    ) -> None:
        self.port, self.fetcher, self.engine = port, fetcher, engine
        self.topics, self.serde, self.metrics, self.liveness = topics, serde, metrics, liveness
        self.changelog = ckpt.Changelog(topics.state, group)
        self.aligner = Aligner(align_ms, topics.scores)
        self.partition_of: dict[str, int] = {}  # camera -> its input partition number
        self.owned: set[int] = set()  # partition numbers whose cameras were restored
        self.unacked: dict[str, list[Pending]] = {}  # sent revisions awaiting their ack: kept in the outbox
        self.failed: list[Output] = []  # sends that failed: sent again at the next checkpoint

    # --- the steps ----------------------------------------------------------------------------------------------

    async def batch(self, raws: Sequence[Raw]) -> None:
        items, letters = await self._read(raws)
        await self._step(self.aligner.release(items, self.fetcher, set()), letters)

    async def checkpoint(self, *, final: bool = False) -> None:
        if self.aligner.queues:  # a sibling may have caught up, or the hold ran out
            await self._step(self.aligner.release([], self.fetcher, set()))
        retry, self.failed = self.failed, []
        for output in retry:
            self._drop_unacked(output)
        await self._send(retry)
        checkpoints = [self._record(state) for state in self.engine.take_changed()]
        if checkpoints:
            await self.port.save(checkpoints, [])
        await self.port.commit(final=final)

    async def tick(self, caught_up: set[int]) -> None:
        cameras = [c for c, p in self.partition_of.items() if p in caught_up]
        outgoing = self.engine.close_idle(cameras, now_ms())
        if outgoing:
            await self._publish(outgoing)

    def new_partitions(self, numbers: Iterable[int]) -> set[int]:
        """Those of ``numbers`` whose cameras are not taken over yet."""
        return set(numbers) - self.owned

    async def assigned(self, numbers: set[int], restored: Mapping[str, ckpt.Restored]) -> None:
        self.engine.restore((r.state for r in restored.values()), now_ms())
        outbox: list[Output] = []
        for camera, r in restored.items():
            self.partition_of[camera] = r.partition
            outbox += [Output(camera, r.partition, pending) for pending in r.outbox]
        self.owned |= numbers
        log.info(
            "assigned partitions %s: restored %d cameras, re-sending %d outputs",
            sorted(numbers),
            len(restored),
            len(outbox),
        )
        await self._send(outbox)

    def revoked(self, numbers: set[int]) -> None:
        if not numbers:
            return
        cameras = [c for c, p in self.partition_of.items() if p in numbers]
        self.engine.forget(cameras)
        for camera in cameras:
            self.partition_of.pop(camera, None)
            self.unacked.pop(camera, None)
        self.failed = [o for o in self.failed if o.partition not in numbers]
        self.aligner.forget(numbers)
        self.owned -= numbers
        log.info("partitions %s revoked", sorted(numbers))

    # --- acknowledgements (told by the port) --------------------------------------------------------------------

    def delivered(self, output: Output) -> None:
        self._drop_unacked(output)
        self.metrics.produced.labels(SERVICE, output.pending[0]).inc()

    def undelivered(self, output: Output) -> None:
        log.warning("sending a revision of %s failed; sent again at the next checkpoint", output.camera)
        self.failed.append(output)

    # --- helpers ------------------------------------------------------------------------------------------------

    async def _read(self, raws: Sequence[Raw]) -> tuple[list[Item], list[Delivery]]:
        """Observations and dead letters; waits out registry outages (nothing is applied before a read succeeds)."""
        retry = Retry(self._registry_down)
        while True:
            try:
                return self._decode(raws)
            except TransientError as failure:
                await self.port.idle(retry.failed(failure))

    def _registry_down(self, failure: Exception, delay: float) -> None:
        self.metrics.retries.labels(SERVICE, "registry").inc()
        log.warning("cannot read the batch yet (%s); retrying in %.2fs", failure, delay)

    def _decode(self, raws: Sequence[Raw]) -> tuple[list[Item], list[Delivery]]:
        for topic, n in Counter(r.topic for r in raws).items():
            self.metrics.consumed.labels(SERVICE, topic).inc(n)
        items: list[Item] = []
        letters: list[Delivery] = []
        for raw in raws:
            try:
                if raw.value is None:
                    raise PermanentError("empty value (tombstone) on a score topic")
                record = decode_score(self.serde, self.topics, raw.topic, raw.value)
                key = raw.key.decode() if raw.key is not None else None
                items.append(
                    self.engine.observe(record, Where(raw.topic, raw.partition, raw.offset, key, raw.timestamp_ms))
                )
            except (PermanentError, UnicodeDecodeError) as exc:
                letters.append(self._dead_letter(raw, exc))
        return items, letters

    def _dead_letter(self, raw: Raw, exc: BaseException) -> Delivery:
        log.warning("dead-lettering %s[%d]@%d: %s", raw.topic, raw.partition, raw.offset, exc)
        letter = dead_letter(
            SERVICE, exc, topic=raw.topic, partition=raw.partition, offset=raw.offset, key=raw.key, value=raw.value
        )
        self.metrics.dead_lettered.labels(SERVICE, letter.stage.value).inc()
        return Delivery(self.topics.dlq, raw.key, self.serde.encode(self.topics.dlq, letter))

    async def _step(self, ready: Sequence[Item], letters: Sequence[Delivery] = ()) -> None:
        for it in ready:
            self.partition_of[it.camera_id] = it.tp[1]
        outgoing = self.engine.apply(ready, now_ms())
        self.liveness.progressed()
        await self._publish(outgoing, letters)

    async def _publish(self, outgoing: Mapping[str, list[Incident]], letters: Sequence[Delivery] = ()) -> None:
        decided_at = datetime.now(UTC)
        checkpoints: list[Delivery] = []
        outputs: list[Output] = []
        for camera, incidents in outgoing.items():
            partition = self.partition_of[camera]
            new = [p for incident in incidents for p in self._revision(camera, incident, decided_at)]
            outbox = [*self.unacked.get(camera, []), *new]
            checkpoints.append(self.changelog.record(partition, self.engine.take(camera), outbox))
            outputs += [Output(camera, partition, pending) for pending in new]
        if checkpoints or letters:
            await self.port.save(checkpoints, letters)
        await self._send(outputs)

    async def _send(self, outputs: Sequence[Output]) -> None:
        if not outputs:
            return
        for output in outputs:
            self.unacked.setdefault(output.camera, []).append(output.pending)
        await self.port.send(outputs)

    def _revision(self, camera: str, incident: Incident, decided_at: datetime) -> list[Pending]:
        """An incident revision as records: on anomalies.v1, and a candidate also on anomalies.candidates.v1."""
        event = to_event(incident, decided_at)
        out = [(self.topics.anomalies, camera, self.serde.encode(self.topics.anomalies, event))]
        if event.state == AnomalyState.CANDIDATE:
            out.append((self.topics.candidates, camera, self.serde.encode(self.topics.candidates, event)))
        self.engine.counts.labels(f"published_{event.state.value.lower()}").inc()
        return out

    def _record(self, state: CameraState) -> Delivery:
        """A camera's checkpoint: its state, and its outbox of revisions sent but not acknowledged yet."""
        return self.changelog.record(self.partition_of[state.camera_id], state, self.unacked.get(state.camera_id, []))

    def _drop_unacked(self, output: Output) -> None:
        box = self.unacked.get(output.camera, [])
        if output.pending in box:
            box.remove(output.pending)
        if not box:
            self.unacked.pop(output.camera, None)
