"""Settings of the fusion worker and the projection sink (environment names ``FUSION_*``/``PROJECTION_*``).

Topic names and the topic prefix come from ``KafkaSettings`` (``KAFKA_TOPIC_PREFIX``); group ids are prefixed
the same way, so tests running with private topics also get private consumer groups.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class _Env(BaseSettings):
    model_config = SettingsConfigDict(env_file=None, extra="ignore", populate_by_name=True)


class FusionSettings(_Env):
    rules_path: Path | None = Field(None, alias="FUSION_RULES", description="Rules file; the packaged one if unset.")
    group_id: str = Field("fusion", alias="FUSION_GROUP_ID")
    max_batch: int = Field(1000, alias="FUSION_MAX_BATCH", ge=1)
    max_wait_ms: int = Field(10, alias="FUSION_MAX_WAIT_MS", ge=1)
    # Every camera's state is checkpointed and the offsets committed at least this often (and at once whenever an
    # anomaly revision is published, before it is sent).
    checkpoint_ms: int = Field(1000, alias="FUSION_CHECKPOINT_MS", ge=50)
    tick_ms: int = Field(500, alias="FUSION_TICK_MS", ge=50, description="How often idle cameras are looked at.")
    liveness_timeout_s: float = Field(60.0, alias="FUSION_LIVENESS_TIMEOUT", gt=0)
    liveness_file: Path | None = Field(None, alias="FUSION_LIVENESS_FILE")
    # When true, scores of cameras missing from the `cameras` table are dead-lettered as unknown.
    require_registered_cameras: bool = Field(False, alias="FUSION_REQUIRE_REGISTERED_CAMERAS")
    camera_refresh_s: float = Field(30.0, alias="FUSION_CAMERA_REFRESH_S", gt=0)
    ack_timeout_s: float = Field(30.0, alias="FUSION_ACK_TIMEOUT_S", gt=0)
    metrics_port: int = Field(0, alias="FUSION_METRICS_PORT", ge=0, le=65535)
    # Static group membership: a worker restarted with the same id (after a crash or a deploy) takes its
    # partitions back at once instead of waiting for the session of its previous life to time out.
    instance_id: str | None = Field(None, alias="FUSION_INSTANCE_ID")
    # While a backlog is read, an input partition running this far ahead (event time) of a sibling with records
    # left is paused (see align.py); 0 turns alignment off. At least an audio chunk's length.
    align_ms: int = Field(3000, alias="FUSION_ALIGN_MS", ge=0)
    session_timeout_ms: int = Field(10_000, alias="FUSION_SESSION_TIMEOUT_MS", ge=1000)


class ProjectionSettings(_Env):
    group_id: str = Field("projection", alias="PROJECTION_GROUP_ID")
    max_batch: int = Field(500, alias="PROJECTION_MAX_BATCH", ge=1)
    max_wait_ms: int = Field(10, alias="PROJECTION_MAX_WAIT_MS", ge=1)
    metrics_port: int = Field(0, alias="PROJECTION_METRICS_PORT", ge=0, le=65535)
