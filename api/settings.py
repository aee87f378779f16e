"""Settings of the API process: the shared ``ApiSettings`` plus the knobs only the API reads.

Built in ``main()`` (or in the uvicorn worker factory), never at import.
"""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import Field, SecretStr

from anomaly_core.settings import ApiSettings, DatabaseSettings, KafkaSettings, ObjectStoreSettings


class ApiServerSettings(ApiSettings):
    """API settings; env names follow the deployment doc where it names them."""

    # A server-side secret mixed into API key hashes, so a leaked ``api_keys`` table alone cannot be brute-forced.
    api_key_pepper: SecretStr = Field(SecretStr("anomaly-dev-pepper"), alias="API_KEY_PEPPER")
    # Key lookups are cached this long; a revoked key stops working within this many seconds.
    api_key_cache_seconds: float = Field(5.0, alias="API_KEY_CACHE_SECONDS", ge=0)
    rate_limit_burst: int = Field(60, alias="API_RATE_LIMIT_BURST", ge=1)
    max_body_bytes: int = Field(64 * 1024, alias="API_MAX_BODY_BYTES", ge=1)
    limit_concurrency: int = Field(100, alias="API_LIMIT_CONCURRENCY", ge=1)
    limit_max_requests: int = Field(1000, alias="API_LIMIT_MAX_REQUESTS", ge=0)
    ws_queue_size: int = Field(64, alias="API_WS_QUEUE_SIZE", ge=1)
    ws_heartbeat_seconds: float = Field(15.0, alias="API_WS_HEARTBEAT_SECONDS", gt=0)
    ws_auth_timeout_seconds: float = Field(5.0, alias="API_WS_AUTH_TIMEOUT_SECONDS", gt=0)
    db_timeout_seconds: float = Field(2.0, alias="API_DB_TIMEOUT_SECONDS", gt=0)
    statement_timeout_ms: int = Field(5000, alias="API_STATEMENT_TIMEOUT_MS", ge=100)
    # How long an operator action waits for the brokers to acknowledge its event before the answer is a 503.
    kafka_timeout_seconds: float = Field(5.0, alias="API_KAFKA_TIMEOUT_SECONDS", gt=0)
    # Where browsers reach the object store, when that differs from S3_ENDPOINT_URL (presigning is offline).
    evidence_public_endpoint: str | None = Field(None, alias="EVIDENCE_PUBLIC_ENDPOINT_URL")
    live_enabled: bool = Field(True, alias="API_LIVE_ENABLED")


@dataclass(frozen=True)
class AppSettings:
    """Everything ``create_app`` needs, read once per process."""

    api: ApiServerSettings
    db: DatabaseSettings
    kafka: KafkaSettings
    store: ObjectStoreSettings

    @classmethod
    def from_env(cls) -> AppSettings:
        return cls(api=ApiServerSettings(), db=DatabaseSettings(), kafka=KafkaSettings(), store=ObjectStoreSettings())
