"""The producer's motion gate on fixed synthetic frames and fixed media times (no decoding, no IO)."""

from __future__ import annotations

import itertools
from collections.abc import Callable

import numpy as np
import pytest

from producers.motion import (
    ALL_STAGES,
    NO_STAGE,
    POSE_ONLY,
    GateDecision,
    GateSettings,
    MotionGate,
    changed_fraction,
    thumbnail,
)
from schemas.records import FrameStage

FPS = 15
W, H = 320, 180


def _background(seed: int = 0) -> np.ndarray:
    """A textured grey room (so a shaking camera changes many pixels), fixed per seed."""
    rng = np.random.default_rng(seed)
    small = rng.integers(40, 200, (H // 20, W // 20), dtype=np.uint8)
    return np.kron(small, np.ones((20, 20), dtype=np.uint8))


BACKGROUND = _background()


def static(_i: int) -> np.ndarray:
    return BACKGROUND


def noisy_static(i: int) -> np.ndarray:
    """The static room with per-frame sensor noise (+-6 grey levels): still no motion."""
    rng = np.random.default_rng(100 + i)
    noise = rng.integers(-6, 7, (H, W))
    return np.clip(BACKGROUND.astype(int) + noise, 0, 255).astype(np.uint8)


def moving_square(i: int, *, start: int = 0, stop: int = 10**9) -> np.ndarray:
    """A 40 px bright square crossing the room 6 px per frame while ``start <= i < stop``, parked otherwise."""
    img = BACKGROUND.copy()
    step = min(max(i, start), stop) - start
    x = 10 + (step * 6) % (W - 60)
    img[70:110, x : x + 40] = 250
    return img


def shaking(i: int) -> np.ndarray:
    """The whole view jumps by 4-8 pixels every frame (a camera on a shaking pole)."""
    rng = np.random.default_rng(1000 + i)
    dx, dy = rng.integers(4, 9, 2) * rng.choice([-1, 1], 2)
    return np.roll(np.roll(BACKGROUND, dy, axis=0), dx, axis=1)


def run(
    frames: Callable[[int], np.ndarray], seconds: float, settings: GateSettings | None = None, fps: int = FPS
) -> list[tuple[float, GateDecision]]:
    gate = MotionGate(settings or GateSettings())
    out = []
    for i in range(round(seconds * fps)):
        t = i / fps
        out.append((t, gate.decide(t, thumbnail(frames(i)))))
    return out


def times(decisions: list[tuple[float, GateDecision]], stage: FrameStage) -> list[float]:
    return [t for t, d in decisions if stage in d.stages]


def max_per_second(ts: list[float]) -> int:
    """The most frames in any 1 s window starting at a frame."""
    return max((sum(1 for u in ts if t <= u < t + 1.0 - 1e-9) for t in ts), default=0)


# --- the measure -------------------------------------------------------------------------------------------------


def test_thumbnail_is_64_wide_grey_and_keeps_the_aspect() -> None:
    thumb = thumbnail(np.zeros((720, 1280, 3), dtype=np.uint8))
    assert thumb.shape == (36, 64) and thumb.dtype == np.uint8
    assert thumbnail(np.zeros((30, 40), dtype=np.uint8)).shape == (30, 40)  # never scaled up


def test_changed_fraction() -> None:
    a = thumbnail(BACKGROUND)
    assert changed_fraction(a, a) == 0.0
    assert changed_fraction(thumbnail(noisy_static(1)), thumbnail(noisy_static(2))) == 0.0
    assert 0.02 < changed_fraction(thumbnail(moving_square(0)), thumbnail(moving_square(5))) < 0.2
    assert changed_fraction(thumbnail(shaking(0)), thumbnail(shaking(1))) > 0.3
    assert changed_fraction(a, np.zeros((10, 10), dtype=np.uint8)) == 1.0  # resolution change


# --- the gate ----------------------------------------------------------------------------------------------------


def test_static_scene_is_base_rate_pose_and_scene_every_max_interval() -> None:
    out = run(noisy_static, 30)
    assert all(d.motion == 0.0 for _, d in out)
    assert times(out, FrameStage.POSE) == [float(s) for s in range(30)]  # FRAME_PROCESSING_RATE=1
    assert times(out, FrameStage.SCENE) == [0.0, 10.0, 20.0]  # SCENE_MAX_INTERVAL_SECONDS=10


def test_frozen_camera_is_base_rate_only() -> None:
    """A frozen camera repeats the very same frame: nothing moves, pose at the base rate, scene every 10 s."""
    out = run(static, 60)
    assert len(times(out, FrameStage.POSE)) == 60
    assert len(times(out, FrameStage.SCENE)) == 6
    assert [d.stages for _, d in out[:2]] == [ALL_STAGES, NO_STAGE]


def test_moving_square_raises_pose_to_pose_rate_then_holds_and_falls_back() -> None:
    # Still for 3 s, the square moves from 3 s to 6 s, then stays parked until 12 s.
    out = run(lambda i: moving_square(i, start=3 * FPS, stop=6 * FPS), 12)
    pose = times(out, FrameStage.POSE)
    before = [t for t in pose if t < 3]
    moving = [t for t in pose if 3 <= t < 6]
    held = [t for t in pose if 6 <= t < 8 + 1e-9]
    after = [t for t in pose if t > 8.2]
    assert before == [0.0, 1.0, 2.0]
    assert len(moving) == 15 and max_per_second(moving) == 5  # POSE_FRAME_RATE=5: every 0.2 s
    assert all(abs(b - a - 0.2) < 1e-6 for a, b in itertools.pairwise(moving))
    assert len(held) >= 9  # POSE_HOLD_SECONDS=2 after the last motion at ~6 s
    assert after == [9.0, 10.0, 11.0]  # back to the base rate
    # Scene: at the base rate while the view changes, then only when due again.
    assert times(out, FrameStage.SCENE) == [0.0, 4.0, 5.0, 6.0]  # the square starts moving right after 3.0
    # Pose-only frames are not base frames; base frames carry both stages only when the scene changed.
    assert {d.stages for _, d in out if d.publish} == {ALL_STAGES, POSE_ONLY}


def test_scene_change_is_measured_against_the_last_scene_frame() -> None:
    """Slow change (one grey level a frame) never counts as motion, but the scene sees it once it adds up."""
    out = run(lambda i: np.clip(BACKGROUND.astype(int) + i, 0, 255).astype(np.uint8), 8)
    assert all(d.motion == 0.0 for _, d in out)
    assert len(times(out, FrameStage.POSE)) == 8
    scene = times(out, FrameStage.SCENE)
    assert scene[0] == 0.0 and 2 <= len(scene) <= 8 and scene != [0.0]


def test_shaking_camera_is_capped_at_pose_rate() -> None:
    out = run(shaking, 20)
    pose = times(out, FrameStage.POSE)
    assert len(pose) == 20 * 5 and max_per_second(pose) == 5
    assert len(times(out, FrameStage.SCENE)) == 20  # every base frame changed: the base rate, never more
    assert max_per_second(times(out, FrameStage.SCENE)) == 1


@pytest.mark.parametrize("fps", [10, 25, 30, 60])
def test_rate_caps_hold_for_any_source_frame_rate(fps: int) -> None:
    out = run(shaking, 10, fps=fps)
    pose = times(out, FrameStage.POSE)
    assert len(pose) == 50 and max_per_second(pose) == 5
    assert len(times(out, FrameStage.SCENE)) == 10


def test_settings_change_the_rates() -> None:
    settings = GateSettings(rate=2.0, pose_rate=10.0, pose_hold_s=0.0, scene_max_interval_s=3.0)
    assert len(times(run(shaking, 10, settings, fps=30), FrameStage.POSE)) == 100
    out = run(static, 10, settings)
    assert len(times(out, FrameStage.POSE)) == 20
    assert times(out, FrameStage.SCENE) == [0.0, 3.0, 6.0, 9.0]


def test_pose_rate_zero_and_scene_interval_zero_turn_the_gate_off() -> None:
    settings = GateSettings(pose_rate=0.0, scene_max_interval_s=0.0)
    for frames in (static, shaking):
        out = run(frames, 10, settings)
        assert [t for t, d in out if d.publish] == [float(s) for s in range(10)]
        assert all(d.stages == ALL_STAGES for _, d in out if d.publish)


def test_frame_skip_rate_keeps_every_kth_frame_as_base() -> None:
    out = run(static, 4, GateSettings(skip=3))
    assert len(times(out, FrameStage.POSE)) == 20  # 60 frames, every 3rd
    assert times(out, FrameStage.SCENE) == [0.0]


def test_frames_without_timestamps_go_everywhere_and_reset_forgets() -> None:
    gate = MotionGate()
    thumb = thumbnail(BACKGROUND)
    assert gate.decide(None, thumb) == GateDecision(ALL_STAGES, 0.0)
    assert gate.decide(None, thumb).stages == ALL_STAGES
    assert gate.decide(5.0, thumb).stages == ALL_STAGES  # first base frame: scene not seen yet on the timeline
    assert gate.decide(5.5, thumb).stages == NO_STAGE
    gate.reset()  # a reconnect: timestamps start over
    assert gate.decide(0.0, thumb).stages == ALL_STAGES


def test_invalid_settings() -> None:
    with pytest.raises(ValueError):
        GateSettings(pose_rate=-1)
    with pytest.raises(ValueError):
        GateSettings(motion_threshold=0)
    with pytest.raises(ValueError):
        MotionGate(GateSettings(rate=0))
