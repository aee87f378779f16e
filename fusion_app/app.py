"""The fusion worker: consume the co-partitioned score topics, run the per-camera state machine, publish anomalies.

Why not faust-streaming (see docs/fusion.md): the worker needs one ordering per batch that faust's tables do not
give — checkpoint the camera's state (with the revisions it is about to publish) BEFORE publishing them, and
commit input offsets only AFTER every camera touched is checkpointed — plus state writes from a wall-clock timer
(idle cameras) and batch-level state updates. It runs on confluent-kafka with the shared producer, serde and
dead-letter plumbing; the logic is the pure core (``observe`` -> ``camera.step`` -> ``fuse``/``incidents``).

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
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from confluent_kafka import Consumer, KafkaError, KafkaException, TopicPartition

from anomaly_core.backoff import Backoff
from anomaly_core.dlq import dead_letter
from anomaly_core.errors import PermanentError, TransientError
from anomaly_core.metrics import RuntimeMetrics, counter, start_metrics_server
from anomaly_core.producer import Delivery, ReliableProducer
from anomaly_core.registry import RegistryClient
from anomaly_core.serde import AvroSerde
from anomaly_core.settings import KafkaSettings
from anomaly_core.settling import settled
from fusion_app import checkpoint as ckpt
from fusion_app.align import Aligner, Item
from fusion_app.camera import CameraState, StepResult, idle, step
from fusion_app.codecs import FusionTopics, decode_score
from fusion_app.events import to_event
from fusion_app.incidents import Incident
from fusion_app.liveness import CommitLiveness
from fusion_app.observe import Where, observe
from fusion_app.rules import Rules
from fusion_app.settings import FusionSettings
from fusion_app.statecodec import Pending
from fusion_app.window import CaptionObs, Obs
from schemas.records import AnomalyState

log = logging.getLogger(__name__)
SERVICE = "fusion"


class FusionWorker:
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
        self.first_batch_at: float | None = None  # monotonic times, for the benchmark
        self.last_batch_at: float | None = None
        self.records = 0
        self.known_camera = known_camera
        self.registry = RegistryClient(kafka.schema_registry_url)
        self.serde = AvroSerde(self.registry)
        self.metrics = RuntimeMetrics(SERVICE)
        # Checkpoints are repetitive JSON: lz4 shrinks them several times for little CPU.
        self.producer = ReliableProducer(
            kafka, client_id=self.group, config={"compression.type": "lz4"}, on_ack=self._acked
        )
        self.consumer = Consumer(self._consumer_config())
        self.liveness = CommitLiveness(SERVICE, settings.liveness_timeout_s, settings.liveness_file)
        self.states: dict[str, CameraState] = {}
        self.changelog = ckpt.Changelog(self.topics.state, self.group)
        self.aligner = Aligner(settings.align_ms, self.topics.scores)
        self.partition_of: dict[str, int] = {}
        self.dirty: set[str] = set()
        self.owned: set[int] = set()
        self.positions: dict[tuple[str, int], int] = {}  # next offset to commit, per input partition
        self.ends: dict[tuple[str, int], int] = {}  # bounded runs (replay): where each partition stops
        self.finished: set[tuple[str, int]] = set()
        self._counts = counter("anomaly_fusion_events_total", "Fusion outcomes by kind", ("kind",))

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
                if batch or self.aligner.held:  # held records may be released once a sibling caught up
                    self.first_batch_at = self.first_batch_at or time.monotonic()
                    self._process(batch)
                    self.last_batch_at = time.monotonic()
                    self.records += len(batch)
                now = time.monotonic()
                if now >= next_tick:
                    self._tick()
                    next_tick = now + self.settings.tick_ms / 1000
                if now >= next_checkpoint:
                    self._checkpoint()
                    next_checkpoint = now + self.settings.checkpoint_ms / 1000
                self.liveness.check()
                if self.ends and self.finished >= set(self.ends) and not self.aligner.held:
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
            items, letters = self._read(records)
        except TransientError as exc:
            # The registry is unreachable: nothing was applied yet, so read the same records again later.
            for raw in records:
                self.consumer.seek(TopicPartition(raw.topic(), raw.partition(), raw.offset()))
            log.warning("cannot read the batch yet (%s); retrying", exc)
            self._keep_alive(1.0)
            self._resume()
            return
        ready = self.aligner.release(items, self.consumer, self.finished)
        held = self.aligner.first_held()
        for raw in records:
            tp = (raw.topic(), raw.partition())
            if tp not in self.finished:
                self.positions[tp] = max(self.positions.get(tp, 0), raw.offset() + 1)
        for tp, offset in held.items():
            self.positions[tp] = min(self.positions.get(tp, offset), offset)  # held records are not done yet
        by_camera: dict[str, list[Obs | CaptionObs]] = defaultdict(list)
        for it in ready:
            by_camera[it.camera_id].append(it.obs)
            self.partition_of[it.camera_id] = it.tp[1]
        wall_ms = int(time.time() * 1000)
        outgoing: dict[str, list[Incident]] = {}
        for camera, batch in by_camera.items():
            result = step(self.states.get(camera) or CameraState(camera), batch, self.rules, wall_ms)
            self._account(camera, result)
            if result.published:
                outgoing[camera] = result.published
        self.liveness.progressed()
        self._publish(outgoing, letters)
        for tp, end in self.ends.items():
            if self.positions.get(tp, -1) >= end and tp not in held:
                self.finished.add(tp)

    def _read(self, records: list[Any]) -> tuple[list[Item], list[Delivery]]:
        """Decoded, validated observations and dead letters; raises TransientError before changing anything."""
        letters: list[Delivery] = []
        items: list[Item] = []
        for topic, n in Counter(raw.topic() for raw in records).items():
            self.metrics.consumed.labels(SERVICE, topic).inc(n)
        for raw in records:
            _, ts = raw.timestamp()
            if self.to_ms is not None and ts > self.to_ms:
                self._finish((raw.topic(), raw.partition()))
                continue
            try:
                record = decode_score(self.serde, self.topics, raw.topic(), raw.value())
                key = raw.key().decode() if raw.key() is not None else None
                where = Where(raw.topic(), raw.partition(), raw.offset(), key, ts)
                obs, warnings = observe(record, where, self.rules, self.known_camera)
            except (PermanentError, UnicodeDecodeError) as exc:
                letters.append(self._dead_letter(raw, exc))
                continue
            for warning in warnings:
                self._counts.labels("clamped").inc()
                log.warning("%s[%d]@%d: %s", raw.topic(), raw.partition(), raw.offset(), warning)
            items.append(Item((raw.topic(), raw.partition()), raw.offset(), record.camera_id, obs))
        return items, letters

    def _account(self, camera: str, result: StepResult) -> None:
        self.states[camera] = result.state
        self.dirty.add(camera)
        for name, n in (
            ("too_late", len(result.too_late)),
            ("redelivered", result.duplicates),
            ("suppressed_by_cooldown", result.suppressed),
            ("orphan_caption", len(result.orphan_captions)),
            ("window_decisions", len(result.decisions)),
        ):
            if n:
                self._counts.labels(name).inc(n)
        for obs in result.too_late:
            log.info("%s: score at %d later than the allowed lateness, not applied", camera, obs.t_ms)
        for caption in result.orphan_captions:
            log.warning("%s: caption for unknown anomaly %s", camera, caption.anomaly_id)

    def _tick(self) -> None:
        """Closes incidents of cameras silent for the idle timeout (wall clock).

        Only on partitions this worker has read to the end: a camera whose scores wait in a backlog is not idle.
        """
        wall_ms = int(time.time() * 1000)
        current = self._caught_up()
        outgoing: dict[str, list[Incident]] = {}
        for camera, state in list(self.states.items()):
            if self.partition_of.get(camera) not in current:
                continue
            result = idle(state, self.rules, wall_ms)
            if result.published:
                self.states[camera] = result.state
                outgoing[camera] = result.published
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
        decided_at = datetime.now(UTC)
        checkpoints: list[Delivery] = []
        outputs: list[Delivery] = []
        for camera, incidents in outgoing.items():
            pending: list[Pending] = []
            for incident in incidents:
                event = to_event(incident, decided_at)
                pending.append((self.topics.anomalies, camera, self.serde.encode(self.topics.anomalies, event)))
                if event.state == AnomalyState.CANDIDATE:
                    pending.append((self.topics.candidates, camera, self.serde.encode(self.topics.candidates, event)))
                self._counts.labels(f"published_{event.state.value.lower()}").inc()
            state = self.states[camera]
            checkpoints.append(self.changelog.record(self.partition_of[camera], state, pending))
            self.dirty.discard(camera)
            outputs += [Delivery(topic, key.encode(), value) for topic, key, value in pending]
        # State (with what it is about to publish) first: a revision is never visible before the state that made it.
        self._deliver(checkpoints + letters)
        self._deliver(outputs)

    def _checkpoint(self, *, sync: bool = False) -> None:
        """Checkpoints every camera touched since the last time, then commits the input offsets."""
        deliveries = [
            self.changelog.record(self.partition_of[c], self.states[c]) for c in sorted(self.dirty) if c in self.states
        ]
        self._deliver(deliveries)
        self.dirty.clear()
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
        backoff = Backoff()
        todo = deliveries
        while True:
            for d in todo:
                self.producer.send(d)
            try:
                failed = self.producer.wait(self.settings.ack_timeout_s, idle=self._keep_alive)
            except TransientError as exc:
                failed = [d for d in todo if not d.acked]
                log.warning("%s", exc)
            if not failed:
                break
            if self.stop.is_set() and backoff.attempt >= 3:
                raise TransientError(f"{len(failed)} records undelivered at shutdown")
            delay = backoff.next_delay()
            log.warning("%d deliveries failed, retrying in %.2fs", len(failed), delay)
            self._keep_alive(delay)
            todo = failed
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

    def _dead_letter(self, raw: Any, exc: BaseException) -> Delivery:
        log.warning("dead-lettering %s[%d]@%d: %s", raw.topic(), raw.partition(), raw.offset(), exc)
        letter = dead_letter(
            SERVICE,
            exc,
            topic=raw.topic(),
            partition=raw.partition(),
            offset=raw.offset(),
            key=raw.key(),
            value=raw.value(),
        )
        self.metrics.dead_lettered.labels(SERVICE, letter.stage.value).inc()
        return Delivery(self.topics.dlq, raw.key(), self.serde.encode(self.topics.dlq, letter))

    def _acked(self, delivery: Delivery) -> None:
        self.metrics.produced.labels(SERVICE, delivery.topic).inc()

    # --- assignment ---------------------------------------------------------------------------------------------

    def _assigned(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        numbers = sorted({p.partition for p in partitions} - self.owned)
        restored = ckpt.restore(self.kafka, self.topics.state, self.group, numbers)
        resend: list[Delivery] = []
        now_ms = int(time.time() * 1000)
        for camera, r in restored.items():
            # Time the worker was down is not time the camera was silent: the idle clock restarts now.
            self.states[camera] = replace(r.state, last_input_wall_ms=now_ms)
            self.partition_of[camera] = r.partition
            resend += [Delivery(topic, key.encode(), value) for topic, key, value in r.outbox]
        self.owned |= set(numbers)
        committed = settled(consumer.committed, partitions, timeout=10.0)
        self.aligner.assigned({(tp.topic, tp.partition): tp.offset for tp in committed})
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
        for camera in [c for c, p in self.partition_of.items() if p in numbers]:
            self.states.pop(camera, None)
            self.partition_of.pop(camera, None)
            self.dirty.discard(camera)
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
