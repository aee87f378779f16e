"""Pose rules per tracked person, with fixed timestamps: falls at any rate, dropouts, several people."""

from __future__ import annotations

from dataclasses import replace

import pytest

from bench.fusion_scenarios import person, pose
from fusion_app.features import falls, limb_speeds, lying_runs, pose_features, tracks
from fusion_app.observe import Where, observe
from fusion_app.rules import load_rules
from fusion_app.window import PoseObs
from schemas.records import PersonPose

T0 = 1_700_000_000_000
CAM = "cam-pose"
RULES = load_rules()
PR = RULES.pose

# (t offset ms, hip y, torso deg) of person 1; None: nobody seen in that frame
Spec = tuple[int, float, float] | tuple[int, None, None]


def poses(*specs: Spec, arm: list[float] | None = None, others: list[tuple[PersonPose, ...]] | None = None):
    out = []
    for i, (dt, hip_y, torso) in enumerate(specs):
        extra = others[i] if others else ()
        if hip_y is None or torso is None:
            record = pose(CAM, T0 + dt, 0.5, 0.0, person_present=False, others=extra)
        else:
            record = pose(CAM, T0 + dt, hip_y, torso, arm=arm[i] if arm else 0.0, others=extra)
        obs, _ = observe(record, Where("scores.pose.v1", 0, i, CAM, T0 + dt), RULES)
        assert isinstance(obs, PoseObs)
        out.append(obs)
    return tuple(out)


def test_observation_reads_every_person_with_track_and_centre():
    (p,) = poses((0, 0.4, 30.0), others=[(person(7, 0.2, 0.5, 0.0),)])
    first, second = p.people
    assert (first.track, second.track) == (1, 7)
    assert first.hip_height == pytest.approx(0.6)
    assert first.torso_deg == pytest.approx(30.0)
    assert first.center is not None and second.center is not None
    assert second.center[1] == pytest.approx(0.5 - 0.125)  # half a torso length above the hips
    # Wrists and knees in body coordinates: knees below the hips by ~0.9 torso lengths, whatever the lean.
    assert first.limbs[5] == pytest.approx(-0.9, abs=1e-6)


def test_records_without_people_are_read_as_one_person():
    record = pose(CAM, T0, 0.45, 80.0)
    legacy = replace(record, people=[], keypoints=record.people[0].keypoints)
    obs, _ = observe(legacy, Where("scores.pose.v1", 0, 0, CAM, T0), RULES)
    assert isinstance(obs, PoseObs)
    (only,) = obs.people
    assert only.track == 0 and only.torso_deg == pytest.approx(80.0)


def test_lying_runs_break_on_standing_pose_and_gaps():
    seq = poses((0, 0.8, 80), (100, 0.8, 80), (200, 0.5, 10), (300, 0.8, 80), (3300, 0.8, 80), (3400, 0.8, 80))
    runs = lying_runs(seq, tracks(seq)[1], PR)
    assert [(r.first, r.last, r.duration_ms) for r in runs] == [(0, 1, 100), (3, 3, 0), (4, 5, 100)]


@pytest.mark.parametrize("every_ms", [1000, 500, 200, 100])
def test_a_fall_is_found_at_any_pose_rate(every_ms: int):
    # Upright until 2 s, on the floor from 2.4 s: whatever rate the pose stage got.
    specs = []
    for t in range(0, 5000, every_ms):
        specs.append(
            (t, 0.45, 4.0)
            if t < 2000
            else (t, 0.45 + (t - 2000) / 400 * 0.4, 4 + (t - 2000) / 400 * 81)
            if t < 2400
            else (t, 0.85, 85.0)
        )
    feats = pose_features(poses(*specs), PR)
    assert feats.fall is not None
    assert feats.fall.drop > PR.fall_min_drop
    assert feats.fall.run.duration_ms >= PR.fall_persist_ms
    assert not feats.fall.dropout


def test_a_fall_across_a_detector_dropout_counts_when_found_near():
    # Upright, lost for 3.6 s, found lying lower where she was, head down (torso ~171 degrees).
    seq = poses(
        (0, 0.45, 4), (1000, 0.45, 4), (1400, None, None), (2400, None, None), (4600, 0.85, 171), (5600, 0.85, 171)
    )
    (fall,) = falls(seq, PR)
    assert fall.dropout and fall.after_ms == 3600


def test_a_dropout_longer_than_the_limit_is_not_a_fall():
    seq = poses((0, 0.45, 4), (5600, 0.85, 90), (6600, 0.85, 90))
    assert falls(seq, PR) == []


def small(track: int, x: float, y: float, torso: float, arm: float = 0.0) -> PersonPose:
    """A person a quarter of the image high (torso 0.08)."""
    return person(track, x, y, torso, arm=arm, length=0.08)


def frames(*people: tuple[PersonPose, ...], every_ms: int = 1000) -> tuple[PoseObs, ...]:
    records = [pose(CAM, T0 + i * every_ms, 0.5, 0.0, person_present=False, others=p) for i, p in enumerate(people)]
    observed = [observe(r, Where("scores.pose.v1", 0, i, CAM, T0), RULES)[0] for i, r in enumerate(records)]
    return tuple(o for o in observed if isinstance(o, PoseObs))


def test_lying_far_from_where_she_was_lost_is_not_her_fall():
    upright = (small(1, 0.2, 0.5, 3.0),)
    here, there = (small(1, 0.22, 0.6, 88.0),), (small(1, 0.8, 0.6, 88.0),)
    assert falls(frames(upright, (), (), here, here), PR)
    assert falls(frames(upright, (), (), there, there), PR) == []


def test_slow_lowering_through_in_between_poses_is_not_a_fall():
    # Going to bed: upright, then leaning more and more over several seconds, then lying.
    seq = poses(*[(i * 1000, 0.45 + 0.05 * i, 10.0 * i) for i in range(8)], (8000, 0.85, 80))
    assert falls(seq, PR) == []


def test_lying_higher_than_before_is_not_a_fall():
    seq = poses((0, 0.85, 4), (1000, 0.45, 80), (2000, 0.45, 80))
    assert falls(seq, PR) == []


def test_the_fall_of_one_person_while_another_stands_names_the_right_track():
    stand = (person(2, 0.2, 0.5, 2.0),)
    seq = poses((0, 0.45, 4), (1000, 0.85, 85), (2000, 0.85, 85), others=[stand, stand, stand])
    (fall,) = falls(seq, PR)
    assert fall.run.track == 1


def test_a_person_re_found_under_a_new_track_id_still_falls():
    seq = poses(
        (0, 0.45, 4), (1000, None, None), (3000, None, None), (4000, None, None),
        others=[(), (), (person(5, 0.5, 0.85, 88.0),), (person(5, 0.5, 0.85, 88.0),)],
    )  # fmt: skip
    (fall,) = falls(seq, PR)
    assert fall.run.track == 5 and fall.dropout


def test_limb_speed_needs_someone_close_by():
    arms = [0.0, 0.8, 0.0]
    alone = poses((0, 0.55, 4), (100, 0.55, 4), (200, 0.55, 4), arm=arms)
    assert limb_speeds(alone, PR) == []  # one person moving fast alone is not violence
    near = (person(2, 0.75, 0.55, 3.0),)
    together = poses((0, 0.55, 4), (100, 0.55, 4), (200, 0.55, 4), arm=arms, others=[near, near, near])
    speeds = limb_speeds(together, PR)
    # The wrist moves 0.8 torso lengths sideways and up: |(0.8, 0.8)| / 0.1 s.
    assert speeds[0][0] == pytest.approx(11.31, abs=0.01)
    assert [i for s, i in speeds if s > 0] == [1, 2]  # person 2 stands still


def test_people_far_apart_are_not_fighting():
    punch = [small(1, 0.15, 0.5, 3.0, arm) for arm in (0.0, 0.8, 0.0)]
    bystander = small(2, 0.85, 0.5, 3.0)
    apart = frames(*[(p, bystander) for p in punch], every_ms=100)
    assert limb_speeds(apart, PR) == []
    close = small(2, 0.3, 0.5, 3.0)
    assert limb_speeds(frames(*[(p, close) for p in punch], every_ms=100), PR)


def test_limb_speed_of_the_whole_body_moving_is_zero():
    near = (person(2, 0.75, 0.55, 3.0),)
    walking = poses((0, 0.55, 4), (100, 0.50, 10), (200, 0.45, 60), others=[near, near, near])
    assert max(s for s, _ in limb_speeds(walking, PR)) < 1e-6


def test_pairs_farther_apart_than_the_limb_gap_are_not_compared():
    near = (person(2, 0.75, 0.55, 3.0),)
    seq = poses((0, 0.55, 4), (1000, 0.55, 4), arm=[0.0, 0.8], others=[near, near])
    assert limb_speeds(seq, PR) == []


def test_a_fall_caught_mid_way_at_one_frame_a_second_counts():
    seq = poses((0, 0.45, 4), (1000, 0.65, 45), (2000, 0.85, 85), (3000, 0.85, 85))
    (fall,) = falls(seq, PR)
    assert fall.after_ms == 2000 and not fall.dropout


def test_a_head_first_fall_seen_all_along_counts_wherever_she_lands():
    # Seen on every frame under one id, rotating ~150 degrees about the feet: the torso centre lands far away.
    upright = small(1, 0.5, 0.5, 3.0)
    landed = small(1, 0.5 + 0.35, 0.75, 150.0)
    (fall,) = falls(frames((upright,), (upright,), (landed,), (landed,)), PR)
    assert not fall.dropout


def test_a_fall_next_to_someone_is_not_violence():
    walker = small(2, 0.4, 0.5, 3.0)
    toppling = [small(1, 0.5, 0.5 + 0.05 * i, 40.0 * i, arm=0.3 * i) for i in range(4)]
    speeds = limb_speeds(frames(*[(p, walker) for p in toppling], every_ms=200), PR)
    assert all(speed == 0.0 for speed, _ in speeds)  # only the walker's pairs, standing still
