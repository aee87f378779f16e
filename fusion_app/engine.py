"""The fusion's work between reading records and writing them, whichever client does the IO.

Both workers use it: the faust-streaming app of ``anomaly fusion worker`` (``live_driver.py``) and the bounded
confluent-kafka loop of ``anomaly replay`` and the backtests (``replay_driver.py``). It holds the per-camera states and turns

* input records into validated observations, or dead letters (``read``);
* observations into new states and the incident revisions to publish (``apply``, ``close_idle``);
* states and revisions into changelog checkpoints and output records (``publication``, ``checkpoints``);
* restored checkpoints back into states, and the outbox to re-send (``restore``).

It never sends anything itself: the worker decides the order (checkpoint, then outputs, then offsets).
"""

from __future__ import annotations

import logging
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from anomaly_core.dlq import dead_letter
from anomaly_core.errors import PermanentError
from anomaly_core.metrics import RuntimeMetrics, counter
from anomaly_core.producer import Delivery
from anomaly_core.serde import AvroSerde
from fusion_app import checkpoint as ckpt
from fusion_app.align import Item
from fusion_app.camera_state import CameraState, StepResult, idle, step
from fusion_app.events import to_event
from fusion_app.incidents import Incident
from fusion_app.observe import Where, observe
from fusion_app.rules import Rules
from fusion_app.statecodec import Pending
from fusion_app.topics import FusionTopics, decode_score
from fusion_app.window import CaptionObs, Obs
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
class Publication:
    """What one camera publishes: its checkpoint (state + outbox) first, then the outputs."""

    camera: str
    checkpoint: Delivery
    outputs: list[Pending]


def deliveries(pending: Iterable[Pending]) -> list[Delivery]:
    return [Delivery(topic, key.encode(), value) for topic, key, value in pending]


class FusionEngine:
    def __init__(
        self,
        topics: FusionTopics,
        group: str,
        rules: Rules,
        serde: AvroSerde,
        metrics: RuntimeMetrics,
        *,
        known_camera: Callable[[str], bool] | None = None,
    ) -> None:
        self.topics, self.rules, self.serde, self.metrics = topics, rules, serde, metrics
        self.known_camera = known_camera
        self.changelog = ckpt.Changelog(topics.state, group)
        self.states: dict[str, CameraState] = {}
        self.partition_of: dict[str, int] = {}
        self.dirty: set[str] = set()  # changed since their last checkpoint
        self.counts = counter("anomaly_fusion_events_total", "Fusion outcomes by kind", ("kind",))

    # --- input --------------------------------------------------------------------------------------------------

    def read(self, records: Sequence[Raw]) -> tuple[list[Item], list[Delivery]]:
        """Decoded, validated observations and dead letters; raises TransientError (registry unreachable) before
        changing anything."""
        letters: list[Delivery] = []
        items: list[Item] = []
        for topic, n in Counter(r.topic for r in records).items():
            self.metrics.consumed.labels(SERVICE, topic).inc(n)
        for raw in records:
            try:
                if raw.value is None:
                    raise PermanentError("empty value (tombstone) on a score topic")
                record = decode_score(self.serde, self.topics, raw.topic, raw.value)
                key = raw.key.decode() if raw.key is not None else None
                where = Where(raw.topic, raw.partition, raw.offset, key, raw.timestamp_ms)
                obs, warnings = observe(record, where, self.rules, self.known_camera)
            except (PermanentError, UnicodeDecodeError) as exc:
                letters.append(self.dead_letter(raw, exc))
                continue
            for warning in warnings:
                self.counts.labels("clamped").inc()
                log.warning("%s[%d]@%d: %s", raw.topic, raw.partition, raw.offset, warning)
            items.append(Item((raw.topic, raw.partition), raw.offset, record.camera_id, obs))
        return items, letters

    def dead_letter(self, raw: Raw, exc: BaseException) -> Delivery:
        log.warning("dead-lettering %s[%d]@%d: %s", raw.topic, raw.partition, raw.offset, exc)
        letter = dead_letter(
            SERVICE, exc, topic=raw.topic, partition=raw.partition, offset=raw.offset, key=raw.key, value=raw.value
        )
        self.metrics.dead_lettered.labels(SERVICE, letter.stage.value).inc()
        return Delivery(self.topics.dlq, raw.key, self.serde.encode(self.topics.dlq, letter))

    # --- state transitions --------------------------------------------------------------------------------------

    def apply(self, ready: Sequence[Item], wall_ms: int) -> dict[str, list[Incident]]:
        """Steps every camera of ``ready``; the revisions each camera publishes."""
        by_camera: dict[str, list[Obs | CaptionObs]] = defaultdict(list)
        for it in ready:
            by_camera[it.camera_id].append(it.obs)
            self.partition_of[it.camera_id] = it.tp[1]
        outgoing: dict[str, list[Incident]] = {}
        for camera, batch in by_camera.items():
            result = step(self.states.get(camera) or CameraState(camera), batch, self.rules, wall_ms)
            self._account(camera, result)
            if result.published:
                outgoing[camera] = result.published
        return outgoing

    def close_idle(self, partitions: set[int], wall_ms: int) -> dict[str, list[Incident]]:
        """Closes the incidents of cameras on ``partitions`` silent for the idle timeout (wall clock)."""
        outgoing: dict[str, list[Incident]] = {}
        for camera, state in list(self.states.items()):
            if self.partition_of.get(camera) not in partitions:
                continue
            result = idle(state, self.rules, wall_ms)
            if result.published:
                self.states[camera] = result.state
                self.dirty.add(camera)
                outgoing[camera] = result.published
        return outgoing

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
                self.counts.labels(name).inc(n)
        for obs in result.too_late:
            log.info("%s: score at %d later than the allowed lateness, not applied", camera, obs.t_ms)
        for caption in result.orphan_captions:
            log.warning("%s: caption for unknown anomaly %s", camera, caption.anomaly_id)

    # --- output -------------------------------------------------------------------------------------------------

    def publication(
        self, outgoing: Mapping[str, list[Incident]], carried: Mapping[str, list[Pending]] | None = None
    ) -> list[Publication]:
        """Per publishing camera: its checkpoint, whose outbox holds the new outputs (and ``carried`` ones still
        unacknowledged), and the new outputs."""
        decided_at = datetime.now(UTC)
        out: list[Publication] = []
        for camera, incidents in outgoing.items():
            pending: list[Pending] = []
            for incident in incidents:
                event = to_event(incident, decided_at)
                pending.append((self.topics.anomalies, camera, self.serde.encode(self.topics.anomalies, event)))
                if event.state == AnomalyState.CANDIDATE:
                    pending.append((self.topics.candidates, camera, self.serde.encode(self.topics.candidates, event)))
                self.counts.labels(f"published_{event.state.value.lower()}").inc()
            outbox = [*(carried or {}).get(camera, []), *pending]
            checkpoint = self.changelog.record(self.partition_of[camera], self.states[camera], outbox)
            self.dirty.discard(camera)
            out.append(Publication(camera, checkpoint, pending))
        return out

    def checkpoints(self, carried: Mapping[str, list[Pending]] | None = None) -> list[Delivery]:
        """Checkpoints of every camera changed since its last one (``carried``: outboxes still unacknowledged)."""
        out = [
            self.changelog.record(self.partition_of[c], self.states[c], (carried or {}).get(c, []))
            for c in sorted(self.dirty)
            if c in self.states
        ]
        self.dirty.clear()
        return out

    # --- assignment ---------------------------------------------------------------------------------------------

    def restore(self, restored: Mapping[str, ckpt.Restored], now_ms: int) -> dict[str, list[Pending]]:
        """Takes restored checkpoints over; returns each camera's outbox (to re-send)."""
        outboxes: dict[str, list[Pending]] = {}
        for camera, r in restored.items():
            # Time the worker was down is not time the camera was silent: the idle clock restarts now.
            self.states[camera] = replace(r.state, last_input_wall_ms=now_ms)
            self.partition_of[camera] = r.partition
            if r.outbox:
                outboxes[camera] = list(r.outbox)
        return outboxes

    def forget(self, numbers: set[int]) -> None:
        """Partitions handed over: their cameras belong to another worker now."""
        for camera in [c for c, p in self.partition_of.items() if p in numbers]:
            self.states.pop(camera, None)
            self.partition_of.pop(camera, None)
            self.dirty.discard(camera)
