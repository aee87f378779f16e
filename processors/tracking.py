"""Track ids for the people of a camera: greedy IoU/centroid matching of landmark boxes between frames.

It lives in the pose processor because that is where every frame of a camera passes, in order (frames are keyed
by camera, so one processor instance sees all of a camera's frames), and a track id is a property of the pose
record downstream consumers read. It is soft state: a restart or a partition move starts new ids, which the
fusion tolerates (its fall rule also matches a person lost and found again by position).

A track survives ``ttl_ms`` without being seen, so a person the detector loses for a few seconds during a fall
keeps her id when she is found again lying near where she was.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

Box = tuple[float, float, float, float]  # x_min, y_min, x_max, y_max (normalised image coordinates)


@dataclass(frozen=True, slots=True)
class Track:
    track_id: int
    box: Box
    last_ms: int


@dataclass(frozen=True, slots=True)
class CameraTracks:
    tracks: tuple[Track, ...] = ()
    next_id: int = 1
    last_ms: int = 0


@dataclass(frozen=True, slots=True)
class TrackingRules:
    ttl_ms: int = 5000  # a track unseen this long is forgotten
    min_iou: float = 0.1  # boxes overlapping at least this much may be the same person ...
    max_jump: float = 1.0  # ... or whose centres moved at most this many body heights


def iou(a: Box, b: Box) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = _area(a) + _area(b) - inter
    return inter / union if union > 0 else 0.0


def _area(b: Box) -> float:
    return max(0.0, b[2] - b[0]) * max(0.0, b[3] - b[1])


def _jump(a: Box, b: Box) -> float:
    """Distance between the box centres in body heights (the taller box's height, so lying down is not far)."""
    scale = max(a[3] - a[1], b[3] - b[1], 1e-3)
    return math.hypot((a[0] + a[2] - b[0] - b[2]) / 2.0, (a[1] + a[3] - b[1] - b[3]) / 2.0) / scale


def assign(
    state: CameraTracks, boxes: Sequence[Box], t_ms: int, rules: TrackingRules
) -> tuple[list[int], CameraTracks]:
    """Track ids for ``boxes`` (in their order) and the camera's new tracks. Pure."""
    live = [tr for tr in state.tracks if 0 <= t_ms - tr.last_ms <= rules.ttl_ms]
    candidates: list[tuple[float, int, int]] = []
    for i, box in enumerate(boxes):
        for j, tr in enumerate(live):
            overlap, jump = iou(box, tr.box), _jump(box, tr.box)
            if overlap >= rules.min_iou or jump <= rules.max_jump:
                candidates.append((jump - overlap, i, j))
    ids: list[int | None] = [None] * len(boxes)
    used: set[int] = set()
    for _, i, j in sorted(candidates):
        if ids[i] is None and j not in used:
            ids[i] = live[j].track_id
            used.add(j)
    next_id = state.next_id
    for i, found in enumerate(ids):
        if found is None:
            ids[i] = next_id
            next_id += 1
    seen = {tid: Track(tid, box, t_ms) for tid, box in zip(ids, boxes, strict=True) if tid is not None}
    kept = [tr for j, tr in enumerate(live) if j not in used]
    tracks = tuple(sorted([*seen.values(), *kept], key=lambda tr: tr.track_id))
    final = [tid for tid in ids if tid is not None]
    return final, CameraTracks(tracks=tracks, next_id=next_id, last_ms=max(t_ms, state.last_ms))


@dataclass
class Tracker:
    """Per-camera tracks of one processor; cameras silent for longer than a track lives are dropped."""

    rules: TrackingRules = field(default_factory=TrackingRules)
    cameras: dict[str, CameraTracks] = field(default_factory=dict)
    _calls: int = 0

    def assign(self, camera_id: str, boxes: Sequence[Box], t_ms: int) -> list[int]:
        ids, self.cameras[camera_id] = assign(self.cameras.get(camera_id, CameraTracks()), boxes, t_ms, self.rules)
        self._calls += 1
        if self._calls % 1000 == 0:
            self._forget_idle(t_ms)
        return ids

    def _forget_idle(self, now_ms: int) -> None:
        for camera in [c for c, s in self.cameras.items() if now_ms - s.last_ms > 10 * self.rules.ttl_ms]:
            del self.cameras[camera]
