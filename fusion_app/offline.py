"""Runs the fusion state machine over records in memory: for tests, backtests and the benchmark's baseline.

The same ``observe`` -> ``step`` path the worker uses, without Kafka: batches are cut from the given order, so a
caller can check that the result does not depend on how records were batched.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from fusion_app.camera_state import CameraState, StepResult, idle, step
from fusion_app.fuse import Decision
from fusion_app.incidents import Incident
from fusion_app.observe import ScoreRecord, Where, observe
from fusion_app.rules import Rules
from fusion_app.window import CaptionObs, Obs

TOPIC_OF = {"PoseScore": "scores.pose.v1", "SceneScore": "scores.scene.v1", "AudioScore": "scores.audio.v1"}


@dataclass
class OfflineRun:
    states: dict[str, CameraState] = field(default_factory=dict)
    published: list[Incident] = field(default_factory=list)
    decisions: list[Decision] = field(default_factory=list)
    too_late: int = 0
    duplicates: int = 0

    def absorb(self, result: StepResult) -> None:
        self.states[result.state.camera_id] = result.state
        self.published.extend(result.published)
        self.decisions.extend(result.decisions)
        self.too_late += len(result.too_late)
        self.duplicates += result.duplicates

    def latest(self) -> dict[str, Incident]:
        """The newest revision of each anomaly id (what the projection table would hold)."""
        rows: dict[str, Incident] = {}
        for incident in self.published:
            if incident.anomaly_id not in rows or incident.revision >= rows[incident.anomaly_id].revision:
                rows[incident.anomaly_id] = incident
        return rows


def with_offsets(records: Iterable[ScoreRecord], partition: int = 0) -> list[tuple[ScoreRecord, Where]]:
    """Places records on their score topics as a producer would, one offset after the other per topic."""
    offsets: dict[str, int] = defaultdict(int)
    placed: list[tuple[ScoreRecord, Where]] = []
    for record in records:
        topic = TOPIC_OF[type(record).__name__]
        ts = round(record.event_time.timestamp() * 1000)
        placed.append((record, Where(topic, partition, offsets[topic], record.camera_id, ts)))
        offsets[topic] += 1
    return placed


def run_offline(
    items: Sequence[tuple[ScoreRecord, Where]],
    rules: Rules,
    *,
    batch_size: int = 1,
    run: OfflineRun | None = None,
    finish: bool = True,
) -> OfflineRun:
    """Feeds ``items`` in order, ``batch_size`` at a time; ``finish`` closes what is still open at the end."""
    run = run or OfflineRun()
    wall = 0
    for i in range(0, len(items), batch_size):
        by_camera: dict[str, list[Obs | CaptionObs]] = defaultdict(list)
        for record, where in items[i : i + batch_size]:
            obs, _ = observe(record, where, rules)
            by_camera[record.camera_id].append(obs)
            wall = max(wall, where.timestamp_ms)
        for camera, batch in by_camera.items():
            run.absorb(step(run.states.get(camera) or CameraState(camera), batch, rules, wall))
    if finish:
        for state in list(run.states.values()):
            run.absorb(idle(state, rules, state.last_input_wall_ms + rules.windows.idle_timeout_ms))
    return run
