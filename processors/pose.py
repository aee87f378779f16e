"""Pose: BlazePose landmarks of the main person and the per-frame features fusion rules use.

``features`` is pure (landmarks in, numbers out); ``BlazePose`` wraps MediaPipe. Frames arrive about once a
second, so every frame is a still image (no tracking state between frames: motion is judged in fusion).
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
    person_present: bool
    keypoints: list[Keypoint] = field(default_factory=list)
    torso_angle_deg: float | None = None
    hip_height: float | None = None
    bbox_aspect: float | None = None
    mean_visibility: float = 0.0


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


def bbox_aspect(keypoints: Sequence[Keypoint], width: int, height: int) -> float | None:
    """Width/height of the box around the visible landmarks, in pixels (> 1: wider than tall)."""
    visible = [k for k in keypoints if k.visibility >= _BBOX_MIN_VISIBILITY]
    points = visible if len(visible) >= 4 else list(keypoints)
    xs = [min(max(k.x, 0.0), 1.0) * width for k in points]
    ys = [min(max(k.y, 0.0), 1.0) * height for k in points]
    box_w, box_h = max(xs) - min(xs), max(ys) - min(ys)
    return box_w / box_h if box_h > 0 else None


def features(keypoints: Sequence[Keypoint] | None, width: int, height: int) -> PoseFeatures:
    """Per-frame features of one person; an empty result when no person was found."""
    if not keypoints or len(keypoints) < N_LANDMARKS:
        return PoseFeatures(person_present=False)
    kps = list(keypoints)
    hip_y = _mid(kps[L_HIP], kps[R_HIP])[1]
    return PoseFeatures(
        person_present=True,
        keypoints=kps,
        torso_angle_deg=round(torso_angle(kps, width, height), 2),
        hip_height=round(1.0 - hip_y, 4),
        bbox_aspect=bbox_aspect(kps, width, height),
        mean_visibility=float(np.mean([k.visibility for k in kps])),
    )


class BlazePose:
    """MediaPipe BlazePose: the wheel's bundled full model, or a ``.task`` landmarker when one is given."""

    def __init__(self, info: ModelInfo, task_file: Path | None = None) -> None:
        self.info = info
        self._task = task_file is not None
        self._impl: Any
        if task_file is not None:
            from mediapipe.tasks.python import BaseOptions, vision

            options = vision.PoseLandmarkerOptions(
                base_options=BaseOptions(model_asset_path=str(task_file)),
                running_mode=vision.RunningMode.IMAGE,
                num_poses=1,
            )
            self._impl = vision.PoseLandmarker.create_from_options(options)
        else:
            import mediapipe as mp

            # model_complexity=1 is pose_landmark_full.tflite, the model bundled in the wheel.
            self._impl = mp.solutions.pose.Pose(static_image_mode=True, model_complexity=1)

    def landmarks(self, rgb: np.ndarray) -> list[Keypoint] | None:
        """The 33 landmarks of the main person in an RGB frame, or None."""
        rgb = np.ascontiguousarray(rgb)
        if self._task:
            import mediapipe as mp

            result = self._impl.detect(mp.Image(image_format=mp.ImageFormat.SRGB, data=rgb))
            if not result.pose_landmarks:
                return None
            raw = result.pose_landmarks[0]
        else:
            found = self._impl.process(rgb).pose_landmarks
            if found is None:
                return None
            raw = found.landmark
        return [Keypoint(x=p.x, y=p.y, z=p.z, visibility=float(p.visibility or 0.0)) for p in raw]

    def close(self) -> None:
        self._impl.close()


def score(model: BlazePose, rgb: np.ndarray) -> PoseFeatures:
    """Pose features of one RGB frame."""
    height, width = rgb.shape[:2]
    return features(model.landmarks(rgb), width, height)
