"""``anomaly replay`` and the backtests: the replay driver, a bounded confluent-kafka loop around the fusion
orchestration (the same one the Faust app of ``anomaly fusion worker`` drives, ``live_driver.py``). It can start
at a time, stop at the end offsets it saw, and run inside a test or a benchmark thread.

The order of writes is ``orchestration.py``'s; this module reads batches, performs the writes with a
``ReliableProducer`` (each acknowledged before the call returns, failures sent again with backoff while the
consumer is paused) and commits the offsets it tracks. One consumer thread handles its partitions one batch at a
time: concurrency 1 per partition.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Coroutine, Sequence
from typing import Any, TypeVar

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
from fusion_app.align import TP
from fusion_app.engine import FusionEngine
from fusion_app.liveness import CommitLiveness
from fusion_app.orchestration import SERVICE, Orchestration, Output, Raw
from fusion_app.rules import Rules
from fusion_app.settings import FusionSettings
from fusion_app.topics import FusionTopics

log = logging.getLogger(__name__)
T = TypeVar("T")


class _UndeliveredError(Exception):
    """Some deliveries of a batch failed: sent again after a backoff."""


def complete(step: Coroutine[Any, Any, T]) -> T:
    """Runs an orchestration step to its end, here and now: every ``Port`` call of this driver blocks until done
    instead of suspending, so the step never waits on an event loop (also inside a consumer callback)."""
    try:
        step.send(None)
    except StopIteration as done:
        return done.value
    step.close()
    raise RuntimeError("an orchestration step suspended under the replay driver")


class ConfluentFetcher:
    """The aligner's view of a confluent-kafka consumer."""

    def __init__(self, consumer: Consumer) -> None:
        self.consumer = consumer
        self.starts: dict[TP, int] = {}  # where reading starts (committed; negative: the beginning)
        self.positions: dict[TP, int] = {}
        self.finished: set[TP] = set()  # read up to where the run stops: nothing left to wait for

    def inputs(self) -> list[TP]:
        assignment = self.consumer.assignment()
        self.positions = {(p.topic, p.partition): p.offset for p in self.consumer.position(assignment)}
        return list(self.positions)

    def has_backlog(self, tp: TP) -> bool:
        if tp in self.finished:
            return False
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
        # Checkpoints are repetitive JSON: lz4 shrinks them several times for little CPU.
        self.producer = ReliableProducer(kafka, client_id=self.group, config={"compression.type": "lz4"})
        self.consumer = Consumer(self._consumer_config())
        self.fetcher = ConfluentFetcher(self.consumer)
        self.orchestration = Orchestration(
            self,
            self.fetcher,
            FusionEngine(rules, known_camera=known_camera),
            topics=self.topics,
            group=self.group,
            serde=AvroSerde(self.registry),
            metrics=RuntimeMetrics(SERVICE),
            liveness=CommitLiveness(SERVICE, settings.liveness_timeout_s, settings.liveness_file),
            align_ms=settings.align_ms,
        )
        self.positions: dict[TP, int] = {}  # next offset to commit, per input partition
        self.ends: dict[TP, int] = {}  # bounded runs (replay): where each partition stops
        self.records = 0  # read, for the replay's summary

    @property
    def finished(self) -> set[TP]:
        return self.fetcher.finished

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
        log.info("fusion replay %s: rules %s, inputs %s", self.group, self.rules.version, ",".join(self.inputs))
        next_tick = next_checkpoint = time.monotonic()
        clean = False
        try:
            while not self.stop.is_set():
                records = self.consumer.consume(self.settings.max_batch, self.settings.max_wait_ms / 1000)
                batch = [r for r in records if not self._is_control(r)]
                if batch or self.orchestration.aligner.queues:  # held records may be released once a sibling caught up
                    self._process(batch)
                    self.records += len(batch)
                now = time.monotonic()
                if now >= next_tick:
                    complete(self.orchestration.tick(self._caught_up()))
                    next_tick = now + self.settings.tick_ms / 1000
                if now >= next_checkpoint:
                    complete(self.orchestration.checkpoint())
                    next_checkpoint = now + self.settings.checkpoint_ms / 1000
                self.orchestration.liveness.check()
                if self.ends and self.finished >= set(self.ends) and not self.orchestration.aligner.queues:
                    log.info("bounded run reached its end on every partition")
                    break
            clean = True
        finally:
            self._shutdown(clean)

    def _shutdown(self, clean: bool) -> None:
        if clean:
            try:
                complete(self.orchestration.checkpoint(final=True))
            except (TransientError, KafkaException) as exc:
                log.error("final checkpoint failed (%s): the uncommitted tail is processed again after restart", exc)
        self.producer.flush(10.0)
        self.consumer.close()
        self.registry.close()
        log.info("fusion replay %s stopped", self.group)

    def _process(self, records: list[Any]) -> None:
        complete(self.orchestration.batch(self._raws(records)))
        for r in records:
            tp = (r.topic(), r.partition())
            if tp not in self.finished:  # past ``to_ms``: not committed
                self.positions[tp] = max(self.positions.get(tp, 0), r.offset() + 1)
        held = self.orchestration.aligner.first_held()
        for tp, offset in held.items():
            self.positions[tp] = min(self.positions.get(tp, offset), offset)  # held records are not done yet
        for tp, end in self.ends.items():
            if self.positions.get(tp, -1) >= end and tp not in held:
                self.finished.add(tp)

    def _raws(self, records: list[Any]) -> list[Raw]:
        """The records of this run (a replay stops at ``to_ms``) in the orchestration's shape."""
        out: list[Raw] = []
        for r in records:
            _, ts = r.timestamp()
            if self.to_ms is not None and ts > self.to_ms:
                self._finish((r.topic(), r.partition()))
                continue
            out.append(Raw(r.topic(), r.partition(), r.offset(), r.key(), r.value(), ts))
        return out

    def _caught_up(self) -> set[int]:
        """Partition numbers whose every input has been read to its end offset (as last seen by the fetcher).

        Only there do idle cameras count as silent: a camera whose scores wait in a backlog is not idle."""
        behind: set[int] = set()
        assignment = self.consumer.assignment()
        for tp in self.consumer.position(assignment) if assignment else []:
            _, high = self.consumer.get_watermark_offsets(tp, cached=True) or (0, 0)
            if (tp.offset < 0 and high > 0) or 0 <= tp.offset < high:
                behind.add(tp.partition)
        return {tp.partition for tp in assignment} - behind

    # --- the port -----------------------------------------------------------------------------------------------

    async def save(self, checkpoints: Sequence[Delivery], letters: Sequence[Delivery]) -> None:
        self._deliver([*checkpoints, *letters])

    async def send(self, outputs: Sequence[Output]) -> None:
        self._deliver([o.delivery() for o in outputs])
        for output in outputs:
            self.orchestration.delivered(output)

    async def commit(self, *, final: bool) -> None:
        if not self.positions:
            self.orchestration.liveness.committed()  # nothing in hand
            return
        offsets = [TopicPartition(t, p, o) for (t, p), o in self.positions.items()]
        try:
            if final:
                self.consumer.commit(offsets=offsets, asynchronous=False)
                self.orchestration.liveness.committed()
            else:
                # Periodic commits do not wait (the checkpoints they follow are acknowledged already; a lost
                # commit only means re-reading records the state skips). The callback tells the liveness signal.
                self.consumer.commit(offsets=offsets, asynchronous=True)
        except KafkaException as exc:
            if exc.args[0].code() != KafkaError._NO_OFFSET:
                log.warning("commit failed (%s); retried at the next checkpoint", exc)
                return
        self.positions.clear()

    async def idle(self, seconds: float) -> None:
        self._keep_alive(seconds)
        self._resume()

    def _committed(self, err: KafkaError | None, _partitions: list[TopicPartition]) -> None:
        if err is None:
            self.orchestration.liveness.committed()
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
        held = self.finished | self.orchestration.aligner.paused
        assignment = [tp for tp in self.consumer.assignment() if (tp.topic, tp.partition) not in held]
        if assignment:
            self.consumer.resume(assignment)

    # --- assignment ---------------------------------------------------------------------------------------------

    def _assigned(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        numbers = self.orchestration.new_partitions(p.partition for p in partitions)
        restored = ckpt.restore(self.kafka, self.topics.state, self.group, sorted(numbers))
        committed = settled(consumer.committed, partitions, timeout=10.0)
        self.fetcher.starts.update({(tp.topic, tp.partition): tp.offset for tp in committed})
        complete(self.orchestration.assigned(numbers, restored))
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
            complete(self.orchestration.checkpoint(final=True))
        except (TransientError, KafkaException) as exc:
            log.warning("checkpoint on revoke failed (%s): the new owner re-processes from the last commit", exc)
        self._forget({p.partition for p in partitions})

    def _lost(self, _consumer: Consumer, partitions: list[TopicPartition]) -> None:
        self._forget({p.partition for p in partitions})

    def _forget(self, numbers: set[int]) -> None:
        self.orchestration.revoked(numbers)
        self.positions = {tp: o for tp, o in self.positions.items() if tp[1] not in numbers}

    def _finish(self, tp: TP) -> None:
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
