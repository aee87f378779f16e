"""Pure report building and rendering with fixed timestamps."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from reports.build import (
    CameraInputs,
    build_camera_report,
    build_report,
    latest_revisions,
    media_origin,
    meets_severity,
)
from reports.html import format_time, render_html, tick_step
from reports.json_out import report_to_json, write_json
from reports.model import InputProblem, StageStatus
from schemas.records import (
    AnomalyEvent,
    AnomalyKind,
    AnomalyState,
    AudioChunkRef,
    AudioScore,
    Evidence,
    FrameRef,
    LineageEntry,
    ModelInfo,
    ObjectRef,
    PhraseMatch,
    PoseScore,
    SceneScore,
    Severity,
    SourceRef,
)

# The file was produced starting at T0 (its first instant); every event time below is T0 + offset.
T0 = datetime(2025, 3, 1, 12, 0, 0, tzinfo=UTC)
MODEL = ModelInfo(name="test-model", version="1")


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def obj(key: str, content_type: str = "image/jpeg") -> ObjectRef:
    return ObjectRef(bucket="b", key=key, sha256="0" * 64, size_bytes=10, content_type=content_type)


def src(offset: int) -> SourceRef:
    return SourceRef(event_id=f"src-{offset}", topic="media.frames.v1", partition=0, offset=offset)


def frame(seq: int, offset_s: float) -> FrameRef:
    return FrameRef(
        event_id=f"f{seq}",
        camera_id="cam",
        seq=seq,
        captured_at=at(offset_s),
        media_offset_ms=int(offset_s * 1000),
        object=obj(f"f{seq}.jpg"),
        width=320,
        height=240,
    )


def chunk(seq: int, offset_s: float) -> AudioChunkRef:
    return AudioChunkRef(
        event_id=f"a{seq}",
        camera_id="cam",
        seq=seq,
        start_at=at(offset_s),
        media_offset_ms=int(offset_s * 1000),
        duration_ms=2000,
        sample_rate=16000,
        channels=1,
        object=obj(f"a{seq}.wav", "audio/wav"),
    )


def pose(offset_s: float, angle: float | None, hip: float | None, present: bool = True) -> PoseScore:
    return PoseScore(
        event_id=f"p{offset_s}",
        camera_id="cam",
        source=src(int(offset_s * 10)),
        event_time=at(offset_s),
        model=MODEL,
        processed_at=at(offset_s + 0.2),
        latency_ms=20.0,
        frame=obj(f"f{offset_s}.jpg"),
        person_present=present,
        keypoints=[],
        torso_angle_deg=angle,
        hip_height=hip,
    )


def audio(offset_s: float, text: str, loudness: float, phrases: tuple[str, ...] = ()) -> AudioScore:
    return AudioScore(
        event_id=f"s{offset_s}",
        camera_id="cam",
        source=src(int(offset_s)),
        event_time=at(offset_s),
        model=MODEL,
        processed_at=at(offset_s + 1),
        latency_ms=300.0,
        audio=obj(f"a{offset_s}.wav", "audio/wav"),
        duration_ms=2000,
        transcript=text,
        language="en",
        language_probability=0.9,
        matched_phrases=[
            PhraseMatch(phrase=p, category="distress", matched_text=p, score=0.95, language="en") for p in phrases
        ],
        loudness_dbfs=loudness,
        peak_dbfs=loudness + 6,
        sudden_loudness=False,
        speech_ratio=0.5,
        vad_skipped=not text,
    )


def scene(offset_s: float, probability: float) -> SceneScore:
    return SceneScore(
        event_id=f"c{offset_s}",
        camera_id="cam",
        source=src(int(offset_s)),
        event_time=at(offset_s),
        model=MODEL,
        processed_at=at(offset_s + 1),
        latency_ms=100.0,
        frame=obj(f"f{offset_s}.jpg"),
        labels=[],
        anomaly_probability=probability,
        top_label="a person walking",
        prompt_set_version="1",
    )


def anomaly(
    anomaly_id: str,
    start_s: float,
    end_s: float,
    *,
    revision: int = 1,
    kinds: tuple[AnomalyKind, ...] = (AnomalyKind.FALL,),
    severity: Severity = Severity.HIGH,
    state: AnomalyState = AnomalyState.OPEN,
) -> AnomalyEvent:
    return AnomalyEvent(
        anomaly_id=anomaly_id,
        camera_id="cam",
        revision=revision,
        state=state,
        incident_start=at(start_s),
        incident_end=at(end_s),
        window_start=at(start_s),
        window_end=at(end_s),
        severity=severity,
        kinds=list(kinds),
        score=0.87,
        reasons=["torso went from upright to lying within 0.8 s"],
        evidence=Evidence(frames=[obj("f4.jpg")], best_frame=obj("f4.jpg"), transcript_excerpt="help me"),
        lineage=[
            LineageEntry(event_id="p4", modality="pose", topic="scores.pose.v1", partition=2, offset=41, model=MODEL)
        ],
        rules_version="r1",
        fusion_version="f1",
        decided_at=at(end_s + 1),
    )


def test_media_origin_is_capture_time_minus_offset_into_the_file() -> None:
    late_start = FrameRef(**{**_fields(frame(3, 1.5)), "captured_at": at(11.5)})
    assert media_origin([frame(1, 0.5), frame(2, 1.0)], []) == T0
    assert media_origin([late_start], [chunk(1, 2.0)]) == T0
    assert media_origin([], []) is None


def test_latest_revision_wins_and_incidents_are_ordered_by_start() -> None:
    events = [anomaly("b", 8, 9), anomaly("a", 4, 5), anomaly("a", 4, 7, revision=3), anomaly("a", 4, 6, revision=2)]
    latest = latest_revisions(events)
    assert [(e.anomaly_id, e.revision) for e in latest] == [("a", 3), ("b", 1)]
    assert latest[0].incident_end == at(7)


def test_camera_report_uses_seconds_from_the_file_start() -> None:
    inputs = CameraInputs(
        camera_id="cam",
        source="clips/fall.mp4",
        frames=[frame(i, i * 0.5) for i in range(1, 21)],
        audio_chunks=[chunk(i, i * 2.0) for i in range(5)],
        pose=[pose(1.0, 5.0, 0.55), pose(4.5, 80.0, 0.12), pose(5.0, None, None, present=False)],
        audio=[audio(4.0, "help me please", -18.0, ("help me", "help", "help me")), audio(0.0, "", -300.0)],
        scene=[scene(2.0, 0.1)],
        anomalies=[
            anomaly("fall-1", 4.2, 6.8, revision=1),
            anomaly("fall-1", 4.2, 7.4, revision=2, kinds=(AnomalyKind.FALL, AnomalyKind.DISTRESS_SPEECH)),
            anomaly("next", 9.0, 9.5, state=AnomalyState.CANDIDATE),
        ],
        thumbnails={"fall-1": b"\xff\xd8jpeg", "other": b"x"},
        notes=["no audio track"],
        duration_s=10.0,
    )
    cam = build_camera_report(inputs)

    assert cam.origin == T0
    assert cam.duration_s == 10.0
    assert (cam.frames, cam.audio_chunks) == (20, 5)
    # Latest revision of each incident; a first (candidate) revision is an alert too.
    fall, later = cam.anomalies
    assert (later.anomaly_id, later.state) == ("next", AnomalyState.CANDIDATE)
    assert (fall.start_s, fall.end_s, fall.revision) == (4.2, 7.4, 2)
    assert fall.kinds == [AnomalyKind.FALL, AnomalyKind.DISTRESS_SPEECH]
    assert fall.best_frame == "b/f4.jpg"
    assert fall.lineage[0].model == "test-model@1"
    assert set(cam.thumbnails) == {"fall-1"}

    series = {s.key: s for s in cam.series}
    assert [(p.t_s, p.value) for p in series["pose.torso_angle_deg"].points] == [(1.0, 5.0), (4.5, 80.0)]
    assert [p.value for p in series["pose.hip_height"].points] == [0.55, 0.12]
    assert [(p.t_s, p.value) for p in series["scene.anomaly_probability"].points] == [(2.0, 0.1)]
    # Loudness is plotted mid-chunk and clamped to the floor (silence is -inf).
    assert [(p.t_s, p.value) for p in series["audio.loudness_dbfs"].points] == [(1.0, -80.0), (5.0, -18.0)]
    assert [(m.t_s, m.label) for m in cam.markers] == [(4.0, "help · help me")]
    [line] = cam.transcript
    assert (line.start_s, line.end_s, line.text, line.phrases) == (4.0, 6.0, "help me please", ["help", "help me"])


def test_duration_falls_back_to_the_last_scored_moment() -> None:
    cam = build_camera_report(
        CameraInputs(camera_id="cam", source="x", frames=[frame(0, 0.0)], pose=[pose(3.0, 2, 0.5)])
    )
    assert cam.duration_s == 3.0
    assert [s.modality for s in cam.series] == ["pose", "pose"]


def test_report_completeness_and_fail_on() -> None:
    cam = build_camera_report(
        CameraInputs(camera_id="cam", source="x", frames=[frame(0, 0.0)], anomalies=[anomaly("a", 1, 2)])
    )
    stages = [StageStatus("pose", True, 10, 10), StageStatus("fusion", False, 3, 10, "fusion lagging")]
    report = build_report("run-1", at(60), [cam], stages=stages, problems=[InputProblem("y.mp4", "not found")])
    assert not report.complete
    assert report.max_severity is Severity.HIGH
    assert meets_severity(report, Severity.MEDIUM)
    assert meets_severity(report, Severity.HIGH)
    assert not meets_severity(report, Severity.CRITICAL)
    empty = build_report("run-2", at(60), [])
    assert empty.complete
    assert not meets_severity(empty, Severity.LOW)


def test_json_output_is_plain_and_drops_image_bytes(tmp_path: Path) -> None:
    inputs = CameraInputs(
        camera_id="cam", source="x", frames=[frame(0, 0.0)], anomalies=[anomaly("a", 1, 2)], thumbnails={"a": b"jpg"}
    )
    report = build_report("run-1", at(60), [build_camera_report(inputs)])
    body = report_to_json(report)
    assert body["anomaly_count"] == 1
    assert body["max_severity"] == "HIGH"
    [cam] = body["cameras"]
    assert "thumbnails" not in cam
    assert cam["anomalies"][0]["kinds"] == ["FALL"]
    assert cam["anomalies"][0]["started_at"] == "2025-03-01T12:00:01+00:00"
    written = json.loads(write_json(report, tmp_path / "r" / "report.json").read_text())
    assert written == json.loads(json.dumps(body))


def test_html_is_self_contained_and_escapes_text() -> None:
    inputs = CameraInputs(
        camera_id="cam<1>",
        source="a&b.mp4",
        frames=[frame(0, 0.0)],
        pose=[pose(1.0, 5.0, 0.5), pose(2.0, 85.0, 0.1)],
        audio=[audio(2.0, "<script>help</script>", -20.0, ("help",))],
        anomalies=[anomaly("a", 1.5, 3.0)],
        thumbnails={"a": b"\xff\xd8\xff\xe0jpeg"},
        duration_s=4.0,
    )
    report = build_report(
        "run-1", at(60), [build_camera_report(inputs)], problems=[InputProblem("missing.mp4", "file does not exist")]
    )
    page = render_html(report)
    assert page.startswith("<!doctype html>")
    assert "<script" not in page and "&lt;script&gt;" in page
    assert "cam&lt;1&gt;" in page and "a&amp;b.mp4" in page
    assert "data:image/jpeg;base64," in page
    assert "<svg" in page and "<polyline" in page
    assert "missing.mp4" in page and "file does not exist" in page
    assert "http://" not in page.replace("http://www.w3.org/2000/svg", "")
    assert "00:01.5 &ndash; 00:03.0" in page


def test_benign_camera_says_nothing_was_found() -> None:
    cam = build_camera_report(CameraInputs(camera_id="cam", source="walk.mp4", frames=[frame(0, 0.0)]))
    assert "No anomaly detected" in render_html(build_report("r", at(1), [cam]))


def test_time_formatting_and_ticks() -> None:
    assert format_time(0) == "00:00.0"
    assert format_time(75.25) == "01:15.2"
    assert format_time(-1) == "00:00.0"
    assert tick_step(8) == 1.0
    assert tick_step(30) == 5.0
    assert tick_step(3600) == 300.0


def _fields(record: FrameRef) -> dict[str, object]:
    return {name: getattr(record, name) for name in record.__slots__}
