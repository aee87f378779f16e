"""The motion gate: which stages each decoded frame is published for. Pure logic, no IO.

Every decoded frame is reduced to a small grey thumbnail (``THUMB_WIDTH`` pixels wide, ``cv2.INTER_AREA``, which
also averages sensor and codec noise away) and compared with the previous decoded frame: the motion measure is
the fraction of thumbnail pixels that changed by more than ``PIXEL_DELTA`` grey levels. Then, on media time:

- **base frames** (``FRAME_PROCESSING_RATE``, or every ``FRAME_SKIP_RATE``-th frame) go to POSE, and to SCENE
  unless the frame did not change from the last frame sent to SCENE (below ``motion_threshold``) and less than
  ``scene_max_interval_s`` passed since then. Smoke and flames are motion, so a fire is never skipped; a static
  view is still scored every ``scene_max_interval_s``.
- **in between**, frames go to POSE only, at up to ``pose_rate`` per second, while the frame moves or motion was
  seen within the last ``pose_hold_s`` (a fall ends in stillness; the hold keeps the pose rate up through it).

So a camera that shakes (motion everywhere) costs at most ``pose_rate`` pose frames and the base rate of scene
frames per second, and a frozen camera (no motion at all) costs the base rate of pose frames and one scene frame
every ``scene_max_interval_s``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from anomaly_core.settings import ProcessingSettings

from producers.sampling import FrameSampler
from schemas.records import FrameStage

#: Thumbnail width: enough for a person of a tenth of the frame width to cover several pixels.
THUMB_WIDTH = 64
#: Grey levels a thumbnail pixel must change by to count: above the noise left after INTER_AREA averaging.
PIXEL_DELTA = 12
#: Default share of changed thumbnail pixels that counts as motion (≈ 7 pixels of a 64x36 thumbnail).
MOTION_THRESHOLD = 0.003

ALL_STAGES: tuple[FrameStage, ...] = (FrameStage.POSE, FrameStage.SCENE)
POSE_ONLY: tuple[FrameStage, ...] = (FrameStage.POSE,)
NO_STAGE: tuple[FrameStage, ...] = ()

# Same reason as in ``producers.sampling``: rational time bases land a hair below slot boundaries as floats.
_EPS = 1e-6
# Pixel formats whose first plane is 8-bit luma: the grey image is read in place, without a colour conversion.
_LUMA_FORMATS = frozenset(
    {"yuv420p", "yuvj420p", "yuv422p", "yuvj422p", "yuv444p", "yuvj444p", "yuv440p", "yuvj440p", "nv12", "nv21"}
)


def luma(frame: Any) -> np.ndarray:
    """The grey image of a decoded ``av.VideoFrame``: a view of its luma plane when it has one, else converted."""
    if frame.format.name in _LUMA_FORMATS:
        plane = frame.planes[0]
        rows = np.frombuffer(plane, np.uint8).reshape(plane.height, plane.line_size)
        return rows[:, : plane.width]
    grey: np.ndarray = frame.to_ndarray(format="gray")
    return grey


def thumbnail(grey: np.ndarray, width: int = THUMB_WIDTH) -> np.ndarray:
    """``grey`` (H x W uint8, or BGR H x W x 3) scaled down to ``width`` pixels wide with area averaging."""
    import cv2

    if grey.ndim == 3:
        grey = cv2.cvtColor(grey, cv2.COLOR_BGR2GRAY)
    h, w = grey.shape[:2]
    if w <= width:
        return np.ascontiguousarray(grey)
    height = max(1, round(h * width / w))
    out: np.ndarray = cv2.resize(grey, (width, height), interpolation=cv2.INTER_AREA)
    return out


def changed_fraction(a: np.ndarray, b: np.ndarray, delta: int = PIXEL_DELTA) -> float:
    """Share of pixels that differ by more than ``delta`` between two thumbnails (1.0 when their sizes differ)."""
    import cv2

    if a.shape != b.shape:
        return 1.0  # the source changed resolution: everything changed
    diff = cv2.absdiff(a, b)
    return float(np.count_nonzero(diff > delta)) / diff.size


@dataclass(frozen=True)
class GateSettings:
    """The gate's knobs (env names in ``anomaly_core.settings.ProcessingSettings``)."""

    rate: float = 1.0  # FRAME_PROCESSING_RATE: base frames per second of media time
    skip: int = 0  # FRAME_SKIP_RATE: every k-th decoded frame is a base frame instead (k >= 1)
    pose_rate: float = 5.0  # POSE_FRAME_RATE: pose frames per second while there is motion (0: base rate only)
    pose_hold_s: float = 2.0  # POSE_HOLD_SECONDS: how long the pose rate stays up after the last motion
    scene_max_interval_s: float = 10.0  # SCENE_MAX_INTERVAL_SECONDS: longest wait between scene frames (0: never skip)
    motion_threshold: float = MOTION_THRESHOLD  # MOTION_THRESHOLD: changed share that counts as motion

    def __post_init__(self) -> None:
        if self.pose_rate < 0 or self.pose_hold_s < 0 or self.scene_max_interval_s < 0:
            raise ValueError("pose_rate, pose_hold_s and scene_max_interval_s must be >= 0")
        if not 0 < self.motion_threshold <= 1:
            raise ValueError("motion_threshold must be in (0, 1]")

    @classmethod
    def from_settings(cls, s: ProcessingSettings) -> GateSettings:
        """The deployment's gate, as the producer runs it without per-camera overrides."""
        return cls(
            rate=s.frame_processing_rate,
            skip=s.frame_skip_rate,
            pose_rate=s.pose_frame_rate,
            pose_hold_s=s.pose_hold_seconds,
            scene_max_interval_s=s.scene_max_interval_seconds,
            motion_threshold=s.motion_threshold,
        )


@dataclass(frozen=True, slots=True)
class GateDecision:
    stages: tuple[FrameStage, ...]  # empty: the frame is not published
    motion: float  # changed share against the previous decoded frame (0 for the first one)

    @property
    def publish(self) -> bool:
        return bool(self.stages)


class MotionGate:
    """Decides, frame by frame, which stages a decoded frame is published for (see the module doc)."""

    def __init__(self, settings: GateSettings | None = None) -> None:
        self.settings = settings or GateSettings()
        self._base = FrameSampler(self.settings.rate, self.settings.skip)
        self.reset()

    def reset(self) -> None:
        """Forget the position and the reference images (a reconnect restarts the source's timestamps)."""
        self._base.reset()
        self._previous: np.ndarray | None = None
        self._origin: float | None = None
        self._pose_slot: int | None = None
        self._last_motion_s: float | None = None
        self._scene_thumb: np.ndarray | None = None
        self._scene_s: float | None = None

    def decide(self, media_s: float | None, thumb: np.ndarray) -> GateDecision:
        """Stages of the frame at ``media_s`` (non-decreasing seconds of media time) whose thumbnail is ``thumb``.

        A frame without a timestamp (a stream with no clock) goes to every stage, as without the gate: there is
        no media time to pace on.
        """
        motion = 0.0 if self._previous is None else changed_fraction(thumb, self._previous)
        self._previous = thumb
        if media_s is None:
            return GateDecision(ALL_STAGES, motion)
        if self._origin is None:
            self._origin = media_s
        if motion >= self.settings.motion_threshold:
            self._last_motion_s = media_s
        pose_slot = self._pose_slot_of(media_s)
        if self._base.keep(media_s):
            self._take_pose_slot(pose_slot)
            return GateDecision(ALL_STAGES if self._scene_due(media_s, thumb) else POSE_ONLY, motion)
        if (
            self._pose_active(media_s)
            and pose_slot is not None
            and (self._pose_slot is None or pose_slot > self._pose_slot)
        ):
            self._pose_slot = pose_slot
            return GateDecision(POSE_ONLY, motion)
        return GateDecision(NO_STAGE, motion)

    def _pose_slot_of(self, media_s: float) -> int | None:
        if self.settings.pose_rate <= 0 or self._origin is None:
            return None
        return math.floor((media_s - self._origin) * self.settings.pose_rate + _EPS)

    def _take_pose_slot(self, slot: int | None) -> None:
        if slot is not None and (self._pose_slot is None or slot > self._pose_slot):
            self._pose_slot = slot

    def _pose_active(self, media_s: float) -> bool:
        last = self._last_motion_s
        return last is not None and media_s - last <= self.settings.pose_hold_s + _EPS

    def _scene_due(self, media_s: float, thumb: np.ndarray) -> bool:
        due = (
            self._scene_thumb is None
            or self._scene_s is None
            or media_s - self._scene_s >= self.settings.scene_max_interval_s - _EPS
            or changed_fraction(thumb, self._scene_thumb) >= self.settings.motion_threshold
        )
        if due:
            self._scene_thumb = thumb
            self._scene_s = media_s
        return due
