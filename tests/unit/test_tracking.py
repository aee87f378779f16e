"""Track ids from box matching: same person same id, across a dropout and a fall; new people new ids."""

from __future__ import annotations

from processors.tracking import CameraTracks, Tracker, TrackingRules, assign, iou

RULES = TrackingRules(ttl_ms=5000)
STANDING_LEFT = (0.10, 0.20, 0.25, 0.90)
STANDING_RIGHT = (0.60, 0.20, 0.75, 0.90)


def test_iou_of_identical_and_disjoint_boxes():
    assert iou(STANDING_LEFT, STANDING_LEFT) == 1.0
    assert iou(STANDING_LEFT, STANDING_RIGHT) == 0.0


def test_the_same_people_keep_their_ids_in_any_order():
    ids, state = assign(CameraTracks(), [STANDING_LEFT, STANDING_RIGHT], 0, RULES)
    assert ids == [1, 2]
    moved_right = (0.62, 0.20, 0.77, 0.90)
    ids, state = assign(state, [moved_right, STANDING_LEFT], 200, RULES)
    assert ids == [2, 1]


def test_a_person_lying_down_where_she_stood_keeps_her_id():
    _, state = assign(CameraTracks(), [STANDING_LEFT], 0, RULES)
    lying = (0.05, 0.75, 0.45, 0.92)  # wide and low: little overlap, centre within a body height
    ids, _ = assign(state, [lying], 1000, RULES)
    assert ids == [1]


def test_a_track_survives_a_dropout_shorter_than_its_ttl_only():
    _, state = assign(CameraTracks(), [STANDING_LEFT], 0, RULES)
    _, state = assign(state, [], 1000, RULES)
    ids, _ = assign(state, [STANDING_LEFT], 4600, RULES)
    assert ids == [1]
    ids, _ = assign(state, [STANDING_LEFT], 6000, RULES)
    assert ids == [2]


def test_someone_new_far_away_gets_a_new_id():
    _, state = assign(CameraTracks(), [STANDING_LEFT], 0, RULES)
    ids, state = assign(state, [STANDING_LEFT, STANDING_RIGHT], 200, RULES)
    assert ids == [1, 2]
    assert state.next_id == 3


def test_tracker_keeps_cameras_apart():
    tracker = Tracker(RULES)
    assert tracker.assign("a", [STANDING_LEFT], 0) == [1]
    assert tracker.assign("b", [STANDING_RIGHT], 0) == [1]
    assert tracker.assign("a", [STANDING_LEFT, STANDING_RIGHT], 100) == [1, 2]
