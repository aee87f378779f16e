"""The notify worker's settings (environment); the routing itself is the NOTIFY_CONFIG file."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class NotifySettings(BaseSettings):
    model_config = SettingsConfigDict(env_file=None, extra="ignore", populate_by_name=True)

    config_path: Path | None = Field(None, alias="NOTIFY_CONFIG")
    group_id: str = Field("notify", alias="NOTIFY_GROUP_ID")
    metrics_port: int = Field(0, alias="NOTIFY_METRICS_PORT", ge=0, le=65535)
    #: Where the group starts when it has no committed offsets. Not CONSUMER_START: runs read their topics from the
    #: start, but a notifier that joins late must not page people about alerts of the past.
    consumer_start: Literal["latest", "earliest"] = Field("latest", alias="NOTIFY_CONSUMER_START")
    #: How often unacknowledged alerts are checked for a due escalation.
    escalation_poll_s: float = Field(5.0, alias="NOTIFY_ESCALATION_POLL_SECONDS", gt=0)
    #: Lifetime of the presigned evidence URLs in notifications (e-mails are read later than dashboards).
    evidence_url_ttl_s: int = Field(24 * 3600, alias="NOTIFY_EVIDENCE_URL_TTL_SECONDS", ge=60, le=7 * 24 * 3600)
    evidence_public_endpoint: str | None = Field(None, alias="EVIDENCE_PUBLIC_ENDPOINT_URL")
