"""Scoring of `anomaly eval video` on fixed labels and fixed report anomalies (no media, no platform)."""

from __future__ import annotations

from pathlib import Path

import pytest

from evaluation.composite import RECIPES, fall_angle, pingpong, place_matrix
from evaluation.labels import LabelError, load_labels, parse_labels
from evaluation.scoring import Alert, LyingRule, alerts_from_report, percentile, score
from schemas.records import AnomalyKind

FALL, DOWN, VIOLENCE, SPEECH = (
    AnomalyKind.FALL,
    AnomalyKind.PERSON_DOWN,
    AnomalyKind.VIOLENCE,
    AnomalyKind.DISTRESS_SPEECH,
)

LABELS = {
    "version": 3,
    "tolerance_s": 1.0,
    "clips": [
        {"name": "fall_a", "file": "a.mp4", "expect": ["FALL", "PERSON_DOWN"], "span": [4.0, 14.0]},
        {"name": "fall_b", "file": "b.mp4", "expect": ["FALL", "PERSON_DOWN"], "span": [3.0, 12.0]},
        {
            "name": "fall_c",
            "file": "c.mp4",
            "events": [
                {"expect": ["FALL", "PERSON_DOWN"], "span": [4.5, 12.0]},
                {"expect": ["DISTRESS_SPEECH"], "span": [5.8, 8.8]},
            ],
        },
        {"name": "jump", "file": "jump.mp4", "expect": []},
        {"name": "crowd", "file": "crowd.mp4", "expect": []},
    ],
}


def _labels():
    return parse_labels(LABELS, Path("/sets"))


def test_found_missed_false_alarms_and_time_to_first_alert() -> None:
    alerts = {
        # found by PERSON_DOWN alone; the alert counts from when the rules could decide (decided_s)
        "fall_a": [Alert((DOWN,), 3.6, 14.0, decided_s=6.0)],
        # an alert long before the span (outside the tolerance) does not find the fall and is a false alarm
        "fall_b": [Alert((FALL,), 0.0, 1.5, decided_s=1.0)],
        # one incident for both events; without alerted_s the incident start is used
        "fall_c": [Alert((FALL, SPEECH), 4.4, 12.0)],
        "jump": [Alert((VIOLENCE,), 5.5, 7.0, decided_s=6.0)],
        "crowd": [],
    }
    ev = score(_labels(), alerts)
    rows = {r.kind: r for r in ev.kinds}
    assert [r.kind for r in ev.kinds] == ["FALL", "VIOLENCE", "DISTRESS_SPEECH"]
    assert (rows["FALL"].events, rows["FALL"].found, rows["FALL"].recall) == (3, 2, 0.667)
    assert rows["FALL"].false_alarms == 1  # fall_b's early alert
    assert rows["FALL"].first_alert_p50_s == pytest.approx(-0.1)  # nearest rank of (-0.1, 2.0)
    assert rows["FALL"].first_alert_max_s == pytest.approx(2.0)
    assert (rows["DISTRESS_SPEECH"].recall, rows["DISTRESS_SPEECH"].false_alarms) == (1.0, 0)
    assert rows["DISTRESS_SPEECH"].first_alert_max_s == pytest.approx(4.4 - 5.8)
    assert (rows["VIOLENCE"].events, rows["VIOLENCE"].recall, rows["VIOLENCE"].false_alarms) == (0, None, 1)
    clips = {c.clip: c for c in ev.clips}
    assert [e.found for e in clips["fall_c"].events] == [True, True]
    assert clips["fall_b"].false_alarms == ["FALL"] and not clips["fall_b"].events[0].found
    assert clips["jump"].false_alarms == ["VIOLENCE"] and clips["jump"].expect == "nothing"
    assert clips["fall_a"].expect == "FALL/PERSON_DOWN 4-14 s"
    targets = {t.name.split(" ")[0]: t for t in ev.targets}
    assert not targets["fall"].met and targets["fall"].value == "67%"
    assert not targets["no"].met
    assert targets["first"].met and targets["first"].value == "max 2.0 s"
    assert ev.not_analysed == []


def test_tolerance_widens_the_span_and_other_kinds_on_a_positive_are_false_alarms() -> None:
    alerts = {
        "fall_a": [Alert((FALL,), 14.9, 16.0), Alert((VIOLENCE,), 5.0, 6.0)],  # 0.9 s after the span: still found
        "fall_b": [Alert((FALL,), 13.1, 14.0)],  # 1.1 s after: missed, and a false alarm
    }
    ev = score(_labels(), alerts)
    clips = {c.clip: c for c in ev.clips}
    assert clips["fall_a"].events[0].found and clips["fall_a"].false_alarms == ["VIOLENCE"]
    assert not clips["fall_b"].events[0].found and clips["fall_b"].false_alarms == ["FALL"]
    assert set(ev.not_analysed) == {"fall_c", "jump", "crowd"}
    assert not clips["jump"].analysed


def test_all_found_meets_the_targets() -> None:
    alerts = {
        "fall_a": [Alert((FALL, DOWN), 3.9, 14.0, decided_s=5.5)],
        "fall_b": [Alert((FALL,), 2.9, 12.0, decided_s=4.5)],
        "fall_c": [Alert((FALL, SPEECH), 4.4, 12.0, decided_s=6.0)],
        "jump": [],
        "crowd": [],
    }
    ev = score(_labels(), alerts)
    assert all(t.met for t in ev.targets), ev.targets
    fall = ev.kinds[0]
    assert (fall.recall, fall.false_alarms, fall.first_alert_p50_s, fall.first_alert_max_s) == (1.0, 0, 1.5, 1.5)


def _torso(*points: tuple[float, float]) -> list[dict]:
    return [{"key": "pose.torso_angle_deg", "points": [{"t_s": t, "value": v} for t, v in points]}]


def test_alerts_from_report_json_estimate_the_decision_from_the_pose_timeline() -> None:
    torso = _torso((3.0, 80.0), (4.0, 10.0), (4.4, 45.0), (4.6, 78.0), (4.8, 102.0))
    fall = {"kinds": ["FALL"], "start_s": 4.2, "end_s": 14}
    report = {
        "cameras": [
            {"camera_id": "fall_a", "series": torso, "anomalies": [fall]},
            {"camera_id": "down", "series": torso, "anomalies": [{**fall, "kinds": ["PERSON_DOWN"]}]},
            {"camera_id": "crowd", "series": [], "anomalies": [{"kinds": ["VIOLENCE"], "start_s": 1, "end_s": 2}]},
            {"camera_id": "unseen", "anomalies": [fall]},
        ]
    }
    found = alerts_from_report(report, LyingRule(lying_deg=60, fall_persist_s=1.0, down_persist_s=3.0))
    # lying first seen at 4.6 (the 3.0 s sighting is before the incident), + 1 s for a fall, + 3 s for person down
    assert found["fall_a"] == [Alert((FALL,), 4.2, 14.0, 5.6)]
    assert found["down"][0].alert_time_s == pytest.approx(7.6)
    assert found["crowd"][0].decided_s is None and found["crowd"][0].alert_time_s == 1.0
    assert found["unseen"][0].alert_time_s == 4.2


def test_percentile_nearest_rank() -> None:
    assert percentile([], 50) is None
    assert percentile([3.0, 1.0, 2.0], 50) == 2.0
    assert percentile([1.0, 2.0], 50) == 1.0
    assert percentile([1.0, 2.0], 100) == 2.0


@pytest.mark.parametrize(
    ("clip", "message"),
    [
        ({"file": "x.mp4", "expect": ["FALLING"], "span": [1, 2]}, "FALLING"),
        ({"file": "x.mp4", "expect": ["FALL"]}, "span"),
        ({"file": "x.mp4", "expect": ["FALL"], "span": [5, 2]}, "ends before"),
        ({"expect": []}, "needs a 'file'"),
    ],
)
def test_bad_labels_are_named(clip: dict, message: str) -> None:
    with pytest.raises(LabelError, match=message):
        parse_labels({"clips": [clip]}, Path())


def test_user_set_shorthand_names_clips_by_file() -> None:
    labels = parse_labels({"clips": [{"file": "cams/lobby.mp4", "expect": ["fall"], "span": [1, 9]}]}, Path("/x"))
    [clip] = labels.clips
    assert (clip.name, clip.events[0].kinds, labels.version, labels.tolerance_s) == ("lobby", (FALL,), "user", 1.0)


def test_project_set_matches_the_composite_recipes() -> None:
    labels = load_labels()
    for clip in labels.clips:
        scheme, _, name = clip.file.partition(":")
        if scheme != "composite":
            continue
        recipe = RECIPES[name]
        if recipe.fall_at_s is None:
            assert clip.events == (), name
        else:
            [event] = clip.events
            assert (event.start_s, event.end_s) == (recipe.fall_at_s, recipe.duration_s), name
    assert sum(1 for c in labels.clips if c.events and c.events[0].kind is FALL) >= 5


def test_fall_geometry() -> None:
    recipe = RECIPES["fall_plain"]
    assert fall_angle(recipe, 3.9) == 0.0
    assert fall_angle(recipe, 4.0 + recipe.fall_s) == pytest.approx(90.0)
    assert fall_angle(RECIPES["fall_head_down"], 20.0) == pytest.approx(-150.0)
    assert [pingpong(i / 10, 10, 3) for i in range(6)] == [0, 1, 2, 1, 0, 1]
    # the feet stay where they are put whatever the angle; a 90 degree turn lays the head to the right
    m = place_matrix((50.0, 200.0), (300.0, 500.0), 0.5, 90.0)
    assert m @ [50.0, 200.0, 1.0] == pytest.approx([300.0, 500.0])
    assert m @ [50.0, 0.0, 1.0] == pytest.approx([400.0, 500.0])
