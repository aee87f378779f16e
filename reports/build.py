"""Pure report building: platform records of one run in, a ``Report`` out. No IO, no clocks."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from reports.model import (
    CameraReport,
    InputProblem,
    LineageItem,
    Marker,
    Report,
    ReportAnomaly,
    Series,
    SeriesPoint,
    StageStatus,
    TranscriptLine,
    severity_rank,
)
from schemas.records import (
    AnomalyEvent,
    AudioChunkRef,
    AudioScore,
    FrameRef,
    ObjectRef,
    PoseScore,
    SceneScore,
    Severity,
)

#: Loudness below this is drawn at the floor; digital silence is -inf dBFS.
LOUDNESS_FLOOR_DBFS = -80.0


@dataclass(frozen=True, slots=True)
class CameraInputs:
    """Everything the platform produced for one camera of one run."""

    camera_id: str
    source: str
    frames: Sequence[FrameRef] = ()
    audio_chunks: Sequence[AudioChunkRef] = ()
    pose: Sequence[PoseScore] = ()
    scene: Sequence[SceneScore] = ()
    audio: Sequence[AudioScore] = ()
    anomalies: Sequence[AnomalyEvent] = ()
    thumbnails: dict[str, bytes] = field(default_factory=dict)
    notes: Sequence[str] = ()
    #: Duration from the media container, when known; otherwise the last scored moment is used.
    duration_s: float | None = None


def media_origin(frames: Iterable[FrameRef], audio: Iterable[AudioChunkRef]) -> datetime | None:
    """Event time of the file's first instant: capture time minus the offset into the file."""
    starts = [f.captured_at - timedelta(milliseconds=f.media_offset_ms) for f in frames]
    starts += [a.start_at - timedelta(milliseconds=a.media_offset_ms) for a in audio]
    return min(starts) if starts else None


def latest_revisions(events: Iterable[AnomalyEvent]) -> list[AnomalyEvent]:
    """The newest revision of each incident, oldest incident first (a topic holds every revision)."""
    newest: dict[str, AnomalyEvent] = {}
    for event in events:
        kept = newest.get(event.anomaly_id)
        if kept is None or (event.revision, event.decided_at) > (kept.revision, kept.decided_at):
            newest[event.anomaly_id] = event
    return sorted(newest.values(), key=lambda e: (e.incident_start, e.anomaly_id))


def build_camera_report(inputs: CameraInputs, origin: datetime | None = None) -> CameraReport:
    """Relative-time view of one camera: anomalies, score series, phrase markers and transcript."""
    origin = origin or media_origin(inputs.frames, inputs.audio_chunks) or _first_event_time(inputs)

    def rel(t: datetime) -> float:
        return round((t - origin).total_seconds(), 3) if origin else 0.0

    # Every incident counts whatever its state: the fusion publishes an alert first as a CANDIDATE (so the
    # caption processor can describe it) and a run may end before its CLOSED revision.
    anomalies = [_report_anomaly(e, rel) for e in latest_revisions(inputs.anomalies)]
    series = _series(inputs, rel)
    transcript = [
        TranscriptLine(
            start_s=rel(a.event_time),
            end_s=rel(a.event_time + timedelta(milliseconds=a.duration_ms)),
            text=a.transcript.strip(),
            phrases=sorted({m.phrase for m in a.matched_phrases}),
        )
        for a in sorted(inputs.audio, key=lambda a: a.event_time)
        if a.transcript.strip()
    ]
    # One marker per chunk: the phrases it matched share its start time and would overprint each other.
    markers = [
        Marker(t_s=rel(a.event_time), lane="audio.loudness_dbfs", label=" · ".join(sorted({m.phrase for m in phrases})))
        for a in inputs.audio
        if (phrases := a.matched_phrases)
    ]
    ends = [p.t_s for s in series for p in s.points] + [a.end_s for a in anomalies] + [t.end_s for t in transcript]
    duration = inputs.duration_s if inputs.duration_s is not None else max(ends, default=0.0)
    return CameraReport(
        camera_id=inputs.camera_id,
        source=inputs.source,
        origin=origin,
        duration_s=round(max(duration, 0.0), 3),
        frames=len(inputs.frames),
        audio_chunks=len(inputs.audio_chunks),
        anomalies=anomalies,
        series=series,
        markers=sorted(markers, key=lambda m: m.t_s),
        transcript=transcript,
        notes=list(inputs.notes),
        thumbnails={a.anomaly_id: thumb for a in anomalies if (thumb := inputs.thumbnails.get(a.anomaly_id))},
    )


def build_report(
    run_id: str,
    generated_at: datetime,
    cameras: Sequence[CameraReport],
    *,
    problems: Sequence[InputProblem] = (),
    stages: Sequence[StageStatus] = (),
    skipped: Sequence[str] = (),
    elapsed_s: float = 0.0,
) -> Report:
    return Report(
        run_id=run_id,
        generated_at=generated_at,
        cameras=list(cameras),
        problems=list(problems),
        stages=list(stages),
        skipped=list(skipped),
        complete=all(s.done for s in stages),
        elapsed_s=round(elapsed_s, 2),
    )


def meets_severity(report: Report, threshold: Severity) -> bool:
    """True when any reported anomaly is at least ``threshold`` (drives ``--fail-on``)."""
    top = report.max_severity
    return top is not None and severity_rank(top) >= severity_rank(threshold)


def _first_event_time(inputs: CameraInputs) -> datetime | None:
    times = [p.event_time for p in inputs.pose] + [s.event_time for s in inputs.scene]
    times += [a.event_time for a in inputs.audio] + [e.incident_start for e in inputs.anomalies]
    return min(times) if times else None


def _ref(ref: ObjectRef) -> str:
    return f"{ref.bucket}/{ref.key}"


def _report_anomaly(event: AnomalyEvent, rel: Callable[[datetime], float]) -> ReportAnomaly:
    evidence = event.evidence
    return ReportAnomaly(
        anomaly_id=event.anomaly_id,
        camera_id=event.camera_id,
        revision=event.revision,
        state=event.state,
        start_s=rel(event.incident_start),
        end_s=rel(event.incident_end),
        started_at=event.incident_start,
        ended_at=event.incident_end,
        severity=event.severity,
        kinds=list(event.kinds),
        score=round(event.score, 4),
        reasons=list(event.reasons),
        transcript_excerpt=evidence.transcript_excerpt,
        caption=evidence.caption,
        evidence_frames=[_ref(r) for r in evidence.frames],
        evidence_audio=[_ref(r) for r in evidence.audio],
        best_frame=_ref(evidence.best_frame) if evidence.best_frame else None,
        lineage=[
            LineageItem(
                modality=item.modality,
                topic=item.topic,
                partition=item.partition,
                offset=item.offset,
                event_id=item.event_id,
                model=f"{item.model.name}@{item.model.version}",
            )
            for item in event.lineage
        ],
        rules_version=event.rules_version,
        fusion_version=event.fusion_version,
    )


def _series(inputs: CameraInputs, rel: Callable[[datetime], float]) -> list[Series]:
    pose = sorted((p for p in inputs.pose if p.person_present), key=lambda p: p.event_time)
    scene = sorted(inputs.scene, key=lambda s: s.event_time)
    audio = sorted(inputs.audio, key=lambda a: a.event_time)
    out: list[Series] = []
    if pose:
        out.append(
            Series(
                key="pose.torso_angle_deg",
                label="Torso angle from vertical",
                modality="pose",
                unit="°",
                lo=0.0,
                hi=90.0,
                points=[
                    SeriesPoint(rel(p.event_time), round(p.torso_angle_deg, 2))
                    for p in pose
                    if p.torso_angle_deg is not None
                ],
            )
        )
        out.append(
            Series(
                key="pose.hip_height",
                label="Hip height (1 = top of image)",
                modality="pose",
                unit="",
                lo=0.0,
                hi=1.0,
                points=[
                    SeriesPoint(rel(p.event_time), round(p.hip_height, 3)) for p in pose if p.hip_height is not None
                ],
            )
        )
    if scene:
        out.append(
            Series(
                key="scene.anomaly_probability",
                label="Scene anomaly probability",
                modality="scene",
                unit="",
                lo=0.0,
                hi=1.0,
                points=[SeriesPoint(rel(s.event_time), round(s.anomaly_probability, 3)) for s in scene],
            )
        )
    if audio:
        out.append(
            Series(
                key="audio.loudness_dbfs",
                label="Loudness",
                modality="audio",
                unit="dBFS",
                lo=LOUDNESS_FLOOR_DBFS,
                hi=0.0,
                points=[
                    # Plotted mid-chunk: the level is an average over the whole chunk.
                    SeriesPoint(
                        rel(a.event_time + timedelta(milliseconds=a.duration_ms / 2)),
                        round(min(max(a.loudness_dbfs, LOUDNESS_FLOOR_DBFS), 0.0), 2),
                    )
                    for a in audio
                ],
            )
        )
    return out
