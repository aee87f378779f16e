"""Media retention: bucket lifecycle rules (the store expires objects itself) and an on-demand sweep.

- frames bucket: ``VIDEO_RETENTION_DAYS``
- audio bucket: ``AUDIO_CHUNK_RETENTION_HOURS`` (lifecycle rules count whole days, so the rule rounds up;
  the sweep applies the exact number of hours)
- evidence bucket: ``EVIDENCE_RETENTION_DAYS``, and at most ``ANOMALY_FRAME_LIMIT`` objects (the sweep deletes
  the oldest beyond the limit; lifecycle rules cannot count)

Planning is pure (``retention_plan``, ``plan_sweep``); ``apply_lifecycle`` and ``sweep_bucket`` do the IO.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from minio import Minio
from minio.commonconfig import ENABLED, Filter
from minio.deleteobjects import DeleteObject
from minio.lifecycleconfig import AbortIncompleteMultipartUpload, Expiration, LifecycleConfig, Rule

from anomaly_core.settings import ObjectStoreSettings, RetentionSettings

RULE_ID = "anomaly-retention"
_DELETE_BATCH = 1000


@dataclass(frozen=True)
class BucketRetention:
    bucket: str
    purpose: str
    max_age: timedelta
    max_objects: int | None = None

    @property
    def lifecycle_days(self) -> int:
        """Whole days for an S3 expiration rule (at least 1; never expires earlier than ``max_age``)."""
        return max(1, math.ceil(self.max_age / timedelta(days=1)))


@dataclass(frozen=True)
class StoredObject:
    key: str
    last_modified: datetime
    size: int


@dataclass
class SweepResult:
    bucket: str
    scanned: int = 0
    expired: int = 0
    over_limit: int = 0
    bytes_freed: int = 0
    deleted: int = 0
    dry_run: bool = False
    errors: list[str] = field(default_factory=list)
    missing_bucket: bool = False


def retention_plan(store: ObjectStoreSettings, retention: RetentionSettings) -> list[BucketRetention]:
    return [
        BucketRetention(store.frames_bucket, "frames", timedelta(days=retention.video_retention_days)),
        BucketRetention(store.audio_bucket, "audio", timedelta(hours=retention.audio_chunk_retention_hours)),
        BucketRetention(
            store.evidence_bucket,
            "evidence",
            timedelta(days=retention.evidence_retention_days),
            max_objects=retention.anomaly_frame_limit,
        ),
    ]


def plan_sweep(
    objects: Iterable[StoredObject], rule: BucketRetention, now: datetime
) -> tuple[list[StoredObject], list[StoredObject]]:
    """(expired, over the limit): objects older than the rule's age, then the oldest beyond ``max_objects``."""
    cutoff = now - rule.max_age
    expired: list[StoredObject] = []
    kept: list[StoredObject] = []
    for obj in objects:
        (expired if obj.last_modified < cutoff else kept).append(obj)
    over: list[StoredObject] = []
    if rule.max_objects is not None and len(kept) > rule.max_objects:
        # Newest first; the key breaks ties so the choice is stable between runs.
        kept.sort(key=lambda o: (o.last_modified, o.key), reverse=True)
        over = kept[rule.max_objects :]
    return expired, over


def lifecycle_config(rule: BucketRetention) -> LifecycleConfig:
    return LifecycleConfig(
        [
            Rule(
                ENABLED,
                rule_filter=Filter(prefix=""),
                rule_id=RULE_ID,
                expiration=Expiration(days=rule.lifecycle_days),
                abort_incomplete_multipart_upload=AbortIncompleteMultipartUpload(days_after_initiation=1),
            )
        ]
    )


def apply_lifecycle(client: Minio, rule: BucketRetention) -> None:
    """Sets (replaces) the bucket's lifecycle configuration with the retention rule."""
    client.set_bucket_lifecycle(rule.bucket, lifecycle_config(rule))


def current_lifecycle_days(client: Minio, bucket: str) -> int | None:
    config = client.get_bucket_lifecycle(bucket)
    if config is None:
        return None
    for rule in config.rules:
        if rule.rule_id == RULE_ID and rule.expiration is not None:
            days: int | None = rule.expiration.days
            return days
    return None


def list_objects(client: Minio, bucket: str) -> list[StoredObject]:
    return [
        StoredObject(o.object_name, o.last_modified, o.size or 0)
        for o in client.list_objects(bucket, recursive=True)
        if o.object_name is not None and o.last_modified is not None
    ]


def sweep_bucket(client: Minio, rule: BucketRetention, now: datetime, *, dry_run: bool) -> SweepResult:
    """Deletes what ``plan_sweep`` selects (nothing with ``dry_run``) and reports the counts."""
    result = SweepResult(rule.bucket, dry_run=dry_run)
    if not client.bucket_exists(rule.bucket):
        result.missing_bucket = True
        return result
    objects = list_objects(client, rule.bucket)
    expired, over = plan_sweep(objects, rule, now)
    victims = expired + over
    result.scanned, result.expired, result.over_limit = len(objects), len(expired), len(over)
    result.bytes_freed = sum(o.size for o in victims)
    if dry_run:
        return result
    for start in range(0, len(victims), _DELETE_BATCH):
        batch = [DeleteObject(o.key) for o in victims[start : start + _DELETE_BATCH]]
        errors = list(client.remove_objects(rule.bucket, batch))
        result.errors += [f"{e.name}: {e.message}" for e in errors]
        result.deleted += len(batch) - len(errors)
    return result
