"""Scripted score streams (a fall, a shout for help, a fire, a fight, a normal scene, noise) with fixed timestamps.

They drive the unit tests, the integration tests and ``anomaly bench fusion``: each scenario is what the pose,
scene and audio processors would emit for a camera watching that situation, so the fusion can be exercised
before (and independently of) the models.
"""

from __future__ import annotations

import math
import random
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime

from fusion_app.events import ms_to_dt
from schemas.records import (
    AnomalyKind,
    AudioScore,
    Keypoint,
    LabelProbability,
    ModelInfo,
    ObjectRef,
    PersonPose,
    PhraseMatch,
    PoseScore,
    SceneScore,
    SourceRef,
)

ScoreRecord = PoseScore | SceneScore | AudioScore
POSE_MS = 100  # 10 poses per second
SCENE_MS = 500  # 2 scene scores per second
AUDIO_MS = 2000  # 2 s audio chunks
_NS = uuid.UUID("0b9f1f7e-2f53-5c84-8b6e-3f1d9a2c7e55")
_POSE_MODEL = ModelInfo("mediapipe-blazepose-full", "0.10.21")
_SCENE_MODEL = ModelInfo("clip-vit-base-patch32", "scripted")
_AUDIO_MODEL = ModelInfo("faster-whisper-tiny", "scripted")

#: The kind each scenario must raise (None: it must raise nothing).
EXPECTED: dict[str, AnomalyKind | None] = {
    "fall": AnomalyKind.FALL,
    "help": AnomalyKind.DISTRESS_SPEECH,
    "fire": AnomalyKind.FIRE_SMOKE,
    "fight": AnomalyKind.VIOLENCE,
    "normal": None,
    "noise": None,
}


def _id(*parts: object) -> str:
    return str(uuid.uuid5(_NS, "|".join(map(str, parts))))


def _ref(camera: str, kind: str, t_ms: int) -> ObjectRef:
    digest = uuid.uuid5(_NS, f"{camera}|{kind}|{t_ms}").hex * 2
    bucket, ctype = ("anomaly-audio", "audio/wav") if kind == "audio" else ("anomaly-frames", "image/jpeg")
    return ObjectRef(bucket, f"{camera}/{kind}/{t_ms}.{ctype.split('/')[1]}", digest, 20_000, ctype)


def skeleton(hip_x: float, hip_y: float, torso_deg: float, length: float = 0.25, arm: float = 0.0) -> list[Keypoint]:
    """33 BlazePose landmarks of a body whose torso leans ``torso_deg`` from vertical; ``arm`` swings the wrists."""
    a = math.radians(torso_deg)
    up = (math.sin(a), -math.cos(a))  # image y grows downwards
    right = (math.cos(a), math.sin(a))

    def at(r: float, u: float) -> Keypoint:
        return Keypoint(
            hip_x + length * (r * right[0] + u * up[0]), hip_y + length * (r * right[1] + u * up[1]), 0, 0.95
        )

    points = [at(0.0, 1.4)] * 33  # head landmarks and the rest default to the head
    for idx, (r, u) in {
        11: (-0.3, 1.0), 12: (0.3, 1.0),  # shoulders
        13: (-0.45, 0.6), 14: (0.45, 0.6),  # elbows
        15: (-0.4 - arm, 0.1 + arm), 16: (0.4 + arm, 0.1 + arm),  # wrists
        23: (-0.15, 0.0), 24: (0.15, 0.0),  # hips
        25: (-0.15, -0.9), 26: (0.15, -0.9),  # knees
        27: (-0.15, -1.8), 28: (0.15, -1.8),  # ankles
    }.items():  # fmt: skip
        points[idx] = at(r, u)
    return points


def person(
    track: int, hip_x: float, hip_y: float, torso_deg: float, *, arm: float = 0.0, length: float = 0.25
) -> PersonPose:
    """One person's pose record; ``length`` is the torso length in image heights (the body is ~3.2 of it)."""
    keypoints = skeleton(hip_x, hip_y, torso_deg, length=length, arm=arm)
    xs, ys = [k.x for k in keypoints], [k.y for k in keypoints]
    return PersonPose(
        track_id=track,
        keypoints=keypoints,
        torso_angle_deg=torso_deg,
        hip_height=1.0 - hip_y,
        bbox_aspect=None,
        mean_visibility=0.95,
        box=[min(xs), min(ys), max(xs), max(ys)],
    )


def pose(
    camera: str,
    t_ms: int,
    hip_y: float,
    torso_deg: float,
    *,
    arm: float = 0.0,
    person_present: bool = True,
    others: tuple[PersonPose, ...] = (),
) -> PoseScore:
    """A pose record as the pose processor writes it: person 1 at the centre, plus ``others``."""
    people = [person(1, 0.5, hip_y, torso_deg, arm=arm), *others] if person_present else list(others)
    main = people[0] if people else None
    return PoseScore(
        event_id=_id(camera, "pose", t_ms),
        camera_id=camera,
        source=SourceRef(_id(camera, "frame", t_ms), "media.frames.v1", 0, t_ms // POSE_MS),
        event_time=ms_to_dt(t_ms),
        model=_POSE_MODEL,
        processed_at=ms_to_dt(t_ms + 40),
        latency_ms=40.0,
        frame=_ref(camera, "frame", t_ms),
        person_present=main is not None,
        keypoints=[],
        torso_angle_deg=main.torso_angle_deg if main else None,
        hip_height=main.hip_height if main else None,
        bbox_aspect=None,
        mean_visibility=main.mean_visibility if main else 0.0,
        people=people,
    )


def scene(camera: str, t_ms: int, p: float, label: str = "a person in danger") -> SceneScore:
    labels = [LabelProbability(label, p, True), LabelProbability("an ordinary scene", 1.0 - p, False)]
    return SceneScore(
        event_id=_id(camera, "scene", t_ms),
        camera_id=camera,
        source=SourceRef(_id(camera, "frame", t_ms), "media.frames.v1", 0, t_ms // POSE_MS),
        event_time=ms_to_dt(t_ms),
        model=_SCENE_MODEL,
        processed_at=ms_to_dt(t_ms + 150),
        latency_ms=150.0,
        frame=_ref(camera, "frame", t_ms),
        labels=labels,
        anomaly_probability=p,
        top_label=label if p >= 0.5 else "an ordinary scene",
        prompt_set_version="scripted",
    )


def audio(
    camera: str, t_ms: int, transcript: str = "", phrases: tuple[tuple[str, str, float], ...] = (), loud: bool = False
) -> AudioScore:
    return AudioScore(
        event_id=_id(camera, "audio", t_ms),
        camera_id=camera,
        source=SourceRef(_id(camera, "chunk", t_ms), "media.audio.v1", 0, t_ms // AUDIO_MS),
        event_time=ms_to_dt(t_ms),
        model=_AUDIO_MODEL,
        processed_at=ms_to_dt(t_ms + AUDIO_MS + 800),
        latency_ms=800.0,
        audio=_ref(camera, "audio", t_ms),
        duration_ms=AUDIO_MS,
        transcript=transcript,
        language="en" if transcript else None,
        language_probability=0.9 if transcript else 0.0,
        matched_phrases=[PhraseMatch(p, c, transcript, s, "en") for p, c, s in phrases],
        loudness_dbfs=-12.0 if loud else -38.0,
        peak_dbfs=-3.0 if loud else -25.0,
        sudden_loudness=loud,
        speech_ratio=0.6 if transcript else 0.0,
        vad_skipped=not transcript,
    )


def _timeline(t0: int, duration_ms: int, every: int) -> Iterator[int]:
    return iter(range(t0, t0 + duration_ms, every))


def normal(camera: str, t0: int, duration_ms: int = 12_000) -> list[ScoreRecord]:
    """Someone standing and walking about, an ordinary scene, quiet room."""
    out: list[ScoreRecord] = [pose(camera, t, 0.55, 4.0) for t in _timeline(t0, duration_ms, POSE_MS)]
    out += [scene(camera, t, 0.12) for t in _timeline(t0, duration_ms, SCENE_MS)]
    out += [audio(camera, t) for t in _timeline(t0, duration_ms, AUDIO_MS)]
    return sorted(out, key=_time)


def noise(camera: str, t0: int, duration_ms: int = 12_000) -> list[ScoreRecord]:
    """Jittery landmarks, scene probabilities bouncing below the bar with one odd frame, a weak phrase match."""
    rng = random.Random(camera)
    out: list[ScoreRecord] = [
        pose(camera, t, 0.55 + rng.uniform(-0.01, 0.01), rng.uniform(0, 20), arm=rng.uniform(-0.05, 0.05))
        for t in _timeline(t0, duration_ms, POSE_MS)
    ]
    out += [scene(camera, t, rng.uniform(0.0, 0.45)) for t in _timeline(t0, duration_ms, SCENE_MS)]
    out.append(scene(camera, t0 + 5_250, 0.92, "fire"))  # a single odd frame is not a fire
    out += [audio(camera, t) for t in _timeline(t0, duration_ms, AUDIO_MS)]
    out.append(audio(camera, t0 + 7_000, "hello there", (("help", "help", 0.3),)))
    return sorted(out, key=_time)


def fall(camera: str, t0: int) -> list[ScoreRecord]:
    """Standing 3 s, hips drop over half a second into a lying torso that stays 4 s, then still lying quietly."""
    out: list[ScoreRecord] = []
    for t in _timeline(t0, 12_000, POSE_MS):
        dt = t - t0
        if dt < 3_000:
            hip_y, torso = 0.45, 4.0
        elif dt < 3_500:
            k = (dt - 3_000) / 500
            hip_y, torso = 0.45 + 0.4 * k, 4.0 + 81.0 * k
        else:
            hip_y, torso = 0.85, 85.0
        out.append(pose(camera, t, hip_y, torso))
    out += [scene(camera, t, 0.2) for t in _timeline(t0, 12_000, SCENE_MS)]
    out += [audio(camera, t) for t in _timeline(t0, 12_000, AUDIO_MS)]
    return sorted(out, key=_time)


def help_call(camera: str, t0: int) -> list[ScoreRecord]:
    """An ordinary picture while someone shouts for help."""
    out: list[ScoreRecord] = [r for r in normal(camera, t0) if not isinstance(r, AudioScore)]
    for t in _timeline(t0, 12_000, AUDIO_MS):
        shout = t - t0 == 4_000
        out.append(
            audio(camera, t, "help me please help", (("help me", "help", 0.93),), loud=True)
            if shout
            else audio(camera, t)
        )
    return sorted(out, key=_time)


def fire(camera: str, t0: int) -> list[ScoreRecord]:
    """Flames fill the picture for 4 s."""
    out: list[ScoreRecord] = [
        pose(camera, t, 0.55, 4.0, person_present=t - t0 < 3_000) for t in _timeline(t0, 12_000, POSE_MS)
    ]
    for t in _timeline(t0, 12_000, SCENE_MS):
        burning = 3_000 <= t - t0 < 7_000
        out.append(scene(camera, t, 0.93 if burning else 0.1, "fire and smoke"))
    out += [audio(camera, t) for t in _timeline(t0, 12_000, AUDIO_MS)]
    return sorted(out, key=_time)


def fight(camera: str, t0: int) -> list[ScoreRecord]:
    """Two people face to face; one flails his arms fast at the other for 2 s."""
    out: list[ScoreRecord] = []
    for t in _timeline(t0, 12_000, POSE_MS):
        flailing = 3_000 <= t - t0 < 5_000
        arm = (0.8 if (t // POSE_MS) % 2 else -0.3) if flailing else 0.0
        out.append(pose(camera, t, 0.55, 6.0, arm=arm, others=(person(2, 0.75, 0.55, 3.0),)))
    out += [scene(camera, t, 0.3) for t in _timeline(t0, 12_000, SCENE_MS)]
    out += [audio(camera, t) for t in _timeline(t0, 12_000, AUDIO_MS)]
    return sorted(out, key=_time)


SCENARIOS: dict[str, Callable[[str, int], list[ScoreRecord]]] = {
    "fall": fall,
    "help": help_call,
    "fire": fire,
    "fight": fight,
    "normal": normal,
    "noise": noise,
}


def _time(record: ScoreRecord) -> datetime:
    return record.event_time
