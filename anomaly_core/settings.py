"""Typed settings read from the environment (names match the deployment doc).

Each service builds the settings it needs in its own ``main()``; nothing here connects anywhere.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal, Self, get_args
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

KafkaProtocol = Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"]
KafkaSaslMechanism = Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"]
SslMode = Literal["disable", "allow", "prefer", "require", "verify-ca", "verify-full"]


#: ``DEVICE``: where the processors run their models (``processors.device``).
DeviceSetting = Literal["auto", "cpu", "cuda"]


class _Env(BaseSettings):
    model_config = SettingsConfigDict(env_file=None, extra="ignore", populate_by_name=True)


class KafkaSettings(_Env):
    """Where the brokers and the schema registry are."""

    bootstrap_servers: str = Field("127.0.0.1:19092", alias="KAFKA_BOOTSTRAP_SERVERS")
    schema_registry_url: str = Field("http://127.0.0.1:18081/apis/ccompat/v7", alias="SCHEMA_REGISTRY_URL")
    security_protocol: KafkaProtocol = Field("PLAINTEXT", alias="KAFKA_SECURITY_PROTOCOL")
    sasl_mechanism: KafkaSaslMechanism | None = Field(None, alias="KAFKA_SASL_MECHANISM")
    sasl_username: str | None = Field(None, alias="KAFKA_SASL_USERNAME")
    sasl_password: SecretStr | None = Field(None, alias="KAFKA_SASL_PASSWORD")
    # CA certificates that sign the brokers' certificates (SSL, SASL_SSL); the system's CAs when unset.
    ssl_ca_location: Path | None = Field(None, alias="KAFKA_SSL_CA_LOCATION")
    topic_partitions: int = Field(6, alias="KAFKA_TOPIC_PARTITIONS", ge=1)
    replication_factor: int = Field(1, alias="KAFKA_REPLICATION_FACTOR", ge=1)
    topic_prefix: str = Field("", alias="KAFKA_TOPIC_PREFIX")
    # Where a consumer group with no committed offsets starts: a processor or fusion worker joining a running
    # system starts at the live end (history is what `anomaly replay` is for); `earliest` for a first deployment
    # or a rebuild. A group with committed offsets always continues from them.
    consumer_start: Literal["latest", "earliest"] = Field("latest", alias="CONSUMER_START")

    @field_validator("security_protocol", "sasl_mechanism", mode="before")
    @classmethod
    def _upper(cls, value: object) -> object:
        return value.strip().upper() if isinstance(value, str) else value

    @model_validator(mode="after")
    def _security_is_complete(self) -> Self:
        sasl = self.security_protocol.startswith("SASL")
        if sasl and not (self.sasl_mechanism and self.sasl_username and self.sasl_password):
            raise ValueError(
                f"KAFKA_SECURITY_PROTOCOL={self.security_protocol} needs KAFKA_SASL_MECHANISM, KAFKA_SASL_USERNAME"
                " and KAFKA_SASL_PASSWORD"
            )
        if not sasl and self.sasl_mechanism:
            raise ValueError(
                f"KAFKA_SASL_MECHANISM is set but KAFKA_SECURITY_PROTOCOL={self.security_protocol} does not use SASL"
                " (SASL_SSL in production)"
            )
        if self.ssl_ca_location is not None and not self.ssl_ca_location.is_file():
            raise ValueError(f"KAFKA_SSL_CA_LOCATION {self.ssl_ca_location} is not a file")
        return self

    @property
    def uses_tls(self) -> bool:
        return self.security_protocol in ("SSL", "SASL_SSL")

    def client_config(self) -> dict[str, str]:
        """librdkafka settings shared by producers and consumers."""
        conf = {"bootstrap.servers": self.bootstrap_servers, "security.protocol": self.security_protocol}
        if self.sasl_mechanism:
            conf["sasl.mechanism"] = self.sasl_mechanism
            conf["sasl.username"] = self.sasl_username or ""
            conf["sasl.password"] = self.sasl_password.get_secret_value() if self.sasl_password else ""
        if self.uses_tls and self.ssl_ca_location is not None:
            conf["ssl.ca.location"] = str(self.ssl_ca_location)
        return conf


class DatabaseSettings(_Env):
    url: SecretStr = Field(SecretStr("postgresql://anomaly@127.0.0.1:15432/anomaly"), alias="DATABASE_URL")
    pool_size: int = Field(5, alias="DATABASE_POOL_SIZE", ge=1)
    # TLS to PostgreSQL: set here or as ?sslmode=...&sslrootcert=... in DATABASE_URL; these win over the URL and
    # are folded into it, so every connection (services, migrations, the API pool) uses the same rule.
    sslmode: SslMode | None = Field(None, alias="DATABASE_SSLMODE")
    sslrootcert: Path | None = Field(None, alias="DATABASE_SSLROOTCERT")

    @model_validator(mode="after")
    def _tls_in_url(self) -> Self:
        url = self.url.get_secret_value()
        parts = urlsplit(url)
        query = dict(parse_qsl(parts.query, keep_blank_values=True))
        if self.sslmode is not None:
            query["sslmode"] = self.sslmode
        if self.sslrootcert is not None:
            if not self.sslrootcert.is_file():
                raise ValueError(f"DATABASE_SSLROOTCERT {self.sslrootcert} is not a file")
            query["sslrootcert"] = str(self.sslrootcert)
        mode = query.get("sslmode")
        if mode is not None and mode not in get_args(SslMode):
            raise ValueError(f"sslmode={mode!r} in DATABASE_URL is not one of {', '.join(get_args(SslMode))}")
        if mode in ("verify-ca", "verify-full") and "sslrootcert" not in query:
            raise ValueError(f"sslmode={mode} needs the server's CA: set DATABASE_SSLROOTCERT")
        updated = urlunsplit(parts._replace(query=urlencode(query)))
        if updated != url and (self.sslmode is not None or self.sslrootcert is not None):
            self.url = SecretStr(updated)
        return self


class ObjectStoreSettings(_Env):
    endpoint_url: str = Field("http://127.0.0.1:19000", alias="S3_ENDPOINT_URL")
    access_key: SecretStr = Field(SecretStr("anomaly-dev"), alias="S3_ACCESS_KEY")
    secret_key: SecretStr = Field(SecretStr("anomaly-dev-secret"), alias="S3_SECRET_KEY")
    region: str = Field("us-east-1", alias="S3_REGION")
    frames_bucket: str = Field("anomaly-frames", alias="S3_FRAMES_BUCKET")
    audio_bucket: str = Field("anomaly-audio", alias="S3_AUDIO_BUCKET")
    evidence_bucket: str = Field("anomaly-evidence", alias="S3_EVIDENCE_BUCKET")
    # Default server-side encryption given to a bucket the platform creates: "s3" is the store's own key (on the
    # embedded stack, MinIO's KMS key), "kms" names a key (S3_SSE_KMS_KEY_ID: an AWS KMS key ARN, or a MinIO KMS
    # key name). Buckets made by Terraform carry their own rule (SSE-KMS with the module's key).
    sse: Literal["off", "s3", "kms"] = Field("s3", alias="S3_SSE")
    sse_kms_key_id: str | None = Field(None, alias="S3_SSE_KMS_KEY_ID")
    # CA certificates that sign an https S3_ENDPOINT_URL's certificate; the system's CAs when unset.
    ca_bundle: Path | None = Field(None, alias="S3_CA_BUNDLE")

    @model_validator(mode="after")
    def _encryption_is_complete(self) -> Self:
        if self.sse == "kms" and not self.sse_kms_key_id:
            raise ValueError("S3_SSE=kms needs S3_SSE_KMS_KEY_ID (the KMS key ARN, or the MinIO KMS key name)")
        if self.ca_bundle is not None:
            if not self.endpoint_url.startswith("https://"):
                raise ValueError(f"S3_CA_BUNDLE is set but S3_ENDPOINT_URL {self.endpoint_url} is not https")
            if not self.ca_bundle.is_file():
                raise ValueError(f"S3_CA_BUNDLE {self.ca_bundle} is not a file")
        return self


class ProcessingSettings(_Env):
    """Knobs of the deployment doc's 'Performance Optimization Settings'."""

    fast_mode: bool = Field(False, alias="FAST_MODE")
    frame_processing_rate: float = Field(1.0, alias="FRAME_PROCESSING_RATE", gt=0)
    frame_skip_rate: int = Field(0, alias="FRAME_SKIP_RATE", ge=0)
    # The producer's motion gate (producers/motion.py): pose gets up to POSE_FRAME_RATE while there is motion
    # (and POSE_HOLD_SECONDS after it), the base rate otherwise (0: base rate only); the scene stage skips base
    # frames that did not change, but gets one at least every SCENE_MAX_INTERVAL_SECONDS (0: never skips).
    pose_frame_rate: float = Field(5.0, alias="POSE_FRAME_RATE", ge=0)
    pose_hold_seconds: float = Field(2.0, alias="POSE_HOLD_SECONDS", ge=0)
    scene_max_interval_seconds: float = Field(10.0, alias="SCENE_MAX_INTERVAL_SECONDS", ge=0)
    # Share of pixels of the 64 px wide grey thumbnail that must change (by > 12 grey levels) to count as motion.
    motion_threshold: float = Field(0.003, alias="MOTION_THRESHOLD", gt=0, le=1)
    jpeg_quality: int = Field(85, alias="JPEG_QUALITY", ge=10, le=100)
    audio_chunk_seconds: float = Field(2.0, alias="AUDIO_CHUNK_SECONDS", gt=0)
    torch_num_threads: int = Field(2, alias="TORCH_NUM_THREADS", ge=1)
    max_workers: int = Field(2, alias="MAX_WORKERS", ge=1)
    model_cache_dir: Path = Field(Path("models"), alias="MODEL_CACHE_DIR")
    clip_model: str = Field("openai/clip-vit-base-patch32", alias="CLIP_MODEL")
    blip_model: str = Field("Salesforce/blip-image-captioning-base", alias="BLIP_MODEL")
    whisper_model: str = Field("tiny", alias="WHISPER_MODEL")
    # Where CLIP, BLIP and Whisper run (processors/device.py): auto takes a GPU when the runtime sees one.
    device: DeviceSetting = Field("auto", alias="DEVICE")


class RetentionSettings(_Env):
    video_retention_days: int = Field(7, alias="VIDEO_RETENTION_DAYS", ge=1)
    anomaly_frame_limit: int = Field(1000, alias="ANOMALY_FRAME_LIMIT", ge=1)
    audio_chunk_retention_hours: int = Field(24, alias="AUDIO_CHUNK_RETENTION_HOURS", ge=1)
    evidence_retention_days: int = Field(90, alias="EVIDENCE_RETENTION_DAYS", ge=1)


class MetricsSettings(_Env):
    port: int = Field(0, alias="METRICS_PORT", ge=0, le=65535)
    log_level: str = Field("INFO", alias="LOG_LEVEL")
    log_json: bool = Field(False, alias="LOG_JSON")


class ApiSettings(_Env):
    host: str = Field("127.0.0.1", alias="API_HOST")
    port: int = Field(8000, alias="API_PORT", ge=1, le=65535)
    workers: int = Field(1, alias="API_WORKERS", ge=1)
    cors_origins: list[str] = Field(default_factory=list, alias="CORS_ALLOWED_ORIGINS")
    jwt_secret: SecretStr | None = Field(None, alias="JWT_SECRET")
    max_concurrent_connections: int = Field(10, alias="MAX_CONCURRENT_CONNECTIONS", ge=1)
    websocket_timeout: int = Field(300, alias="WEBSOCKET_TIMEOUT", ge=1)
    rate_limit_per_minute: int = Field(600, alias="API_RATE_LIMIT_PER_MINUTE", ge=1)
    presign_seconds: int = Field(300, alias="EVIDENCE_URL_TTL_SECONDS", ge=1)


class StackSettings(_Env):
    """Where the embedded local stack (``anomaly stack``) keeps its processes, data and downloads.

    The service addresses are not here: they come from the connection settings above
    (KAFKA_BOOTSTRAP_SERVERS, SCHEMA_REGISTRY_URL, DATABASE_URL, S3_ENDPOINT_URL), so a service and its
    clients can never disagree about a port, and a non-local address means "use that one, start nothing".
    """

    # Relative paths are taken from the checkout root, so every command of one checkout sees one stack.
    dir: Path = Field(Path(".stack"), alias="STACK_DIR")
    # Shared by all checkouts of this user: downloads and builds are reused by a fresh clone.
    cache_dir: Path = Field(Path.home() / ".cache" / "anomaly", alias="ANOMALY_CACHE_DIR")
    kafka_controller_port: int = Field(19093, alias="STACK_KAFKA_CONTROLLER_PORT", ge=1, le=65535)
    kafka_heap: str = Field("512m", alias="STACK_KAFKA_HEAP")
    registry_heap: str = Field("384m", alias="STACK_REGISTRY_HEAP")
    java: str = Field("java", alias="STACK_JAVA")
    maven: str = Field("mvn", alias="STACK_MAVEN")
    go: str = Field("go", alias="STACK_GO")
    pg_bin_dir: Path = Field(Path("/usr/lib/postgresql/15/bin"), alias="STACK_PG_BIN_DIR")
    # PostgreSQL refuses to run as root; when the stack is started by root it runs as this OS user.
    pg_os_user: str = Field("postgres", alias="STACK_PG_OS_USER")
    start_timeout_s: float = Field(180.0, alias="STACK_START_TIMEOUT", gt=0)
    stop_timeout_s: float = Field(30.0, alias="STACK_STOP_TIMEOUT", gt=0)


class MqttSettings(_Env):
    """The MQTT broker the embedded stack runs (Mosquitto); notification targets name their broker themselves."""

    url: str = Field("mqtt://127.0.0.1:11883", alias="MQTT_URL")
