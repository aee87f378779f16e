"""Which decoded frames to keep, and what time each was captured at. Pure logic, no IO.

Sampling works on media time, not on frame counts, so a 25 fps and a 30 fps source sampled at
``FRAME_PROCESSING_RATE=1`` both give one frame per second of video (exactly N frames for N seconds).
``FRAME_SKIP_RATE=k`` (k >= 1) instead keeps every k-th decoded frame and takes precedence when set.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

# Timestamps come from rational time bases (1/12800, 1/90000); a frame exactly on a slot boundary can land a
# hair below it once converted to float, which would push it into the previous slot.
_EPS = 1e-6


@dataclass
class FrameSampler:
    """Decides, frame by frame, whether a decoded frame is kept.

    ``rate`` frames per second of media time (the first frame of each ``1/rate`` slot is kept), or every
    ``skip``-th frame when ``skip >= 1``.
    """

    rate: float = 1.0
    skip: int = 0
    _index: int = 0
    _last_slot: int | None = None
    _origin: float | None = None

    def __post_init__(self) -> None:
        if self.skip < 0:
            raise ValueError("skip must be >= 0")
        if self.skip == 0 and not self.rate > 0:
            raise ValueError("rate must be > 0 when skip is not set")

    def keep(self, media_s: float) -> bool:
        """True when the frame at ``media_s`` seconds (from any fixed origin, non-decreasing) is kept."""
        index = self._index
        self._index += 1
        if self.skip >= 1:
            return index % self.skip == 0
        if self._origin is None:
            self._origin = media_s
        slot = math.floor((media_s - self._origin) * self.rate + _EPS)
        if self._last_slot is not None and slot <= self._last_slot:
            return False
        self._last_slot = slot
        return True

    def reset(self) -> None:
        """Forget the position (a reconnect or a loop restarts the source's timestamps)."""
        self._index = 0
        self._last_slot = None
        self._origin = None


def expected_frames(duration_s: float, fps: float, rate: float = 1.0, skip: int = 0) -> int:
    """How many frames ``FrameSampler`` keeps from a constant-rate clip (what tests and benches expect)."""
    count = round(duration_s * fps)
    if skip >= 1:
        return math.ceil(count / skip)
    return len({math.floor(i / fps * rate + _EPS) for i in range(count)})


class CaptureClock:
    """Maps media time (seconds in the source) to capture time (UTC event time).

    Files: capture time is ``origin + media time``, so a file replayed as fast as possible still carries the
    spacing it was recorded with, and frames and audio of one source share the same clock.

    Live sources: stream timestamps are trusted while they advance and stay within ``max_drift_s`` of the wall
    clock; a stream without timestamps, a timestamp going backwards (stream restarted, reconnect) or drifting
    away re-anchors the clock on the wall clock. The result never goes backwards, so event time stays monotonic
    per camera.
    """

    def __init__(self, origin: datetime, *, live: bool, max_drift_s: float = 2.0) -> None:
        if origin.tzinfo is None:
            raise ValueError("origin must be timezone-aware")
        self.live = live
        self.max_drift_s = max_drift_s
        self._anchor_wall = origin
        self._anchor_media: float | None = None if live else 0.0
        self._last_media: float | None = None
        self._last: dict[str, datetime] = {}
        self.reanchors = 0

    def at(self, media_s: float | None, wall_now: datetime | None = None, *, stream: str = "video") -> datetime:
        """Capture time of a frame at ``media_s`` (``None`` when the stream has no timestamp).

        Monotonic per ``stream``: audio and video packets interleave slightly out of media order, so each
        stream is clamped against its own previous stamp, not the other's.
        """
        if self.live:
            if wall_now is None:
                raise ValueError("live sources need the wall clock")
            stamp = self._live(media_s, wall_now)
        else:
            if media_s is None:
                raise ValueError("file sources need media timestamps")
            stamp = self._anchor_wall + timedelta(seconds=media_s)
        last = self._last.get(stream)
        if last is not None and stamp < last:
            stamp = last
        self._last[stream] = stamp
        return stamp

    def restart(self) -> None:
        """The live stream reconnected and its timestamps start over: anchor again on the next frame."""
        if self.live:
            if self._anchor_media is not None:
                self.reanchors += 1
            self._anchor_media = None
            self._last_media = None

    def _live(self, media_s: float | None, wall_now: datetime) -> datetime:
        if media_s is None:
            return wall_now
        # Interleaved audio/video may step back by a packet; only a real jump back means the stream restarted.
        went_back = self._last_media is not None and media_s < self._last_media - self.max_drift_s
        self._last_media = media_s if self._last_media is None else max(self._last_media, media_s)
        if self._anchor_media is None or went_back:
            return self._reanchor(media_s, wall_now)
        stamp = self._anchor_wall + timedelta(seconds=media_s - self._anchor_media)
        if abs((stamp - wall_now).total_seconds()) > self.max_drift_s:
            return self._reanchor(media_s, wall_now)
        return stamp

    def _reanchor(self, media_s: float, wall_now: datetime) -> datetime:
        if self._anchor_media is not None:
            self.reanchors += 1
        self._anchor_media = media_s
        self._anchor_wall = wall_now
        return wall_now


def pace_delay(media_s: float, started_media_s: float, elapsed_wall_s: float) -> float:
    """Seconds to sleep so a file plays at its recorded speed (``--realtime``); 0 when behind."""
    return max(0.0, (media_s - started_media_s) - elapsed_wall_s)
