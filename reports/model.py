"""Typed records of an analysis report.

Times inside a camera report are seconds from the start of its source file (``t_s``), so a reader can
seek the recording directly; absolute UTC times are kept next to them for cross-referencing the platform.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from schemas.records import AnomalyKind, AnomalyState, Severity

#: Severity order, lowest first: the enum (like its Avro symbols) is declared in that order.
SEVERITY_ORDER: tuple[Severity, ...] = tuple(Severity)


def severity_rank(severity: Severity) -> int:
    return SEVERITY_ORDER.index(severity)


@dataclass(frozen=True, slots=True)
class SeriesPoint:
    t_s: float
    value: float


@dataclass(frozen=True, slots=True)
class Series:
    """One plotted score of one modality, e.g. the pose torso angle."""

    key: str
    label: str
    modality: str
    unit: str
    lo: float
    hi: float
    points: list[SeriesPoint]


@dataclass(frozen=True, slots=True)
class Marker:
    """A point event drawn on a lane, e.g. a matched distress phrase on the audio lane."""

    t_s: float
    lane: str
    label: str


@dataclass(frozen=True, slots=True)
class TranscriptLine:
    start_s: float
    end_s: float
    text: str
    phrases: list[str]


@dataclass(frozen=True, slots=True)
class LineageItem:
    modality: str
    topic: str
    partition: int
    offset: int
    event_id: str
    model: str


@dataclass(frozen=True, slots=True)
class ReportAnomaly:
    anomaly_id: str
    camera_id: str
    revision: int
    state: AnomalyState
    start_s: float
    end_s: float
    started_at: datetime
    ended_at: datetime
    severity: Severity
    kinds: list[AnomalyKind]
    score: float
    reasons: list[str]
    transcript_excerpt: str | None
    caption: str | None
    evidence_frames: list[str]
    evidence_audio: list[str]
    best_frame: str | None
    lineage: list[LineageItem]
    rules_version: str
    fusion_version: str


@dataclass(frozen=True, slots=True)
class CameraReport:
    camera_id: str
    source: str
    origin: datetime | None
    duration_s: float
    frames: int
    audio_chunks: int
    anomalies: list[ReportAnomaly]
    series: list[Series]
    markers: list[Marker]
    transcript: list[TranscriptLine]
    notes: list[str] = field(default_factory=list)
    #: Evidence thumbnails (JPEG bytes) by anomaly id; rendered inline by the HTML report, not written to JSON.
    thumbnails: dict[str, bytes] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class InputProblem:
    """A file that could not be analysed, and why, in words an operator can act on."""

    path: str
    reason: str


@dataclass(frozen=True, slots=True)
class StageStatus:
    """Whether one pipeline stage processed everything given to it."""

    stage: str
    done: bool
    processed: int
    expected: int
    detail: str = ""


@dataclass(frozen=True, slots=True)
class Report:
    run_id: str
    generated_at: datetime
    cameras: list[CameraReport]
    problems: list[InputProblem]
    stages: list[StageStatus]
    skipped: list[str]
    complete: bool
    elapsed_s: float

    @property
    def anomalies(self) -> list[ReportAnomaly]:
        return [a for cam in self.cameras for a in cam.anomalies]

    @property
    def max_severity(self) -> Severity | None:
        found = [a.severity for a in self.anomalies]
        return max(found, key=severity_rank) if found else None
