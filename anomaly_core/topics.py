"""The topic catalog: every topic of the platform, its key, value record, partitions and retention.

This is the only place topic names are spelled out; services call ``topic_name(MEDIA_FRAMES, prefix)``.
All media/scores/anomalies topics share one partition count, so a camera's events land on the same
partition number everywhere (the fusion join relies on that co-partitioning).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from anomaly_core.settings import KafkaSettings, RetentionSettings

MEDIA_FRAMES = "media.frames.v1"
MEDIA_AUDIO = "media.audio.v1"
SCORES_POSE = "scores.pose.v1"
SCORES_SCENE = "scores.scene.v1"
SCORES_AUDIO = "scores.audio.v1"
SCORES_CAPTION = "scores.caption.v1"
ANOMALIES = "anomalies.v1"
ANOMALY_CANDIDATES = "anomalies.candidates.v1"
ANOMALY_ACTIONS = "anomalies.actions.v1"
DLQ = "dlq.v1"
#: Per-camera fusion state checkpoints (internal to the fusion worker; JSON values, not a contract).
FUSION_STATE = "fusion.state.v1"

CAMERA_KEY = "camera_id"
_HOUR_MS = 3_600_000
_DAY_MS = 24 * _HOUR_MS
# anomalies.v1 is the source of truth the Postgres projection is rebuilt from: it is never expired.
FOREVER = -1


@dataclass(frozen=True)
class TopicSpec:
    name: str
    key: str
    value_record: str
    retention_ms: int
    partitions: int
    cleanup_policy: str = "delete"

    def config(self) -> dict[str, str]:
        """Topic-level broker settings for CreateTopics."""
        return {"retention.ms": str(self.retention_ms), "cleanup.policy": self.cleanup_policy}

    def prefixed(self, prefix: str) -> TopicSpec:
        return replace(self, name=prefix + self.name)


def build_catalog(
    kafka: KafkaSettings | None = None,
    retention: RetentionSettings | None = None,
    *,
    prefix: str | None = None,
    partitions: int | None = None,
) -> tuple[TopicSpec, ...]:
    """The catalog for the given settings (read from the environment when omitted)."""
    kafka = kafka or KafkaSettings()
    retention = retention or RetentionSettings()
    n = partitions or kafka.topic_partitions
    media_ms = retention.video_retention_days * _DAY_MS
    audio_ms = retention.audio_chunk_retention_hours * _HOUR_MS
    # The DLQ holds evidence of what went wrong; it is kept as long as anomaly evidence is.
    dlq_ms = retention.evidence_retention_days * _DAY_MS
    specs = (
        TopicSpec(MEDIA_FRAMES, CAMERA_KEY, "FrameRef", media_ms, n),
        TopicSpec(MEDIA_AUDIO, CAMERA_KEY, "AudioChunkRef", audio_ms, n),
        TopicSpec(SCORES_POSE, CAMERA_KEY, "PoseScore", media_ms, n),
        TopicSpec(SCORES_SCENE, CAMERA_KEY, "SceneScore", media_ms, n),
        TopicSpec(SCORES_AUDIO, CAMERA_KEY, "AudioScore", media_ms, n),
        TopicSpec(SCORES_CAPTION, CAMERA_KEY, "CaptionScore", media_ms, n),
        TopicSpec(ANOMALIES, CAMERA_KEY, "AnomalyEvent", FOREVER, n),
        # Candidates are AnomalyEvents not yet confirmed; they only feed captioning, so they expire.
        TopicSpec(ANOMALY_CANDIDATES, CAMERA_KEY, "AnomalyEvent", media_ms, n),
        # Operator actions are part of an anomaly's life: the projection is rebuilt from them too, so never expired.
        TopicSpec(ANOMALY_ACTIONS, CAMERA_KEY, "AnomalyAction", FOREVER, n),
        TopicSpec(DLQ, CAMERA_KEY, "DeadLetter", dlq_ms, n),
        # Compacted: one checkpoint per camera is kept; same partition count as the inputs it checkpoints.
        TopicSpec(FUSION_STATE, CAMERA_KEY, "FusionCheckpoint", FOREVER, n, cleanup_policy="compact"),
    )
    effective_prefix = kafka.topic_prefix if prefix is None else prefix
    return tuple(spec.prefixed(effective_prefix) for spec in specs)


def _defaults() -> tuple[TopicSpec, ...]:
    # Built from the declared defaults, not the environment, so importing this module stays pure.
    kafka = KafkaSettings.model_construct()
    retention = RetentionSettings.model_construct()
    return build_catalog(kafka, retention, prefix="")


TOPICS: tuple[TopicSpec, ...] = _defaults()
BASE_NAMES: frozenset[str] = frozenset(spec.name for spec in TOPICS)


def topic_name(base: str, prefix: str = "") -> str:
    """The full name of a catalog topic under ``prefix`` (tests use ``t<uuid8>.`` for private copies)."""
    if base not in BASE_NAMES:
        raise ValueError(f"unknown topic {base!r}; the catalog has {sorted(BASE_NAMES)}")
    return prefix + base


def spec_for(base: str, catalog: tuple[TopicSpec, ...] = TOPICS, prefix: str = "") -> TopicSpec:
    wanted = topic_name(base, prefix)
    for spec in catalog:
        if spec.name == wanted:
            return spec
    raise KeyError(wanted)
