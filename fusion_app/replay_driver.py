"""The bounded fusion run of ``anomaly replay`` and the backtests: the same engine as the faust-streaming worker
(``live_driver.py``) on a confluent-kafka loop that can start at a time, stop at the end offsets it saw, and run
inside a test or a benchmark thread. The live worker (``anomaly fusion worker``) is the Faust app.

Per batch:
1. decode + validate each record (bad ones become dead letters), merge the inputs of each partition number in
   event time (``align.py``: records far ahead of a sibling with a backlog wait), ``step`` each camera;
2. cameras that publish: checkpoint (state + outbox) -> ack -> publish the revisions -> ack;
3. every ``checkpoint_ms``: checkpoint every other touched camera -> ack -> commit the input offsets.
A crash anywhere leaves either an older checkpoint (records are re-processed from the committed offsets and
produce the same revisions) or a newer one (its records are recognised by offset and skipped; its outbox is
re-sent). One consumer thread handles its partitions one batch at a time: concurrency 1 per partition.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from confluent_kafka import Consumer, KafkaError, KafkaException, TopicPartition

from anomaly_core.backoff import Retry
from anomaly_core.errors import TransientError
from anomaly_core.kafka_logs import client_logger
from anomaly_core.metrics import RuntimeMetrics, start_metrics_server
from anomaly_core.producer import Delivery, ReliableProducer
from anomaly_core.registry import RegistryClient
from anomaly_core.serde import AvroSerde
from anomaly_core.settings import KafkaSettings
from anomaly_core.settling import settled
from fusion_app import checkpoint as ckpt
from fusion_app.align import TP, Aligner
from fusion_app.engine import SERVICE, FusionEngine, Raw, deliveries
from fusion_app.incidents import Incident
from fusion_app.liveness import CommitLiveness
from fusion_app.rules import Rules
from fusion_app.settings import FusionSettings
from fusion_app.topics import FusionTopics

log = logging.getLogger(__name__)


class _UndeliveredError(Exception):
    """Some deliveries of a batch failed: sent again after a backoff."""


class ConfluentFetcher:
    """The aligner's view of a confluent-kafka consumer."""

    def __init__(self, consumer: Consumer) -> None:
        self.consumer = consumer
        self.starts: dict[TP, int] = {}  # where reading starts (committed; negative: the beginning)
        self.positions: dict[TP, int] = {}

    def inputs(self) -> list[TP]:
        assignment = self.consumer.assignment()
        self.positions = {(p.topic, p.partition): p.offset for p in self.consumer.position(assignment)}
        return list(self.positions)

    def has_backlog(self, tp: TP) -> bool:
        low, high = self.consumer.get_watermark_offsets(TopicPartition(*tp), cached=True) or (-1, -1)
        if high < 0:
            return False  # not fetched yet: nothing known, nothing to wait for
        position = self.positions.get(tp, -1)
        start = position if position >= 0 else max(self.starts.get(tp, -1), low)
        return start < high

    def pause(self, tps: set[TP]) -> None:
        self.consumer.pause([TopicPartition(*tp) for tp in tps])

    def resume(self, tps: set[TP]) -> None:
        # librdkafka resumes from the consumed position (records prefetched before the pause are not lost).
        self.consumer.resume([TopicPartition(*tp) for tp in tps])


class ReplayDriver:
    def __init__(
        self,
        kafka: KafkaSettings,
        settings: FusionSettings,
        rules: Rules,
        *,
        stop: threading.Event | None = None,
        group_id: str | None = None,
        from_ms: int | None = None,
        to_ms: int | None = None,
        bounded: bool = False,
        inputs: list[str] | None = None,
        known_camera: Callable[[str], bool] | None = None,
    ) -> None:
        """``from_ms``/``to_ms``/``bounded`` make a finite run (a replay): it starts at ``from_ms`` (or the group's
        commit, or the beginning) and stops at ``to_ms`` or the end offsets seen at assignment."""
        self.kafka, self.settings, self.rules = kafka, settings, rules
        self.stop = stop or threading.Event()
        self.topics = FusionTopics.for_prefix(kafka.topic_prefix)
        self.group = group_id or kafka.topic_prefix + settings.group_id
        self.from_ms, self.to_ms = from_ms, to_ms
        self.bounded = bounded or from_ms is not None or to_ms is not None
        self.inputs = inputs or self.topics.inputs
        self.registry = RegistryClient(kafka.schema_registry_url)
        self.serde = AvroSerde(self.registry)
        self.metrics = RuntimeMetrics(SERVICE)
        self.engine = FusionEngine(self.topics, self.group, rules, self.serde, self.metrics, known_camera=known_camera)
        # Checkpoints are repetitive JSON: lz4 shrinks them several times for little CPU.
        self.producer = ReliableProducer(
            kafka, client_id=self.group, config={"compression.type": "lz4"}, on_ack=self._acked
        )
        self.consumer = Consumer(self._consumer_config())
        self.liveness = CommitLiveness(SERVICE, settings.liveness_timeout_s, settings.liveness_file)
        self.aligner = Aligner(settings.align_ms, self.topics.scores)
        self.fetcher = ConfluentFetcher(self.consumer)
        self.owned: set[int] = set()
        self.positions: dict[tuple[str, int], int] = {}  # next offset to commit, per input partition
        self.ends: dict[tuple[str, int], int] = {}  # bounded runs (replay): where each partition stops
        self.finished: set[tuple[str, int]] = set()
        self.records = 0  # read, for the replay's summary

    def _consumer_config(self) -> dict[str, Any]:
        return {
            **self.kafka.client_config(),
            "group.id": self.group,
            "client.id": self.group,
            # Range assignment gives one consumer the same partition number of every input: co-partitioning.
            "partition.assignment.strategy": "range",
            "enable.auto.commit": False,
            "enable.auto.offset.store": False,
            "auto.offset.reset": "earliest",
            "enable.partition.eof": self.bounded,
            "max.poll.interval.ms": 600_000,
            "on_commit": self._committed,
            "logger": client_logger(),  # one line per broker outage, not one per reconnect attempt
            # Small fetches per partition keep what one batch brings of one topic short in event time, so
            # reading a backlog stays aligned across the inputs (see align.py).
            "max.partition.fetch.bytes": 65_536,
            "session.timeout.ms": self.settings.session_timeout_ms,
            "heartbeat.interval.ms": max(500, self.settings.session_timeout_ms // 4),
            **({"group.instance.id": self.settings.instance_id} if self.settings.instance_id else {}),
        }

    # --- loop ---------------------------------------------------------------------------------------------------

    def run(self) -> None:
        start_metrics_server(self.settings.metrics_port)
        ckpt.ensure_state_topic(self.kafka, self.topics.state, self.topics.inputs)
        self.consumer.subscribe(self.inputs, on_assign=self._assigned, on_revoke=self._revoked, on_lost=self._lost)
        log.info("fusion worker %s: rules %s, inputs %s", self.group, self.rules.version, ",".join(self.inputs))
        next_tick = next_checkpoint = time.monotonic()
        clean = False
        try:
            while not self.stop.is_set():
                records = self.consumer.consume(self.settings.max_batch, self.settings.max_wait_ms / 1000)
                batch = [r for r in records if not self._is_control(r)]
                if batch or self.aligner.queues:  # held records may be released once a sibling caught up
                    self._process(batch)
                    self.records += len(batch)
                now = time.monotonic()
                if now >= next_tick:
                    self._tick()
                    next_tick = now + self.settings.tick_ms / 1000
                if now >= next_checkpoint:
                    self._checkpoint()
                    next_checkpoint = now + self.settings.checkpoint_ms / 1000
                self.liveness.check()
                if self.ends and self.finished >= set(self.ends) and not self.aligner.queues:
                    log.info("bounded run reached its end on every partition")
                    break
            clean = True
        finally:
            self._shutdown(clean)

    def _shutdown(self, clean: bool) -> None:
        if clean:
            try:
                self._checkpoint(sync=True)
            except (TransientError, KafkaException) as exc:
                log.error("final checkpoint failed (%s): the uncommitted tail is processed again after restart", exc)
        self.producer.flush(10.0)
        self.consumer.close()
        self.registry.close()
        log.info("fusion worker %s stopped", self.group)

    def _process(self, records: list[Any]) -> None:
        try:
            items, letters = self.engine.read(self._raws(records))
        except TransientError as exc:
            # The registry is unreachable: nothing was applied yet, so read the same records again later.
            for raw in records:
                self.consumer.seek(TopicPartition(raw.topic(), raw.partition(), raw.offset()))
            log.warning("cannot read the batch yet (%s); retrying", exc)
            self._keep_alive(1.0)
            self._resume()
            return
        ready = self.aligner.release(items, self.fetcher, self.finished)
        held = self.aligner.first_held()
        for raw in records:
            tp = (raw.topic(), raw.partition())
            if tp not in self.finished:
                self.positions[tp] = max(self.positions.get(tp, 0), raw.offset() + 1)
        for tp, offset in held.items():
            self.positions[tp] = min(self.positions.get(tp, offset), offset)  # held records are not done yet
        outgoing = self.engine.apply(ready, int(time.time() * 1000))
        self.liveness.progressed()
        self._publish(outgoing, letters)
        for tp, end in self.ends.items():
            if self.positions.get(tp, -1) >= end and tp not in held:
                self.finished.add(tp)

    def _raws(self, records: list[Any]) -> list[Raw]:
        """The records of this run (a replay stops at ``to_ms``) in the engine's shape."""
        out: list[Raw] = []
        for r in records:
            _, ts = r.timestamp()
            if self.to_ms is not None and ts > self.to_ms:
                self._finish((r.topic(), r.partition()))
                continue
            out.append(Raw(r.topic(), r.partition(), r.offset(), r.key(), r.value(), ts))
        return out

    def _tick(self) -> None:
        """Closes incidents of cameras silent for the idle timeout (wall clock).

        Only on partitions this worker has read to the end: a camera whose scores wait in a backlog is not idle.
        """
        outgoing = self.engine.close_idle(self._caught_up(), int(time.time() * 1000))
        if outgoing:
            self._publish(outgoing, [])

    def _caught_up(self) -> set[int]:
        """Partition numbers whose every input has been read to its end offset (as last seen by the fetcher)."""
        behind: set[int] = set()
        assignment = self.consumer.assignment()
        for tp in self.consumer.position(assignment) if assignment else []:
            _, high = self.consumer.get_watermark_offsets(tp, cached=True) or (0, 0)
            if (tp.offset < 0 and high > 0) or 0 <= tp.offset < high:
                behind.add(tp.partition)
        return {tp.partition for tp in assignment} - behind

    # --- publishing and checkpoints -----------------------------------------------------------------------------

    def _publish(self, outgoing: dict[str, list[Incident]], letters: list[Delivery]) -> None:
        publications = self.engine.publication(outgoing)
        # State (with what it is about to publish) first: a revision is never visible before the state that made it.
        self._deliver([p.checkpoint for p in publications] + letters)
        self._deliver([d for p in publications for d in deliveries(p.outputs)])

    def _checkpoint(self, *, sync: bool = False) -> None:
        """Checkpoints every camera touched since the last time, then commits the input offsets."""
        self._deliver(self.engine.checkpoints())
        if not self.positions:
            self.liveness.committed()  # nothing in hand
            return
        offsets = [TopicPartition(t, p, o) for (t, p), o in self.positions.items()]
        try:
            if sync:
                self.consumer.commit(offsets=offsets, asynchronous=False)
                self.liveness.committed()
            else:
                # Periodic commits do not wait (the checkpoints they follow are acknowledged already; a lost
                # commit only means re-reading records the state skips). The callback tells the liveness signal.
                self.consumer.commit(offsets=offsets, asynchronous=True)
        except KafkaException as exc:
            if exc.args[0].code() != KafkaError._NO_OFFSET:
                log.warning("commit failed (%s); retried at the next checkpoint", exc)
                return
        self.positions.clear()

    def _committed(self, err: KafkaError | None, _partitions: list[TopicPartition]) -> None:
        if err is None:
            self.liveness.committed()
        elif err.code() != KafkaError._NO_OFFSET:
            log.warning("commit failed: %s", err)

    def _deliver(self, deliveries: list[Delivery]) -> None:
        """Sends and waits for every acknowledgement, retrying failures with backoff (the consumer is paused)."""
        if not deliveries:
            return
        todo = deliveries

        def send() -> None:
            nonlocal todo
            for d in todo:
                self.producer.send(d)
            try:
                failed = self.producer.wait(self.settings.ack_timeout_s, idle=self._keep_alive)
            except TransientError as exc:
                failed = [d for d in todo if not d.acked]
                log.warning("%s", exc)
            if failed:
                todo = failed
                raise _UndeliveredError(f"{len(failed)} records undelivered")

        def give_up(exc: Exception) -> BaseException | None:
            if self.stop.is_set() and retry.backoff.attempt >= 3:
                return TransientError(f"{len(todo)} records undelivered at shutdown")
            return None

        def retrying(_exc: Exception, delay: float) -> None:
            log.warning("%d deliveries failed, retrying in %.2fs", len(todo), delay)

        retry = Retry(retrying, on=(_UndeliveredError,), give_up=give_up, wait=self._keep_alive)
        retry.call(send)
        self._resume()

    def _keep_alive(self, timeout_s: float = 0.0) -> None:
        """Serves group membership while waiting, without taking new records."""
        assignment = self.consumer.assignment()
        if assignment:
            self.consumer.pause(assignment)
        record: Any = self.consumer.poll(timeout_s)
        if record is not None and record.error() is None:
            # fetched before the pause took effect: put it back for the next batch
            self.consumer.seek(TopicPartition(record.topic(), record.partition(), record.offset()))

    def _resume(self) -> None:
        held = self.finished | self.aligner.paused
        assignment = [tp for tp in self.consumer.assignment() if (tp.topic, tp.partition) not in held]
        if assignment:
            self.consumer.resume(assignment)

    def _acked(self, delivery: Delivery) -> None:
        self.metrics.produced.labels(SERVICE, delivery.topic).inc()

    # --- assignment ---------------------------------------------------------------------------------------------

    def _assigned(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        numbers = sorted({p.partition for p in partitions} - self.owned)
        restored = ckpt.restore(self.kafka, self.topics.state, self.group, numbers)
        resend = deliveries(p for box in self.engine.restore(restored, int(time.time() * 1000)).values() for p in box)
        self.owned |= set(numbers)
        committed = settled(consumer.committed, partitions, timeout=10.0)
        self.fetcher.starts.update({(tp.topic, tp.partition): tp.offset for tp in committed})
        log.info(
            "assigned partitions %s: restored %d cameras, re-sending %d outputs", numbers, len(restored), len(resend)
        )
        self._deliver(resend)
        if self.bounded:
            consumer.assign(self._bounded(consumer, partitions))

    def _bounded(self, consumer: Consumer, partitions: list[TopicPartition]) -> list[TopicPartition]:
        """A replay's positions: the group's commit, else the first record at ``from_ms``, else the beginning;
        each partition ends at its end offset of now (and at ``to_ms``)."""
        committed = {
            (tp.topic, tp.partition): tp.offset for tp in settled(consumer.committed, partitions, timeout=10.0)
        }
        out = []
        for p in partitions:
            tp = (p.topic, p.partition)
            low, high = settled(consumer.get_watermark_offsets, p, timeout=10.0)
            start = committed.get(tp, -1)
            if start < 0 and self.from_ms is not None:
                wanted = [TopicPartition(p.topic, p.partition, self.from_ms)]
                (found,) = settled(consumer.offsets_for_times, wanted, timeout=10.0)
                start = found.offset if found.offset >= 0 else high  # -1: nothing that recent
            start = max(start, low)
            self.ends[tp] = high
            if start >= high:
                self.finished.add(tp)
            out.append(TopicPartition(p.topic, p.partition, start))
        return out

    def _revoked(self, _consumer: Consumer, partitions: list[TopicPartition]) -> None:
        """Checkpoint and commit before handing partitions over, then forget their cameras."""
        try:
            self._checkpoint(sync=True)
        except (TransientError, KafkaException) as exc:
            log.warning("checkpoint on revoke failed (%s): the new owner re-processes from the last commit", exc)
        self._forget({p.partition for p in partitions})

    def _lost(self, _consumer: Consumer, partitions: list[TopicPartition]) -> None:
        self._forget({p.partition for p in partitions})

    def _forget(self, numbers: set[int]) -> None:
        self.engine.forget(numbers)
        self.positions = {tp: o for tp, o in self.positions.items() if tp[1] not in numbers}
        self.owned -= numbers
        self.aligner.forget(numbers)
        log.info("partitions %s revoked", sorted(numbers))

    def _finish(self, tp: tuple[str, int]) -> None:
        if tp not in self.finished:
            self.finished.add(tp)
            self.consumer.pause([TopicPartition(*tp)])

    def _is_control(self, record: Any) -> bool:
        err: KafkaError | None = record.error()
        if err is None:
            return False
        if err.code() == KafkaError._PARTITION_EOF:
            self._finish((record.topic(), record.partition()))
            return True
        if err.fatal():
            raise KafkaException(err)
        log.warning("consumer: %s", err)
        return True
