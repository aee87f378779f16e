from datetime import UTC, datetime, timedelta

from anomaly_core.settings import ObjectStoreSettings, RetentionSettings
from producers.retention import BucketRetention, StoredObject, plan_sweep, retention_plan

NOW = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)


def obj(key: str, age: timedelta, size: int = 10) -> StoredObject:
    return StoredObject(key, NOW - age, size)


def test_plan_follows_the_settings_and_rounds_audio_hours_up_to_days():
    plan = retention_plan(
        ObjectStoreSettings.model_construct(),
        RetentionSettings(
            VIDEO_RETENTION_DAYS=7, AUDIO_CHUNK_RETENTION_HOURS=30, EVIDENCE_RETENTION_DAYS=90, ANOMALY_FRAME_LIMIT=5
        ),
    )
    by = {r.purpose: r for r in plan}
    assert by["frames"].bucket == "anomaly-frames" and by["frames"].lifecycle_days == 7
    assert by["audio"].max_age == timedelta(hours=30) and by["audio"].lifecycle_days == 2
    assert by["evidence"].lifecycle_days == 90 and by["evidence"].max_objects == 5
    assert by["frames"].max_objects is None


def test_short_audio_retention_is_still_at_least_one_day_in_the_rule():
    assert BucketRetention("b", "audio", timedelta(hours=1)).lifecycle_days == 1


def test_sweep_deletes_only_what_is_older_than_the_retention():
    rule = BucketRetention("b", "audio", timedelta(hours=24))
    objects = [obj("new", timedelta(hours=23)), obj("old", timedelta(hours=25)), obj("edge", timedelta(hours=24))]
    expired, over = plan_sweep(objects, rule, NOW)
    assert [o.key for o in expired] == ["old"] and over == []


def test_sweep_keeps_the_newest_objects_within_the_frame_limit():
    rule = BucketRetention("ev", "evidence", timedelta(days=90), max_objects=2)
    objects = [obj(f"k{i}", timedelta(minutes=i)) for i in range(5)] + [obj("ancient", timedelta(days=100))]
    expired, over = plan_sweep(objects, rule, NOW)
    assert [o.key for o in expired] == ["ancient"]
    assert sorted(o.key for o in over) == ["k2", "k3", "k4"]
