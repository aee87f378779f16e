"""``anomaly fusion worker``: the live driver, a faust-streaming app around the fusion orchestration.

* one agent (concurrency 1) reads ``scores.pose/scene/audio/caption.v1`` as one co-partitioned stream, in batches
  (``noack_take``): events are acknowledged by hand, only once the state they changed is in the changelog;
* the Faust table ``fusion-state`` (changelog: the compacted ``fusion.state.v1``, memory store, restored by Faust
  on every assignment) holds one value per camera: its hopping event-time windows, watermarks, incidents and the
  last applied offset of each input, plus the outbox of revisions not yet acknowledged;
* a checkpoint timer runs the orchestration's checkpoint; a tick timer takes over newly assigned partitions from
  the restored table and closes the incidents of idle cameras.

The order of writes is ``orchestration.py``'s; this module only performs them with Faust's producer, table and
consumer (``Port``). What Faust offers no public form for is read through ``faust_adapter.py``.
"""

from __future__ import annotations

import asyncio
import logging
import tempfile
import time
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path
from typing import Any, cast

import faust
import uvloop
from aiokafka.helpers import create_ssl_context
from faust.types import TP as KafkaTP  # noqa: N811
from faust.types import EventT

from anomaly_core.metrics import RuntimeMetrics, start_metrics_server
from anomaly_core.producer import Delivery
from anomaly_core.registry import RegistryClient
from anomaly_core.serde import AvroSerde
from anomaly_core.settings import KafkaSettings
from fusion_app import checkpoint as ckpt
from fusion_app import faust_adapter
from fusion_app.align import TP
from fusion_app.engine import FusionEngine
from fusion_app.liveness import CommitLiveness
from fusion_app.orchestration import SERVICE, Orchestration, Output, Raw
from fusion_app.rules import Rules
from fusion_app.settings import FusionSettings
from fusion_app.topics import FusionTopics

log = logging.getLogger(__name__)
RAW: faust.Schema = faust.Schema(key_type=bytes, value_type=bytes, key_serializer="raw", value_serializer="raw")
EventKey = tuple[str, int, int]
#: While catching up, how long a batch may gather before it is processed.
CATCH_UP_S = 0.2


class FaustFetcher:
    """The aligner's view of the Faust consumer: what each input partition has left to hand to the agent."""

    def __init__(self, app: faust.App, topics: list[str]) -> None:
        self.app = app
        self.topics = set(topics)
        self.next: dict[TP, int] = {}  # next offset after the newest record handed to the agent

    def inputs(self) -> list[TP]:
        return [(tp.topic, tp.partition) for tp in self.app.consumer.assignment() if tp.topic in self.topics]

    def seen(self, tp: TP, offset: int) -> None:
        self.next[tp] = max(self.next.get(tp, 0), offset + 1)

    def behind(self, tp: TP) -> int:
        """Records of ``tp`` not handed to the agent yet, as far as the last fetch knows (0 when unknown)."""
        high = self.app.consumer.highwater(KafkaTP(*tp))
        if high is None:
            return 0  # not fetched yet: nothing known, nothing to wait for
        if tp in self.next:
            return max(0, high - self.next[tp])
        # Nothing handed over yet: Faust reads from the committed offset it sought at assignment.
        return max(0, high - (faust_adapter.read_offset(self.app, KafkaTP(*tp)) or 0))

    def has_backlog(self, tp: TP) -> bool:
        return self.behind(tp) > 0

    def lag(self) -> int:
        return sum(self.behind(tp) for tp in self.inputs())

    def caught_up(self) -> set[int]:
        """Partition numbers whose every input has been handed to the agent up to its end offset."""
        inputs = self.inputs()
        return {tp[1] for tp in inputs} - {tp[1] for tp in inputs if self.has_backlog(tp)}

    # No pausing: Faust's pause_partitions, called while its fetcher thread waits on the active set, stopped
    # the delivery of the OTHER partitions too (the backlog test stalled). Records of a partition running ahead
    # are held in memory instead (uncommitted), until the sibling catches up or stops making progress.
    def pause(self, tps: set[TP]) -> None:
        pass

    def resume(self, tps: set[TP]) -> None:
        pass

    def forget(self, numbers: set[int]) -> None:
        for tp in [tp for tp in self.next if tp[1] in numbers]:
            del self.next[tp]


class LiveDriver:
    """The agent, the timers and the ``Port`` of the orchestration. Its coroutines share the app's event loop and
    take turns through ``lock``."""

    def __init__(
        self,
        app: faust.App,
        kafka: KafkaSettings,
        settings: FusionSettings,
        rules: Rules,
        *,
        group: str,
        partitions: int,
        known_camera: Callable[[str], bool] | None = None,
    ) -> None:
        self.app, self.settings, self.group = app, settings, group
        topics = FusionTopics.for_prefix(kafka.topic_prefix)
        self.registry = RegistryClient(kafka.schema_registry_url)
        self.fetcher = FaustFetcher(app, topics.inputs)
        self.orchestration = Orchestration(
            self,
            self.fetcher,
            FusionEngine(rules, known_camera=known_camera),
            topics=topics,
            group=group,
            serde=AvroSerde(self.registry),
            metrics=RuntimeMetrics(SERVICE),
            liveness=CommitLiveness(SERVICE, settings.liveness_timeout_s, settings.liveness_file),
            align_ms=settings.align_ms,
        )
        self.lock = asyncio.Lock()
        self.events: dict[EventKey, EventT] = {}  # handed to the agent, not acknowledged yet
        self.taken: list[EventT] = []  # handed over by the stream, not processed yet
        self.taken_since = 0.0
        state_topic = app.topic(
            topics.state, partitions=partitions, compacting=True, config=ckpt.STATE_TOPIC_CONFIG, schema=RAW
        )
        self.table = app.Table(
            "fusion-state", default=None, partitions=partitions, changelog_topic=state_topic, schema=RAW
        )
        app.agent(app.topic(*topics.inputs, schema=RAW), name="fusion", concurrency=1)(self.consume)
        app.timer(settings.checkpoint_ms / 1000)(self.checkpoint)
        app.timer(settings.tick_ms / 1000)(self.tick)
        app.on_partitions_revoked.connect(cast(Any, self.revoked))

    # --- the agent ----------------------------------------------------------------------------------------------

    async def consume(self, stream: Any) -> None:
        """The agent: batches of events with manual acknowledgement (``faust.Stream.noack_take``).

        While a backlog is read, batches are gathered up to ``max_batch`` (or ``CATCH_UP_S``): a batch re-evaluates
        each window it touches once, so big batches are what makes catching up fast. Live, a batch is what came
        within ``FUSION_MAX_WAIT_MS``."""
        async for events in stream.noack_take(self.settings.max_batch, within=self.settings.max_wait_ms / 1000):
            async with self.lock:
                if not self.taken:
                    self.taken_since = time.monotonic()
                self.taken += events
                if (
                    len(self.taken) < self.settings.max_batch
                    and time.monotonic() - self.taken_since < CATCH_UP_S
                    and self.fetcher.lag() >= self.settings.max_batch  # catching up, not live
                ):
                    continue  # the checkpoint timer processes what is left if nothing more comes
                await self._process_taken()

    async def _process_taken(self) -> None:
        taken, self.taken = self.taken, []
        if not taken:
            return
        raws: list[Raw] = []
        for event in taken:
            m = event.message
            self.events[(m.topic, m.partition, m.offset)] = event
            self.fetcher.seen((m.topic, m.partition), m.offset)
            raws.append(Raw(m.topic, m.partition, m.offset, m.key, m.value, round(m.timestamp * 1000)))
        await self._own({r.partition for r in raws})
        await self.orchestration.batch(raws)

    # --- timers and rebalances ----------------------------------------------------------------------------------

    def _ready(self) -> bool:
        try:
            self.app.consumer.assignment()
        except Exception:  # the consumer is not started yet
            return False
        return not self.app.rebalancing and faust_adapter.tables_recovered(self.app)

    async def checkpoint(self) -> None:
        """The orchestration's checkpoint, after the events gathered so far are processed."""
        if not self._ready():
            return
        async with self.lock:
            await self._process_taken()
            await self.orchestration.checkpoint()
        await self._commit()

    async def tick(self) -> None:
        """Takes over newly assigned partitions; closes the incidents of idle cameras on caught-up partitions."""
        self.orchestration.liveness.check()
        if not self._ready():
            return
        async with self.lock:
            await self._own({tp[1] for tp in self.fetcher.inputs()})
            await self.orchestration.tick(self.fetcher.caught_up())

    async def _own(self, numbers: set[int]) -> None:
        """Takes over the cameras of newly assigned partition numbers from the table Faust restored."""
        new = self.orchestration.new_partitions(numbers)
        if not new:
            return
        restored: dict[str, ckpt.Restored] = {}
        for key, value in list(self.table.data.items()):
            found = ckpt.read_checkpoint(self.group, key, value)
            if found is None:
                continue
            camera, state, outbox = found
            # The table does not say which partition a key came from; the state does (where its inputs were read).
            partition = state.applied[0][1] if state.applied else None
            if partition in new:
                restored[camera] = ckpt.Restored(state, outbox, partition)
        await self.orchestration.assigned(new, restored)

    async def revoked(self, _sender: Any, revoked: set[Any], **_: Any) -> None:
        """Partitions handed over: their unacknowledged records are read again by their next owner."""
        numbers = {tp.partition for tp in revoked if tp.topic in self.fetcher.topics}
        async with self.lock:
            self.orchestration.revoked(numbers)
            self.fetcher.forget(numbers)
            self.events = {k: e for k, e in self.events.items() if k[1] not in numbers}

    async def final_checkpoint(self) -> None:
        """On SIGTERM: the batch in hand is done (the lock), its cameras checkpointed, offsets committed."""
        await self.checkpoint()
        await self.app.producer.flush()

    # --- the port -----------------------------------------------------------------------------------------------

    async def save(self, checkpoints: Sequence[Delivery], letters: Sequence[Delivery]) -> None:
        """Camera states into the table and its changelog, dead letters to their topic; waits for every ack."""
        acks: list[Any] = []
        for c in checkpoints:
            # Timers cannot assign table items (that needs the current event's partition): the store value and
            # the changelog record are written here, on the camera's input partition.
            self.table.data[c.key] = c.value
            acks.append(self.table.send_changelog(c.partition, c.key, c.value))
        for letter in letters:
            acks.append(await self.app.producer.send(letter.topic, letter.key, letter.value, None, None, None))
        await asyncio.gather(*acks)

    async def send(self, outputs: Sequence[Output]) -> None:
        for output in outputs:
            topic, key, value = output.pending
            future = cast(
                asyncio.Future[Any],
                await self.app.producer.send(topic, key.encode(), value, output.partition, None, None),
            )
            future.add_done_callback(partial(self._sent, output))

    def _sent(self, output: Output, future: asyncio.Future[Any]) -> None:
        if future.cancelled() or future.exception() is not None:
            self.orchestration.undelivered(output)
        else:
            self.orchestration.delivered(output)

    async def commit(self, *, final: bool) -> None:
        """Acknowledges every event whose effect is checkpointed (all but those the aligner holds); ``checkpoint``
        commits them as soon as the step returns and the lock is free (``_commit``)."""
        held = {(it.tp[0], it.tp[1], it.offset) for it in self.orchestration.aligner.held}
        for key in [k for k in self.events if k not in held]:
            self.events.pop(key).ack()

    async def _commit(self) -> None:
        """Commits the acknowledged events. Outside the lock: Faust flushes its producer first, which must not stall
        the agent."""
        try:
            await self.app.consumer.commit()
            self.orchestration.liveness.committed()
        except Exception as exc:  # refused during a rebalance: the next owner commits
            log.warning("commit failed (%s); retried at the next checkpoint", exc)

    async def idle(self, seconds: float) -> None:
        await asyncio.sleep(seconds)  # Faust's consumer thread keeps the group membership


class _Worker(faust.Worker):
    """Faust's worker with a last checkpoint before the app stops (``on_stop`` runs before its services stop)."""

    driver: LiveDriver

    async def on_stop(self) -> None:
        try:
            await asyncio.wait_for(self.driver.final_checkpoint(), timeout=self.driver.settings.ack_timeout_s)
            log.info("stopping: last checkpoint written, offsets committed")
        except Exception:  # the uncommitted tail is processed again after restart
            log.exception("final checkpoint failed")
        await super().on_stop()


def credentials(kafka: KafkaSettings) -> faust.types.auth.CredentialsT | None:
    protocol = kafka.security_protocol.upper()
    cafile = str(kafka.ssl_ca_location) if kafka.ssl_ca_location else None
    if protocol.startswith("SASL"):
        return faust.SASLCredentials(
            username=kafka.sasl_username or "",
            password=kafka.sasl_password.get_secret_value() if kafka.sasl_password else "",
            mechanism=kafka.sasl_mechanism or "PLAIN",
            ssl_context=create_ssl_context(cafile=cafile) if protocol == "SASL_SSL" else None,
        )
    if protocol == "SSL":
        return faust.SSLCredentials(create_ssl_context(cafile=cafile))
    return None


def app_settings(kafka: KafkaSettings, group: str, settings: FusionSettings | None = None) -> dict[str, Any]:
    """The Faust app's settings (also used by ``faust_probe``)."""
    settings = settings or FusionSettings()
    datadir = Path(tempfile.gettempdir()) / "anomaly-fusion" / group  # Faust wants one; the memory store needs none
    datadir.mkdir(parents=True, exist_ok=True)
    return {
        "broker": [f"kafka://{host}" for host in kafka.bootstrap_servers.split(",")],
        "broker_credentials": credentials(kafka),
        "store": "memory://",
        "datadir": datadir,
        "processing_guarantee": "at_least_once",
        "topic_replication_factor": kafka.replication_factor,
        "consumer_auto_offset_reset": kafka.consumer_start,
        "broker_commit_interval": settings.checkpoint_ms / 1000,
        "broker_session_timeout": settings.session_timeout_ms / 1000,
        "broker_heartbeat_interval": max(0.5, settings.session_timeout_ms / 4000),
        "consumer_group_instance_id": settings.instance_id,
        # Up to 1 MB per partition and fetch: a backlog arrives in fewer, bigger rounds (the event-time merge of
        # align.py holds what one topic brings ahead of the others).
        "consumer_max_fetch_size": 1_048_576,
        "stream_wait_empty": False,  # held (aligned) events must not block a rebalance: the next owner reads them
        "stream_recovery_delay": 0.0,
        "table_standby_replicas": 0,
        "producer_acks": -1,
        "web_enabled": False,
        # Faust's opt-in Cython fast paths of the stream iterator and conductor: ≈ 15 % more events/s.
        "cython_optimizations": True,
    }


def build(
    kafka: KafkaSettings,
    settings: FusionSettings,
    rules: Rules,
    *,
    group: str,
    known_camera: Callable[[str], bool] | None = None,
) -> LiveDriver:
    topics = FusionTopics.for_prefix(kafka.topic_prefix)
    partitions = ckpt.ensure_state_topic(kafka, topics.state, topics.inputs)
    app = faust.App(group, topic_partitions=partitions, **app_settings(kafka, group, settings))
    return LiveDriver(app, kafka, settings, rules, group=group, partitions=partitions, known_camera=known_camera)


def run(driver: LiveDriver) -> None:
    """Runs the app until SIGTERM/SIGINT; exits the process with Faust's exit code (0 after a clean stop)."""
    start_metrics_server(driver.settings.metrics_port)
    # uvloop: Faust moves every record through futures and queues on the event loop; ≈ 25 % more events/s.
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    # override_logging=False: logging is configured by the command (anomaly_core.logs), JSON or text as LOG_JSON says.
    worker = _Worker(driver.app, loglevel=logging.getLogger().level or logging.INFO, quiet=True, override_logging=False)
    worker.driver = driver
    worker.execute_from_commandline()
