"""Python records mirroring ``schemas/avsc/*.avsc`` one to one.

Field names, order and types match the Avro schemas; ``tests/unit/test_records_match_schemas.py``
proves it. Timestamps are timezone-aware UTC datetimes, uuids are ``str``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum


class SourceKind(StrEnum):
    FILE = "FILE"
    STREAM = "STREAM"
    WEBCAM = "WEBCAM"


class FrameStage(StrEnum):
    """A processing stage a FrameRef is published for (the producer's motion gate decides)."""

    POSE = "POSE"
    SCENE = "SCENE"


class AudioEncoding(StrEnum):
    WAV = "WAV"
    FLAC = "FLAC"


class Severity(StrEnum):
    LOW = "LOW"
    MEDIUM = "MEDIUM"
    HIGH = "HIGH"
    CRITICAL = "CRITICAL"


class AnomalyKind(StrEnum):
    FALL = "FALL"
    PERSON_DOWN = "PERSON_DOWN"
    VIOLENCE = "VIOLENCE"
    DISTRESS_SPEECH = "DISTRESS_SPEECH"
    LOUD_NOISE = "LOUD_NOISE"
    FIRE_SMOKE = "FIRE_SMOKE"
    WEAPON = "WEAPON"
    SCENE_ANOMALY = "SCENE_ANOMALY"
    MEDICAL = "MEDICAL"


class AnomalyState(StrEnum):
    CANDIDATE = "CANDIDATE"
    OPEN = "OPEN"
    ONGOING = "ONGOING"
    CLOSED = "CLOSED"


class AnomalyOrigin(StrEnum):
    """Where the footage of an anomaly came from."""

    LIVE = "LIVE"
    ANALYZE = "ANALYZE"


class ActionKind(StrEnum):
    ACKNOWLEDGE = "ACKNOWLEDGE"
    ASSIGN = "ASSIGN"
    RESOLVE = "RESOLVE"
    NOTE = "NOTE"


class Resolution(StrEnum):
    TRUE_ALARM = "TRUE_ALARM"
    FALSE_ALARM = "FALSE_ALARM"
    TEST = "TEST"


class DeadLetterStage(StrEnum):
    DECODE = "DECODE"
    VALIDATE = "VALIDATE"
    FETCH = "FETCH"
    HANDLE = "HANDLE"
    PRODUCE = "PRODUCE"


@dataclass(frozen=True, slots=True)
class ObjectRef:
    bucket: str
    key: str
    sha256: str
    size_bytes: int
    content_type: str


@dataclass(frozen=True, slots=True)
class SourceRef:
    event_id: str
    topic: str
    partition: int
    offset: int


@dataclass(frozen=True, slots=True)
class ModelInfo:
    name: str
    version: str


@dataclass(frozen=True, slots=True)
class FrameRef:
    event_id: str
    camera_id: str
    seq: int
    captured_at: datetime
    media_offset_ms: int
    object: ObjectRef
    width: int
    height: int
    source_kind: SourceKind = SourceKind.FILE
    # Records written before the motion gate are for every stage.
    stages: list[FrameStage] = field(default_factory=lambda: [FrameStage.POSE, FrameStage.SCENE])
    motion: float = 0.0  # fraction of changed pixels against the previous decoded frame

    def is_for(self, stage: FrameStage) -> bool:
        return stage in self.stages


@dataclass(frozen=True, slots=True)
class AudioChunkRef:
    event_id: str
    camera_id: str
    seq: int
    start_at: datetime
    media_offset_ms: int
    duration_ms: int
    sample_rate: int
    channels: int
    object: ObjectRef
    encoding: AudioEncoding = AudioEncoding.WAV


@dataclass(frozen=True, slots=True)
class Keypoint:
    x: float
    y: float
    z: float
    visibility: float


@dataclass(frozen=True, slots=True)
class PersonPose:
    track_id: int
    keypoints: list[Keypoint]
    torso_angle_deg: float | None = None
    hip_height: float | None = None
    bbox_aspect: float | None = None
    mean_visibility: float = 0.0
    box: list[float] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class PoseScore:
    event_id: str
    camera_id: str
    source: SourceRef
    event_time: datetime
    model: ModelInfo
    processed_at: datetime
    latency_ms: float
    frame: ObjectRef
    person_present: bool
    keypoints: list[Keypoint]
    torso_angle_deg: float | None = None
    hip_height: float | None = None
    bbox_aspect: float | None = None
    mean_visibility: float = 0.0
    people: list[PersonPose] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class LabelProbability:
    label: str
    probability: float
    is_anomaly: bool


@dataclass(frozen=True, slots=True)
class SceneScore:
    event_id: str
    camera_id: str
    source: SourceRef
    event_time: datetime
    model: ModelInfo
    processed_at: datetime
    latency_ms: float
    frame: ObjectRef
    labels: list[LabelProbability]
    anomaly_probability: float
    top_label: str
    prompt_set_version: str


@dataclass(frozen=True, slots=True)
class PhraseMatch:
    phrase: str
    category: str
    matched_text: str
    score: float
    language: str


@dataclass(frozen=True, slots=True)
class IntentMatch:
    intent: str
    category: str
    score: float
    margin: float
    example: str
    benign_example: str
    segment: str


@dataclass(frozen=True, slots=True)
class AudioScore:
    event_id: str
    camera_id: str
    source: SourceRef
    event_time: datetime
    model: ModelInfo
    processed_at: datetime
    latency_ms: float
    audio: ObjectRef
    duration_ms: int
    transcript: str
    language: str | None
    language_probability: float
    matched_phrases: list[PhraseMatch]
    loudness_dbfs: float
    peak_dbfs: float
    sudden_loudness: bool
    speech_ratio: float
    vad_skipped: bool
    intent: IntentMatch | None = None  # written before intents: none
    scream: bool = False  # a loud high-pitched or clipped voice without words; written before it: False


@dataclass(frozen=True, slots=True)
class CaptionScore:
    event_id: str
    camera_id: str
    source: SourceRef
    event_time: datetime
    model: ModelInfo
    processed_at: datetime
    latency_ms: float
    anomaly_id: str
    frame: ObjectRef
    caption: str


@dataclass(frozen=True, slots=True)
class LineageEntry:
    event_id: str
    modality: str
    topic: str
    partition: int
    offset: int
    model: ModelInfo


@dataclass(frozen=True, slots=True)
class Evidence:
    frames: list[ObjectRef] = field(default_factory=list)
    best_frame: ObjectRef | None = None
    audio: list[ObjectRef] = field(default_factory=list)
    transcript_excerpt: str | None = None
    caption: str | None = None


@dataclass(frozen=True, slots=True)
class AnomalyEvent:
    anomaly_id: str
    camera_id: str
    revision: int
    state: AnomalyState
    incident_start: datetime
    incident_end: datetime
    window_start: datetime
    window_end: datetime
    severity: Severity
    kinds: list[AnomalyKind]
    score: float
    reasons: list[str]
    evidence: Evidence
    lineage: list[LineageEntry]
    rules_version: str
    fusion_version: str
    decided_at: datetime
    origin: AnomalyOrigin = AnomalyOrigin.LIVE  # written before origins: live
    run_id: str | None = None  # the `anomaly analyze` run of an ANALYZE anomaly


@dataclass(frozen=True, slots=True)
class AnomalyAction:
    action_id: str
    anomaly_id: str
    camera_id: str
    kind: ActionKind
    actor: str
    at: datetime
    assignee: str | None = None
    resolution: Resolution | None = None
    note: str | None = None


@dataclass(frozen=True, slots=True)
class DeadLetter:
    event_id: str
    service: str
    stage: DeadLetterStage
    error_class: str
    reason: str
    original_topic: str
    original_partition: int
    original_offset: int
    key: bytes | None
    value: bytes | None
    failed_at: datetime


Record = (
    FrameRef
    | AudioChunkRef
    | PoseScore
    | SceneScore
    | AudioScore
    | CaptionScore
    | AnomalyEvent
    | AnomalyAction
    | DeadLetter
)

#: Top-level records, one ``.avsc`` each, by Avro record name.
TOP_LEVEL: dict[str, type] = {
    cls.__name__: cls
    for cls in (
        FrameRef,
        AudioChunkRef,
        PoseScore,
        SceneScore,
        AudioScore,
        CaptionScore,
        AnomalyEvent,
        AnomalyAction,
        DeadLetter,
    )
}
