"""The topic catalog: names, co-partitioning, retention from settings, prefixes."""

from __future__ import annotations

import dataclasses

import pytest

from anomaly_core.settings import KafkaSettings, RetentionSettings
from anomaly_core.topics import (
    ANOMALIES,
    ANOMALY_ACTIONS,
    DLQ,
    MEDIA_AUDIO,
    MEDIA_FRAMES,
    TOPICS,
    build_catalog,
    spec_for,
    topic_name,
)

CONTRACT = {
    "media.frames.v1",
    "media.audio.v1",
    "scores.pose.v1",
    "scores.scene.v1",
    "scores.audio.v1",
    "scores.caption.v1",
    "anomalies.v1",
    "anomalies.candidates.v1",
    "anomalies.actions.v1",
    "dlq.v1",
}


def test_catalog_holds_every_contract_topic_once() -> None:
    names = [spec.name for spec in TOPICS]
    assert set(names) >= CONTRACT
    assert len(names) == len(set(names))


def test_specs_are_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        TOPICS[0].partitions = 1  # type: ignore[misc]


def test_media_scores_and_anomalies_are_co_partitioned() -> None:
    counts = {spec.partitions for spec in TOPICS if spec.name.split(".")[0] in ("media", "scores", "anomalies")}
    assert counts == {6}


def test_keys_are_camera_ids() -> None:
    assert all(spec.key == "camera_id" for spec in TOPICS if spec.name in CONTRACT)


def test_value_records_match_the_contract() -> None:
    assert spec_for(MEDIA_FRAMES).value_record == "FrameRef"
    assert spec_for(MEDIA_AUDIO).value_record == "AudioChunkRef"
    assert spec_for(ANOMALIES).value_record == "AnomalyEvent"
    assert spec_for(ANOMALY_ACTIONS).value_record == "AnomalyAction"
    assert spec_for(DLQ).value_record == "DeadLetter"


def test_retention_comes_from_settings() -> None:
    kafka = KafkaSettings(KAFKA_TOPIC_PARTITIONS=3)
    retention = RetentionSettings(VIDEO_RETENTION_DAYS=2, AUDIO_CHUNK_RETENTION_HOURS=5)
    catalog = build_catalog(kafka, retention, prefix="")
    by_name = {spec.name: spec for spec in catalog}
    assert by_name[MEDIA_FRAMES].retention_ms == 2 * 86_400_000
    assert by_name[MEDIA_AUDIO].retention_ms == 5 * 3_600_000
    assert by_name[ANOMALIES].retention_ms == -1  # the source of truth for the projection is never expired
    assert by_name[ANOMALY_ACTIONS].retention_ms == -1  # so are the operator actions the projection applies
    assert {spec.partitions for spec in catalog} == {3}


def test_prefix_from_settings_or_argument() -> None:
    kafka = KafkaSettings(KAFKA_TOPIC_PREFIX="dev.")
    assert all(spec.name.startswith("dev.") for spec in build_catalog(kafka, RetentionSettings()))
    assert all(spec.name.startswith("t1.") for spec in build_catalog(kafka, RetentionSettings(), prefix="t1."))


def test_topic_name_prefixes_known_names_only() -> None:
    assert topic_name(MEDIA_FRAMES) == "media.frames.v1"
    assert topic_name(MEDIA_FRAMES, "t1234abcd.") == "t1234abcd.media.frames.v1"
    with pytest.raises(ValueError, match="unknown topic"):
        topic_name("media.frame.v1")


def test_config_is_what_the_broker_takes() -> None:
    spec = spec_for(DLQ)
    assert spec.config() == {"retention.ms": str(spec.retention_ms), "cleanup.policy": "delete"}
    assert spec.prefixed("x.").name == "x.dlq.v1" and spec.prefixed("x.").partitions == spec.partitions
