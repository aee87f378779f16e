"""The one consume -> decode -> handle -> produce -> commit loop every stream processor runs.

A service is a ``ServiceSpec``: input topics, the record type they carry, and a batch handler that maps
messages to outputs (errors as data, one result per message). ``run_service`` does the rest:

* decodes each value through the schema registry; undecodable records go to the dead-letter topic;
* calls the handler on dynamic batches (up to ``max_batch`` records or ``max_wait_ms``, one batch in flight);
* a PermanentError for a message sends that message to the dead-letter topic, the service keeps going;
* a TransientError (store, database, registry, broker down) retries the unfinished part of the batch with
  exponential backoff and jitter; the offsets do not move and the consumer stays in its group meanwhile
  (its partitions are paused and it keeps polling);
* outputs go through an idempotent producer (acks=all); a message's offset is stored for commit only after
  every output of its batch, dead letters included, is acknowledged by the brokers (at-least-once);
* SIGTERM/SIGINT (or ``stop``): finish the batch in hand, flush, commit, close, return.
"""

from __future__ import annotations

import gc
import json
import logging
import signal
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from confluent_kafka import Consumer, KafkaError, KafkaException, TopicPartition

from anomaly_core.backoff import Backoff, Retry
from anomaly_core.dlq import dead_letter, dlq_topic
from anomaly_core.errors import DecodeError, PermanentError, TransientError
from anomaly_core.kafka_logs import client_logger
from anomaly_core.metrics import RuntimeMetrics, start_metrics_server
from anomaly_core.producer import Delivery, ReliableProducer
from anomaly_core.registry import RegistryClient
from anomaly_core.serde import AvroSerde
from anomaly_core.settings import KafkaSettings
from schemas.records import DeadLetterStage

log = logging.getLogger(__name__)

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Message(Generic[T]):
    """A decoded input record and where it came from."""

    topic: str
    partition: int
    offset: int
    key: str | None
    value: T
    raw: bytes
    timestamp_ms: int


@dataclass(frozen=True, slots=True)
class Output:
    """A record to publish: ``value`` is a record of ``schemas.records`` (its class names the schema)."""

    topic: str
    key: str | None
    value: Any


#: One result per input message, in order: its outputs, or the exception it failed with (errors as data).
BatchHandler = Callable[[list[Message[Any]]], list[list[Output] | Exception]]


def per_message(fn: Callable[[Message[Any]], list[Output]]) -> BatchHandler:
    """A batch handler calling ``fn`` on each message; an exception becomes that message's result."""

    def handle(batch: list[Message[Any]]) -> list[list[Output] | Exception]:
        results: list[list[Output] | Exception] = []
        for message in batch:
            try:
                results.append(fn(message))
            except Exception as exc:  # errors as data: the runtime decides between retry and dead letter
                results.append(exc)
        return results

    handle.__name__ = getattr(fn, "__name__", "handle")
    return handle


#: How long one ``consume`` may wait when nothing arrives; it returns at once when a batch is complete.
IDLE_POLL_S = 0.5


def poll_timeout_s(max_batch: int, max_wait_ms: int) -> float:
    """The ``consume`` timeout of the service loop. Pure.

    ``consume`` returns as soon as ``max_batch`` records are in, or when the timeout passes with fewer. A service
    taking one record at a time therefore loses nothing by waiting long (the first record ends the wait), and a zero
    timeout would turn the idle loop into a busy one: a processor that takes single records spent most of a core
    spinning in ``consume(timeout=0)``. Batching services wait their batching window (at least 1 ms)."""
    if max_batch <= 1:
        return IDLE_POLL_S
    return max(max_wait_ms, 1) / 1000


@dataclass
class ServiceSpec(Generic[T]):
    """What a stream processor is; everything else is the runtime's job."""

    name: str
    group_id: str
    input_topics: list[str]
    input_record: type[T]
    handler: BatchHandler
    max_batch: int = 1
    max_wait_ms: int = 50
    metrics_port: int = 0
    #: Dead-letter topic; None: ``dlq.v1`` under the KafkaSettings topic prefix.
    dlq_topic: str | None = None
    consumer_config: dict[str, Any] = field(default_factory=dict)
    producer_config: dict[str, Any] = field(default_factory=dict)
    #: How long one wait for broker acknowledgements may take before it counts as a transient failure.
    ack_timeout_s: float = 30.0
    #: After a stop request, how long a batch that keeps failing transiently is retried before giving up on it
    #: (its offsets are then not committed: it is processed again after the restart).
    shutdown_grace_s: float = 20.0
    backoff_initial_s: float = 0.2
    backoff_max_s: float = 30.0
    #: Record types of input topics that do not carry ``input_record`` (a service reading two contracts).
    input_records: dict[str, type] = field(default_factory=dict)


def run_service(spec: ServiceSpec[Any], kafka: KafkaSettings, *, stop: threading.Event | None = None) -> None:
    """Runs ``spec`` until SIGTERM/SIGINT or ``stop`` is set; returns after a clean shutdown."""
    stop = stop or threading.Event()
    with _signals_set(stop):
        _Service(spec, kafka, stop).run()


@contextmanager
def _signals_set(stop: threading.Event) -> Iterator[None]:
    """SIGTERM/SIGINT set ``stop`` while the service runs (signals can only be caught in the main thread)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def request_stop(signum: int, _frame: Any) -> None:
        log.info("%s received: finishing the batch in hand, then stopping", signal.Signals(signum).name)
        stop.set()

    previous = {sig: signal.signal(sig, request_stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


@dataclass(slots=True)
class _Item:
    """One consumed record on its way through the batch."""

    raw: Any  # confluent_kafka.Message
    message: Message[Any] | None = None
    outputs: list[Output] | None = None
    error: BaseException | None = None
    stage: DeadLetterStage | None = None
    deliveries: list[Delivery] | None = None

    @property
    def where(self) -> str:
        return f"{self.raw.topic()}[{self.raw.partition()}]@{self.raw.offset()}"


class _Service:
    def __init__(self, spec: ServiceSpec[Any], kafka: KafkaSettings, stop: threading.Event) -> None:
        self.spec = spec
        self.kafka = kafka
        self.stop = stop
        self.dlq = spec.dlq_topic or dlq_topic(kafka.topic_prefix)
        self.metrics = RuntimeMetrics(spec.name)
        self.registry = RegistryClient(kafka.schema_registry_url)
        self.serde = AvroSerde(self.registry)
        self.producer = ReliableProducer(kafka, client_id=spec.name, config=spec.producer_config, on_ack=self._acked)
        self.consumer = Consumer(self._consumer_config())
        self.revoked: set[tuple[str, int]] = set()
        self.committable: dict[tuple[str, int], int] = {}
        self.paused = False
        self.stop_seen_at: float | None = None

    def _consumer_config(self) -> dict[str, Any]:
        conf: dict[str, Any] = {
            **self.kafka.client_config(),
            "group.id": self.spec.group_id,
            "client.id": self.spec.name,
            # Offsets are stored by us, only after the outputs are acknowledged; librdkafka commits what is stored.
            "enable.auto.offset.store": False,
            "enable.auto.commit": True,
            "auto.commit.interval.ms": 1000,
            "auto.offset.reset": self.kafka.consumer_start,
            "enable.partition.eof": False,
            # A crashed instance's partitions move to the others after this long (librdkafka's default is 45 s).
            "session.timeout.ms": 10000,
            "logger": client_logger(),  # one line per broker outage, not one per reconnect attempt
        }
        if self.spec.metrics_port:
            conf["statistics.interval.ms"] = 5000
            conf["stats_cb"] = self._stats
        conf.update(self.spec.consumer_config)
        return conf

    # --- main loop ----------------------------------------------------------------------------------------------

    def run(self) -> None:
        start_metrics_server(self.spec.metrics_port)
        # Everything alive now (models, modules, settings) lives as long as the service: keep the cyclic garbage
        # collector from rescanning it after every few thousand allocations of per-record objects.
        gc.collect()
        gc.freeze()
        self.consumer.subscribe(
            list(self.spec.input_topics), on_assign=self._assigned, on_revoke=self._revoked, on_lost=self._revoked
        )
        log.info(
            "service %s consuming %s (group %s, batch %d/%d ms, dead letters to %s)",
            self.spec.name,
            ",".join(self.spec.input_topics),
            self.spec.group_id,
            self.spec.max_batch,
            self.spec.max_wait_ms,
            self.dlq,
        )
        timeout_s = poll_timeout_s(self.spec.max_batch, self.spec.max_wait_ms)
        try:
            while not self.stop.is_set():
                records = self.consumer.consume(num_messages=self.spec.max_batch, timeout=timeout_s)
                batch = [r for r in records if not self._is_error(r)]
                if batch:
                    self._process(batch)
        finally:
            self._shutdown()

    def _shutdown(self) -> None:
        remaining = self.producer.flush(self.spec.shutdown_grace_s)
        if remaining:
            log.error("%d records still unacknowledged at shutdown; their inputs are not committed", remaining)
        self._commit()
        self.consumer.close()
        self.registry.close()
        log.info("service %s stopped", self.spec.name)

    def _commit(self) -> None:
        if not self.committable:
            return
        offsets = [TopicPartition(t, p, o) for (t, p), o in self.committable.items()]
        try:
            self.consumer.commit(offsets=offsets, asynchronous=False)
            log.info("committed %s", ", ".join(f"{tp.topic}[{tp.partition}]@{tp.offset}" for tp in offsets))
        except KafkaException as exc:
            log.warning("final commit failed (%s); the group resumes from the last auto-commit", exc)

    # --- one batch ----------------------------------------------------------------------------------------------

    def _process(self, records: list[Any]) -> None:
        self.revoked.clear()
        for topic, n in Counter(r.topic() for r in records).items():
            self.metrics.consumed.labels(self.spec.name, topic).inc(n)
        items = [_Item(r) for r in records]

        def advance() -> None:
            nonlocal items
            items = [it for it in items if (it.raw.topic(), it.raw.partition()) not in self.revoked]
            self._advance(items)

        def retrying(exc: Exception, delay: float) -> None:
            self.metrics.retries.labels(self.spec.name, type(exc).__name__).inc()
            log.warning("transient failure, retrying %d records in %.2fs: %s", len(items), delay, exc)

        backoff = Backoff(self.spec.backoff_initial_s, self.spec.backoff_max_s)
        retry = Retry(retrying, backoff, give_up=lambda exc: exc if self._giving_up() else None, wait=self._wait)
        try:
            retry.call(advance)
        except TransientError as exc:  # given up: stopping
            log.error("stopping with a batch of %d records unfinished: %s", len(items), exc)
            return
        self._store_offsets(items)
        if self.paused:
            self.consumer.resume(self.consumer.assignment())
            self.paused = False

    def _advance(self, items: list[_Item]) -> None:
        """Does whatever is left of each item's work; raises TransientError if something must be retried."""
        self._decode(items)
        transient = self._handle(items)
        self._encode(items)
        self._deliver(items)
        if transient is not None:
            raise transient

    def _decode(self, items: list[_Item]) -> None:
        for it in items:
            if it.message is not None or it.error is not None:
                continue
            raw = it.raw
            try:
                key_bytes = raw.key()
                try:
                    key = None if key_bytes is None else key_bytes.decode()
                except UnicodeDecodeError as exc:
                    raise DecodeError(f"key is not UTF-8: {exc}") from exc
                record: type = self.spec.input_records.get(raw.topic(), self.spec.input_record)
                value: Any = self.serde.decode(raw.topic(), raw.value(), record)
            except DecodeError as exc:
                self._fail(it, exc)
                continue
            _, timestamp_ms = raw.timestamp()
            it.message = Message(raw.topic(), raw.partition(), raw.offset(), key, value, raw.value(), timestamp_ms)

    def _handle(self, items: list[_Item]) -> TransientError | None:
        """Runs the handler on the decoded items that have no result yet; returns a per-message transient error."""
        pending = [it for it in items if it.message is not None and it.outputs is None and it.error is None]
        if not pending:
            return None
        started = time.perf_counter()
        try:
            results = self._call([it.message for it in pending if it.message is not None])
        finally:
            self.metrics.handler_seconds.labels(self.spec.name).observe(time.perf_counter() - started)
            self.metrics.batch_size.labels(self.spec.name).observe(len(pending))
        transient: TransientError | None = None
        for it, result in zip(pending, results, strict=True):
            if isinstance(result, TransientError):
                transient = result
            elif isinstance(result, BaseException):
                self._fail(it, result)
            else:
                it.outputs = list(result)
        return transient

    def _call(self, batch: list[Message[Any]]) -> list[list[Output] | Exception]:
        """The handler's results; a handler that raises is called again per message to find the culprit."""
        try:
            results = self.spec.handler(batch)
        except TransientError:
            raise
        except Exception as exc:
            if len(batch) == 1:
                return [exc]
            log.warning("handler raised on a batch of %d (%r); isolating the failing records", len(batch), exc)
            return [self._call_one(message) for message in batch]
        if len(results) != len(batch):
            raise RuntimeError(f"handler {self.spec.name} returned {len(results)} results for {len(batch)} messages")
        return results

    def _call_one(self, message: Message[Any]) -> list[Output] | Exception:
        try:
            (result,) = self.spec.handler([message])
        except Exception as exc:  # TransientError included: it becomes that message's result, retried later
            return exc
        return result

    def _encode(self, items: list[_Item]) -> None:
        for it in items:
            if it.deliveries is not None:
                continue
            if it.error is None and it.outputs is not None:
                try:
                    it.deliveries = [self._delivery(o.topic, o.key, o.value) for o in it.outputs]
                except TransientError:
                    raise
                except Exception as exc:  # ValidationError: an output does not fit its schema
                    self._fail(it, exc, DeadLetterStage.PRODUCE if not isinstance(exc, PermanentError) else None)
            if it.error is not None and it.deliveries is None:
                raw = it.raw
                letter = dead_letter(
                    self.spec.name,
                    it.error,
                    topic=raw.topic(),
                    partition=raw.partition(),
                    offset=raw.offset(),
                    key=raw.key(),
                    value=raw.value(),
                    stage=it.stage,
                )
                it.deliveries = [Delivery(self.dlq, raw.key(), self.serde.encode(self.dlq, letter))]
                self.metrics.dead_lettered.labels(self.spec.name, letter.stage.value).inc()

    def _delivery(self, topic: str, key: str | None, value: Any) -> Delivery:
        return Delivery(topic, None if key is None else key.encode(), self.serde.encode(topic, value))

    def _deliver(self, items: list[_Item]) -> None:
        for it in items:
            for d in it.deliveries or ():
                if not d.acked and not d.in_flight:
                    self.producer.send(d)
        failed = self.producer.wait(self.spec.ack_timeout_s, idle=self._keep_alive)
        if failed:
            first = failed[0]
            raise TransientError(
                f"{len(failed)} deliveries failed, e.g. {first.topic}[{first.partition}]: {first.failed}"
            )

    def _fail(self, it: _Item, error: BaseException, stage: DeadLetterStage | None = None) -> None:
        it.error, it.stage = error, stage
        if isinstance(error, PermanentError):
            log.warning(
                "dead-lettering %s: %s: %s",
                it.where,
                type(error).__name__,
                error,
                extra={"topic": it.raw.topic(), "partition": it.raw.partition(), "offset": it.raw.offset()},
            )
        else:
            log.error(
                "handler failed on %s, dead-lettering it",
                it.where,
                exc_info=error,
                extra={"topic": it.raw.topic(), "partition": it.raw.partition(), "offset": it.raw.offset()},
            )

    def _store_offsets(self, items: list[_Item]) -> None:
        ends: dict[tuple[str, int], int] = {}
        for it in items:
            tp = (it.raw.topic(), it.raw.partition())
            ends[tp] = max(ends.get(tp, 0), it.raw.offset() + 1)
        if not ends:
            return
        try:
            self.consumer.store_offsets(offsets=[TopicPartition(t, p, o) for (t, p), o in ends.items()])
        except KafkaException as exc:
            # the partition was revoked meanwhile: its new owner re-reads from the last commit (at-least-once)
            log.info("offsets not stored (%s): partitions moved to another consumer", exc)
            return
        self.committable.update(ends)

    # --- waiting without leaving the group ----------------------------------------------------------------------

    def _wait(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0 and not self._giving_up():
            self._keep_alive(min(left, 0.5))

    def _keep_alive(self, timeout_s: float = 0.0) -> None:
        """Polls with the assignment paused: rebalances and liveness are served, no new record is taken."""
        if not self.paused:
            self.consumer.pause(self.consumer.assignment())
            self.paused = True
        record: Any = self.consumer.poll(timeout_s)
        if record is not None and not self._is_error(record):
            # from a partition assigned while paused: put it back for after this batch
            self.consumer.seek(TopicPartition(record.topic(), record.partition(), record.offset()))
            self.consumer.pause([TopicPartition(record.topic(), record.partition())])

    def _giving_up(self) -> bool:
        if not self.stop.is_set():
            return False
        if self.stop_seen_at is None:
            self.stop_seen_at = time.monotonic()
        return time.monotonic() - self.stop_seen_at > self.spec.shutdown_grace_s

    # --- callbacks ----------------------------------------------------------------------------------------------

    def _assigned(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        log.info("assigned %s", ", ".join(f"{p.topic}[{p.partition}]" for p in partitions) or "nothing")
        if self.paused:
            # mid-retry: take the partitions but fetch nothing from them until the batch in hand is done
            consumer.assign(partitions)
            consumer.pause(partitions)

    def _revoked(self, _consumer: Consumer, partitions: list[TopicPartition]) -> None:
        log.info("revoked %s", ", ".join(f"{p.topic}[{p.partition}]" for p in partitions) or "nothing")
        for p in partitions:
            self.revoked.add((p.topic, p.partition))
            self.committable.pop((p.topic, p.partition), None)

    def _acked(self, delivery: Delivery) -> None:
        self.metrics.produced.labels(self.spec.name, delivery.topic).inc()

    def _is_error(self, record: Any) -> bool:
        err: KafkaError | None = record.error()
        if err is None:
            return False
        if err.fatal():
            raise KafkaException(err)
        if err.code() != KafkaError._PARTITION_EOF:
            log.warning("consumer: %s", err)
        return True

    def _stats(self, text: str) -> None:
        try:
            stats = json.loads(text)
        except ValueError:
            return
        for topic, tstats in stats.get("topics", {}).items():
            for pid, pstats in tstats.get("partitions", {}).items():
                lag = pstats.get("consumer_lag_stored", pstats.get("consumer_lag", -1))
                if pid != "-1" and isinstance(lag, int) and lag >= 0:
                    self.metrics.record_lag(topic, int(pid), lag)
