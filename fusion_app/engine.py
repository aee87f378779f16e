"""The fusion itself, whichever driver runs it: per-camera states and their transitions.

It turns validated score records into observations (``observe``), observations into new states and the incident
revisions to publish (``apply``, ``close_idle``), and hands over the states changed since they were last saved
(``take``, ``take_changed``). It knows nothing of partitions, encodings or Kafka: ``orchestration.py`` decides
what is written where and in which order.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace

from anomaly_core.metrics import counter
from fusion_app.align import Item
from fusion_app.camera_state import CameraState, StepResult, idle, step
from fusion_app.incidents import Incident
from fusion_app.observe import ScoreRecord, Where, observe
from fusion_app.rules import Rules
from fusion_app.window import CaptionObs, Obs

log = logging.getLogger(__name__)


class FusionEngine:
    def __init__(self, rules: Rules, *, known_camera: Callable[[str], bool] | None = None) -> None:
        self.rules = rules
        self.known_camera = known_camera
        self.states: dict[str, CameraState] = {}
        self.dirty: set[str] = set()  # changed since they were last taken
        self.counts = counter("anomaly_fusion_events_total", "Fusion outcomes by kind", ("kind",))

    # --- input --------------------------------------------------------------------------------------------------

    def observe(self, record: ScoreRecord, where: Where) -> Item:
        """The validated observation of a decoded record; ``PermanentError`` (a dead letter) when it is invalid."""
        obs, warnings = observe(record, where, self.rules, self.known_camera)
        for warning in warnings:
            self.counts.labels("clamped").inc()
            log.warning("%s[%d]@%d: %s", where.topic, where.partition, where.offset, warning)
        return Item((where.topic, where.partition), where.offset, record.camera_id, obs)

    # --- state transitions --------------------------------------------------------------------------------------

    def apply(self, ready: Sequence[Item], wall_ms: int) -> dict[str, list[Incident]]:
        """Steps every camera of ``ready``; the revisions each camera publishes."""
        by_camera: dict[str, list[Obs | CaptionObs]] = defaultdict(list)
        for it in ready:
            by_camera[it.camera_id].append(it.obs)
        outgoing: dict[str, list[Incident]] = {}
        for camera, batch in by_camera.items():
            result = step(self.states.get(camera) or CameraState(camera), batch, self.rules, wall_ms)
            self._account(camera, result)
            if result.published:
                outgoing[camera] = result.published
        return outgoing

    def close_idle(self, cameras: Iterable[str], wall_ms: int) -> dict[str, list[Incident]]:
        """Closes the incidents of ``cameras`` silent for the idle timeout (wall clock)."""
        outgoing: dict[str, list[Incident]] = {}
        for camera in cameras:
            state = self.states.get(camera)
            if state is None:
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

    # --- states to save -----------------------------------------------------------------------------------------

    def take(self, camera: str) -> CameraState:
        """The state of ``camera``, about to be saved: no longer counted as changed."""
        self.dirty.discard(camera)
        return self.states[camera]

    def take_changed(self) -> list[CameraState]:
        """Every state changed since it was last taken, by camera id."""
        out = [self.states[c] for c in sorted(self.dirty) if c in self.states]
        self.dirty.clear()
        return out

    # --- ownership ----------------------------------------------------------------------------------------------

    def restore(self, states: Iterable[CameraState], now_ms: int) -> None:
        """Takes restored states over."""
        for state in states:
            # Time the worker was down is not time the camera was silent: the idle clock restarts now.
            self.states[state.camera_id] = replace(state, last_input_wall_ms=now_ms)

    def forget(self, cameras: Iterable[str]) -> None:
        """Cameras now fused by another worker."""
        for camera in cameras:
            self.states.pop(camera, None)
            self.dirty.discard(camera)
