"""Frames and audio chunks seen per camera while a run is watched."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field


@dataclass
class CameraRate:
    """Frames and audio chunks seen per camera, and the frame rate over the last few seconds."""

    window_s: float = 5.0
    frames: dict[str, int] = field(default_factory=dict)
    chunks: dict[str, int] = field(default_factory=dict)
    _recent: dict[str, deque[float]] = field(default_factory=dict)

    def add_frames(self, cameras: Iterable[str], now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        for camera in cameras:
            self.frames[camera] = self.frames.get(camera, 0) + 1
            self._recent.setdefault(camera, deque()).append(now)

    def add_chunks(self, cameras: Iterable[str]) -> None:
        for camera in cameras:
            self.chunks[camera] = self.chunks.get(camera, 0) + 1

    def fps(self, camera: str, now: float | None = None) -> float:
        now = time.monotonic() if now is None else now
        recent = self._recent.get(camera, deque())
        while recent and recent[0] < now - self.window_s:
            recent.popleft()
        return len(recent) / self.window_s
