"""Temporal pose features from consecutive keypoints, with fixed timestamps."""

from __future__ import annotations

import pytest

from fusion_app.features import fastest_drop, limb_speeds, lying_runs, pose_features
from fusion_app.observe import Where, observe
from fusion_app.rules import load_rules
from fusion_app.scenarios import pose
from fusion_app.window import PoseObs

T0 = 1_700_000_000_000
CAM = "cam-pose"
RULES = load_rules()
PR = RULES.pose


def poses(*specs: tuple[int, float, float], arm: list[float] | None = None) -> tuple[PoseObs, ...]:
    """(t offset ms, hip y, torso deg) -> observations, as the worker would see them."""
    out = []
    for i, (dt, hip_y, torso) in enumerate(specs):
        record = pose(CAM, T0 + dt, hip_y, torso, arm=arm[i] if arm else 0.0)
        obs, _ = observe(record, Where("scores.pose.v1", 0, i, CAM, T0 + dt), RULES)
        assert isinstance(obs, PoseObs)
        out.append(obs)
    return tuple(out)


def test_observation_reads_hip_height_and_torso_angle():
    (p,) = poses((0, 0.4, 30.0))
    assert p.hip_height == pytest.approx(0.6)
    assert p.torso_deg == pytest.approx(30.0)
    # Wrists and knees in body coordinates: knees below the hips by ~0.9 torso lengths, whatever the lean.
    assert p.limbs[5] == pytest.approx(-0.9, abs=1e-6)


def test_drop_speed_is_per_second_of_event_time():
    fast = poses((0, 0.45, 4), (100, 0.45, 4), (200, 0.65, 40), (300, 0.85, 85))
    drop = fastest_drop(fast, PR)
    assert drop is not None
    assert drop.speed == pytest.approx(2.0)  # 0.4 of hip height in 0.2 s
    assert (drop.start, drop.end) == (1, 3)


def test_drop_ignores_single_frame_jitter_and_gaps():
    jitter = poses((0, 0.45, 4), (50, 0.55, 4))  # 50 ms apart: under drop_min_span_ms
    assert fastest_drop(jitter, PR) is None
    gap = poses((0, 0.45, 4), (2000, 0.85, 85))  # a missing second is not a fall
    assert fastest_drop(gap, PR) is None


def test_lying_runs_break_on_standing_pose_and_gaps():
    seq = poses((0, 0.8, 80), (100, 0.8, 80), (200, 0.5, 10), (300, 0.8, 80), (1300, 0.8, 80), (1400, 0.8, 80))
    runs = lying_runs(seq, PR)
    assert [(r.first, r.last, r.duration_ms) for r in runs] == [(0, 1, 100), (3, 3, 0), (4, 5, 100)]


def test_fall_pairs_the_drop_with_the_lying_run_after_it():
    seq = poses(
        (0, 0.45, 4), (100, 0.45, 4), (200, 0.65, 45), (300, 0.85, 85),
        (400, 0.85, 85), (900, 0.85, 85), (1400, 0.85, 88),
    )  # fmt: skip
    feats = pose_features(seq, PR)
    assert feats.drop is not None
    assert feats.lying_after_drop is not None
    assert feats.lying_after_drop.duration_ms == 1100
    assert feats.lying == feats.lying_after_drop


def test_lying_long_after_the_drop_does_not_count_as_the_fall():
    seq = poses((0, 0.45, 4), (300, 0.85, 10), (600, 0.85, 10), (1200, 0.85, 10), (1800, 0.85, 10), (2300, 0.85, 85))
    feats = pose_features(seq, PR)
    assert feats.drop is not None
    assert feats.lying_after_drop is None  # lying began 2 s after the drop: beyond fall_max_delay_ms


def test_limb_speed_is_relative_to_the_body():
    # The whole body moving (walking across, or a fall rotating the torso) is not limb motion.
    walking = poses((0, 0.55, 4), (100, 0.50, 10), (200, 0.45, 60))
    assert max(s for s, _ in limb_speeds(walking, PR)) < 1e-6
    punching = poses((0, 0.55, 4), (100, 0.55, 4), (200, 0.55, 4), arm=[0.0, 0.8, 0.0])
    speeds = limb_speeds(punching, PR)
    # The wrist moves 0.8 torso lengths sideways and up: |(0.8, 0.8)| / 0.1 s.
    assert speeds[0][0] == pytest.approx(11.31, abs=0.01)
    assert [i for _, i in speeds] == [1, 2]


def test_pairs_farther_apart_than_the_gap_are_not_compared():
    seq = poses((0, 0.55, 4), (1000, 0.55, 4), arm=[0.0, 0.8])
    assert limb_speeds(seq, PR) == []


def test_frame_rate_does_not_change_the_speed():
    ten_fps = poses(*[(i * 100, 0.45 + 0.08 * i, 4.0) for i in range(6)])
    thirty_fps = poses(*[(i * 33, 0.45 + 0.08 * i * 33 / 100, 4.0) for i in range(16)])
    a, b = fastest_drop(ten_fps, PR), fastest_drop(thirty_fps, PR)
    assert a is not None and b is not None
    assert a.speed == pytest.approx(0.8) and b.speed == pytest.approx(0.8, rel=0.02)
