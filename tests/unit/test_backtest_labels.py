"""Operator resolutions as backtest labels: false alarms a rules file still raises, true alarms it misses."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from fusion_app.labels import Label, load_labels, score, write_labels


@dataclass(frozen=True)
class Incident:
    camera_id: str
    start_ms: int
    end_ms: int


def label(anomaly_id: str, resolution: str, start_ms: int, end_ms: int, camera: str = "lobby") -> Label:
    return Label(
        anomaly_id, camera, start_ms, end_ms, ["FALL"], resolution, "key:op", "2025-03-01T12:00:00+00:00", "r1"
    )


LABELS = [
    label("cat", "FALSE_ALARM", 1_000, 5_000),
    label("fall", "TRUE_ALARM", 10_000, 14_000),
    label("drill", "TEST", 20_000, 21_000),
    label("shadow", "FALSE_ALARM", 30_000, 31_000, camera="yard"),
]


def test_overlapping_incidents_on_the_same_camera_raise_a_label() -> None:
    incidents = [Incident("lobby", 4_000, 6_000), Incident("lobby", 30_000, 31_000)]  # the second is the wrong camera
    got = score(LABELS, incidents)
    assert (got.false_alarms, got.false_alarms_raised) == (2, ["cat"])
    assert (got.true_alarms, got.true_alarms_missed) == (1, ["fall"])


def test_quieter_rules_raise_no_false_alarm_and_miss_no_true_one() -> None:
    got = score(LABELS, [Incident("lobby", 11_000, 12_000)])
    assert got.false_alarms_raised == [] and got.true_alarms_missed == []


def test_labels_round_trip_through_json_lines(tmp_path: Path) -> None:
    path = tmp_path / "labels.jsonl"
    assert write_labels(LABELS, path) == 4
    assert load_labels(path) == LABELS
    path.write_text(path.read_text() + '{"anomaly_id": "x"}\n')
    with pytest.raises(ValueError, match=r"labels\.jsonl:5"):
        load_labels(path)
