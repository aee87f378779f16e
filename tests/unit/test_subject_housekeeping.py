"""Which registry subjects belong to which topics (pure)."""

from __future__ import annotations

from anomaly_core.admin import orphan_subjects, subjects_of_topics
from anomaly_core.registry import topic_of


def test_topic_of_a_subject() -> None:
    assert topic_of("run1.media.frames.v1-value") == "run1.media.frames.v1"
    assert topic_of("anomalies.v1-key") == "anomalies.v1"
    assert topic_of("schemas.AnomalyEvent") is None  # another naming strategy: never ours to judge
    assert topic_of("-value") is None


def test_subjects_of_topics_and_orphans() -> None:
    subjects = ["a.v1-value", "a.v1-key", "b.v1-value", "gone.v1-value", "record.Name"]
    assert subjects_of_topics(subjects, ["a.v1"]) == ["a.v1-key", "a.v1-value"]
    assert orphan_subjects(subjects, ["a.v1", "b.v1"]) == ["gone.v1-value"]
    assert orphan_subjects(subjects, []) == ["a.v1-key", "a.v1-value", "b.v1-value", "gone.v1-value"]
