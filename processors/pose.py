"""Pose: BlazePose landmarks of every person in a frame and the per-person features fusion rules use.

``features`` is pure (landmarks in, numbers out); ``PoseLandmarker`` wraps MediaPipe's Tasks pose landmarker
(``num_poses`` people per frame, a ``.task`` bundle built by ``processors.pose_assets``). Track ids are given
afterwards by ``processors.tracking``: the landmarker sees each frame as a still image.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from schemas.records import Keypoint, ModelInfo

L_SHOULDER, R_SHOULDER, L_HIP, R_HIP = 11, 12, 23, 24
N_LANDMARKS = 33
_BBOX_MIN_VISIBILITY = 0.3


@dataclass(frozen=True, slots=True)
class PoseFeatures:
    """One person's landmarks and features; ``person_present`` False stands for "nobody"."""

    person_present: bool
    keypoints: list[Keypoint] = field(default_factory=list)
    torso_angle_deg: float | None = None
    hip_height: float | None = None
    bbox_aspect: float | None = None
    mean_visibility: float = 0.0
    box: tuple[float, float, float, float] | None = None  # x_min, y_min, x_max, y_max (normalised)

    @property
    def area(self) -> float:
        if self.box is None:
            return 0.0
        return max(0.0, self.box[2] - self.box[0]) * max(0.0, self.box[3] - self.box[1])


def _mid(a: Keypoint, b: Keypoint) -> tuple[float, float]:
    return (a.x + b.x) / 2.0, (a.y + b.y) / 2.0


def torso_angle(keypoints: Sequence[Keypoint], width: int, height: int) -> float:
    """Angle of the hip-mid -> shoulder-mid line from vertical in degrees: 0 upright, 90 lying, 180 head down.

    Computed in pixels, because normalised x and y have different scales on a non-square frame.
    """
    sx, sy = _mid(keypoints[L_SHOULDER], keypoints[R_SHOULDER])
    hx, hy = _mid(keypoints[L_HIP], keypoints[R_HIP])
    dx, dy = (sx - hx) * width, (sy - hy) * height
    return math.degrees(math.atan2(abs(dx), -dy))


def landmark_box(keypoints: Sequence[Keypoint]) -> tuple[float, float, float, float]:
    """Box around the visible landmarks (all of them when fewer than four are visible), clipped to the image."""
    visible = [k for k in keypoints if k.visibility >= _BBOX_MIN_VISIBILITY]
    points = visible if len(visible) >= 4 else list(keypoints)
    xs = [min(max(k.x, 0.0), 1.0) for k in points]
    ys = [min(max(k.y, 0.0), 1.0) for k in points]
    return (min(xs), min(ys), max(xs), max(ys))


def bbox_aspect(keypoints: Sequence[Keypoint], width: int, height: int) -> float | None:
    """Width/height of the box around the visible landmarks, in pixels (> 1: wider than tall)."""
    x0, y0, x1, y1 = landmark_box(keypoints)
    box_w, box_h = (x1 - x0) * width, (y1 - y0) * height
    return box_w / box_h if box_h > 0 else None


def features(keypoints: Sequence[Keypoint] | None, width: int, height: int) -> PoseFeatures:
    """Per-frame features of one person; an empty result when no person was found."""
    if not keypoints or len(keypoints) < N_LANDMARKS:
        return PoseFeatures(person_present=False)
    kps = list(keypoints)
    hip_y = _mid(kps[L_HIP], kps[R_HIP])[1]
    box = landmark_box(kps)
    return PoseFeatures(
        person_present=True,
        keypoints=kps,
        torso_angle_deg=round(torso_angle(kps, width, height), 2),
        hip_height=round(1.0 - hip_y, 4),
        bbox_aspect=bbox_aspect(kps, width, height),
        mean_visibility=float(np.mean([k.visibility for k in kps])),
        box=tuple(round(v, 4) for v in box),  # type: ignore[arg-type]
    )


def people_features(people: Sequence[Sequence[Keypoint]], width: int, height: int) -> list[PoseFeatures]:
    """Features of every person found, largest (nearest, usually the main subject) first."""
    found = [f for f in (features(kps, width, height) for kps in people) if f.person_present]
    return sorted(found, key=lambda f: -f.area)


def fit_within(rgb: np.ndarray, max_side: int) -> np.ndarray:
    """The frame scaled down so its longer side is at most ``max_side`` (the models read 224 and 256 px crops;
    larger frames only cost conversion time). Landmarks are normalised, so nothing downstream changes."""
    height, width = rgb.shape[:2]
    longer = max(height, width)
    if longer <= max_side:
        return rgb
    import cv2

    scale = max_side / longer
    return cv2.resize(rgb, (round(width * scale), round(height * scale)), interpolation=cv2.INTER_AREA)


class PoseLandmarker:
    """MediaPipe Tasks pose landmarker over a ``.task`` bundle: up to ``max_people`` people per frame."""

    def __init__(
        self, info: ModelInfo, task_file: Path, max_people: int = 6, min_confidence: float = 0.5, max_side: int = 640
    ) -> None:
        from mediapipe.tasks.python import BaseOptions, vision

        self.info = info
        self.max_side = max_side
        options = vision.PoseLandmarkerOptions(
            base_options=BaseOptions(model_asset_path=str(task_file)),
            running_mode=vision.RunningMode.IMAGE,
            num_poses=max_people,
            min_pose_detection_confidence=min_confidence,
            min_pose_presence_confidence=min_confidence,
        )
        self._impl: Any = vision.PoseLandmarker.create_from_options(options)

    def landmarks(self, rgb: np.ndarray) -> list[list[Keypoint]]:
        """The 33 landmarks of every person found in an RGB frame (possibly none)."""
        import mediapipe as mp

        rgb = fit_within(rgb, self.max_side)
        image = mp.Image(image_format=mp.ImageFormat.SRGB, data=np.ascontiguousarray(rgb))
        result = self._impl.detect(image)
        return [
            [Keypoint(x=p.x, y=p.y, z=p.z, visibility=float(p.visibility or 0.0)) for p in person]
            for person in result.pose_landmarks
        ]

    def close(self) -> None:
        self._impl.close()


def score(model: PoseLandmarker, rgb: np.ndarray) -> list[PoseFeatures]:
    """Features of every person in one RGB frame, largest first."""
    height, width = rgb.shape[:2]
    return people_features(model.landmarks(rgb), width, height)
