"""Score records -> compact observations, validating on the way in.

Invalid input (bad camera id, key that is not the camera, event time far from the record time) raises
``ValidationError`` so the record goes to the dead-letter topic; merely odd values (NaN or out-of-range
probabilities, NaN landmarks) are clamped and reported as warnings for the log, so one bad number never hides
the rest of a score.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from anomaly_core.errors import ValidationError
from fusion_app.rules import Rules
from fusion_app.window import AudioObs, CaptionObs, IntentHit, Obs, PersonObs, PhraseHit, PoseObs, SceneObs
from schemas.records import AudioScore, CaptionScore, Keypoint, LineageEntry, PoseScore, SceneScore

ScoreRecord = PoseScore | SceneScore | AudioScore | CaptionScore
CAMERA_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$")
MODALITY = {PoseScore: "pose", SceneScore: "scene", AudioScore: "audio", CaptionScore: "caption"}

# BlazePose landmark indices.
_SHOULDERS = (11, 12)
_HIPS = (23, 24)
_LIMBS = (15, 16, 25, 26)  # wrists, knees
_USED = (*_SHOULDERS, *_HIPS, *_LIMBS)
_BOX_MIN_VISIBILITY = 0.3


@dataclass(frozen=True, slots=True)
class Where:
    """Where a record was read: lineage of every observation, and the Kafka record time for skew checks."""

    topic: str
    partition: int
    offset: int
    key: str | None
    timestamp_ms: int


def to_ms(dt: datetime) -> int:
    return round(dt.timestamp() * 1000)


def observe(
    record: ScoreRecord, where: Where, rules: Rules, known_camera: Callable[[str], bool] | None = None
) -> tuple[Obs | CaptionObs, list[str]]:
    """The observation of a score record and warnings about clamped values; raises ``ValidationError``."""
    camera = record.camera_id
    if not CAMERA_ID.match(camera):
        raise ValidationError(f"invalid camera id {camera!r}")
    if where.key is not None and where.key != camera:
        raise ValidationError(f"record key {where.key!r} is not its camera {camera!r} (breaks co-partitioning)")
    if known_camera is not None and not known_camera(camera):
        raise ValidationError(f"unknown camera {camera!r}")
    t_ms = to_ms(record.event_time)
    skew = t_ms - where.timestamp_ms
    if where.timestamp_ms > 0 and abs(skew) > rules.windows.max_clock_skew_ms:
        raise ValidationError(f"event time {record.event_time.isoformat()} is {skew / 1000:.0f}s from the record time")
    source = LineageEntry(
        event_id=record.event_id,
        modality=MODALITY[type(record)],
        topic=where.topic,
        partition=where.partition,
        offset=where.offset,
        model=record.model,
    )
    warnings: list[str] = []
    obs: Obs | CaptionObs
    if isinstance(record, PoseScore):
        obs = _pose(record, t_ms, source, rules, warnings)
    elif isinstance(record, SceneScore):
        obs = _scene(record, t_ms, source, warnings)
    elif isinstance(record, AudioScore):
        obs = _audio(record, t_ms, source, warnings)
    else:
        obs = CaptionObs(t_ms=t_ms, anomaly_id=record.anomaly_id, caption=record.caption, source=source)
    return obs, warnings


def clamp01(value: float, what: str, warnings: list[str]) -> float:
    if math.isnan(value):
        warnings.append(f"{what} is NaN, read as 0")
        return 0.0
    if value < 0.0 or value > 1.0:
        warnings.append(f"{what}={value} outside [0,1], clamped")
        return min(1.0, max(0.0, value))
    return value


def _finite(value: float | None, what: str, warnings: list[str]) -> float | None:
    if value is None or math.isfinite(value):
        return value
    warnings.append(f"{what} is {value}, ignored")
    return None


def _scene(record: SceneScore, t_ms: int, source: LineageEntry, warnings: list[str]) -> SceneObs:
    labels = tuple(
        (lp.label, clamp01(lp.probability, f"label {lp.label!r}", warnings)) for lp in record.labels if lp.is_anomaly
    )
    return SceneObs(
        t_ms=t_ms,
        anomaly_probability=clamp01(record.anomaly_probability, "anomaly_probability", warnings),
        labels=labels,
        top_label=record.top_label,
        frame=record.frame,
        source=source,
    )


def _audio(record: AudioScore, t_ms: int, source: LineageEntry, warnings: list[str]) -> AudioObs:
    phrases = tuple(
        PhraseHit(phrase=m.phrase, category=m.category, score=clamp01(m.score, f"phrase {m.phrase!r}", warnings))
        for m in record.matched_phrases
    )
    loudness = _finite(record.loudness_dbfs, "loudness_dbfs", warnings)
    intent = None
    if record.intent is not None:
        m = record.intent
        score = clamp01(m.score, "intent score", warnings)
        margin = _finite(m.margin, "intent margin", warnings)
        margin = -1.0 if margin is None else max(-1.0, min(1.0, margin))  # unreadable: nearer to nothing harmful
        intent = IntentHit(m.intent, m.category, score, margin, m.example, m.benign_example, m.segment)
    return AudioObs(
        t_ms=t_ms,
        duration_ms=max(0, record.duration_ms),
        phrases=phrases,
        transcript=record.transcript,
        loudness_dbfs=-120.0 if loudness is None else loudness,
        sudden_loudness=record.sudden_loudness,
        audio=record.audio,
        source=source,
        intent=intent,
        scream=record.scream,
    )


def _pose(record: PoseScore, t_ms: int, source: LineageEntry, rules: Rules, warnings: list[str]) -> PoseObs:
    if record.people:
        people = tuple(
            _person(
                p.track_id,
                p.keypoints,
                hip_height=p.hip_height,
                torso=p.torso_angle_deg,
                rules=rules,
                warnings=warnings,
            )
            for p in record.people
        )
    elif record.person_present:
        # Written before the pose processor found several people: the top-level landmarks are the one person.
        people = (
            _person(
                0,
                record.keypoints,
                hip_height=record.hip_height,
                torso=record.torso_angle_deg,
                rules=rules,
                warnings=warnings,
            ),
        )
    else:
        people = ()
    return PoseObs(t_ms=t_ms, people=people, frame=record.frame, source=source)


def _person(
    track: int,
    keypoints: list[Keypoint],
    *,
    hip_height: float | None,
    torso: float | None,
    rules: Rules,
    warnings: list[str],
) -> PersonObs:
    # Only the landmarks the rules use are read (a third of the 33): this runs for every pose of every camera.
    points: dict[int, tuple[float, float] | None] = {
        i: _point(keypoints[i], rules.pose.min_visibility) if i < len(keypoints) else None for i in _USED
    }
    hip = _mid(points, _HIPS)
    shoulder = _mid(points, _SHOULDERS)
    hip_height = _finite(hip_height, "hip_height", warnings)
    torso = _finite(torso, "torso_angle_deg", warnings)
    if hip_height is None and hip is not None:
        hip_height = 1.0 - hip[1]
    if torso is None and hip is not None and shoulder is not None:
        torso = math.degrees(math.atan2(abs(shoulder[0] - hip[0]), abs(shoulder[1] - hip[1])))
    center = None
    if hip is not None and shoulder is not None:
        center = ((hip[0] + shoulder[0]) / 2.0, (hip[1] + shoulder[1]) / 2.0)
    return PersonObs(
        track=track,
        hip_height=hip_height,
        torso_deg=torso,
        center=center,
        height=_box_height(keypoints),
        limbs=_body_frame(points, hip, shoulder),
    )


def _box_height(keypoints: list[Keypoint]) -> float:
    ys = [k.y for k in keypoints if math.isfinite(k.y) and k.visibility >= _BOX_MIN_VISIBILITY]
    if len(ys) < 4:
        ys = [k.y for k in keypoints if math.isfinite(k.y)]
    return max(0.0, min(max(ys), 1.0) - max(min(ys), 0.0)) if ys else 0.0


def _body_frame(
    points: dict[int, tuple[float, float] | None],
    hip: tuple[float, float] | None,
    shoulder: tuple[float, float] | None,
) -> tuple[float | None, ...]:
    """Wrists and knees in the body's own frame (origin the hips, unit the torso length, axes along the torso).

    Moving or turning the whole body (walking, falling, landmark jitter of the torso) leaves these coordinates
    unchanged, so their speed measures limbs moving against the body: punches and kicks.
    """
    if hip is None or shoulder is None:
        return (None,) * (2 * len(_LIMBS))
    ux, uy = shoulder[0] - hip[0], shoulder[1] - hip[1]
    scale = math.hypot(ux, uy)
    if scale < 1e-3:
        return (None,) * (2 * len(_LIMBS))
    ux, uy = ux / scale, uy / scale
    values: list[float | None] = []
    for idx in _LIMBS:
        p = points[idx]
        if p is None:
            values.extend((None, None))
            continue
        dx, dy = (p[0] - hip[0]) / scale, (p[1] - hip[1]) / scale
        values.extend((dx * -uy + dy * ux, dx * ux + dy * uy))
    return tuple(values)


def _point(kp: Keypoint, min_visibility: float) -> tuple[float, float] | None:
    if not (math.isfinite(kp.x) and math.isfinite(kp.y)) or not kp.visibility >= min_visibility:
        return None
    return (kp.x, kp.y)


def _mid(points: dict[int, tuple[float, float] | None], pair: tuple[int, int]) -> tuple[float, float] | None:
    found = [points[i] for i in pair if points[i] is not None]
    if not found:
        return None
    return (sum(p[0] for p in found if p) / len(found), sum(p[1] for p in found if p) / len(found))
