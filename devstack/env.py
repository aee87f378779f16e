"""The connection settings of the stack as one value: what `stack env` prints and tests receive."""

from __future__ import annotations

from dataclasses import dataclass

from anomaly_core.settings import DatabaseSettings, KafkaSettings, ObjectStoreSettings


@dataclass(frozen=True)
class StackEnv:
    kafka_bootstrap_servers: str
    schema_registry_url: str
    database_url: str
    s3_endpoint_url: str
    s3_access_key: str
    s3_secret_key: str
    s3_region: str

    @classmethod
    def from_settings(cls, kafka: KafkaSettings, db: DatabaseSettings, s3: ObjectStoreSettings) -> StackEnv:
        return cls(
            kafka_bootstrap_servers=kafka.bootstrap_servers,
            schema_registry_url=kafka.schema_registry_url,
            database_url=db.url.get_secret_value(),
            s3_endpoint_url=s3.endpoint_url,
            s3_access_key=s3.access_key.get_secret_value(),
            s3_secret_key=s3.secret_key.get_secret_value(),
            s3_region=s3.region,
        )

    @classmethod
    def from_env(cls) -> StackEnv:
        return cls.from_settings(KafkaSettings(), DatabaseSettings(), ObjectStoreSettings())

    def variables(self) -> dict[str, str]:
        """KEY -> value, with the names the services read."""
        return {
            "KAFKA_BOOTSTRAP_SERVERS": self.kafka_bootstrap_servers,
            "SCHEMA_REGISTRY_URL": self.schema_registry_url,
            "DATABASE_URL": self.database_url,
            "S3_ENDPOINT_URL": self.s3_endpoint_url,
            "S3_ACCESS_KEY": self.s3_access_key,
            "S3_SECRET_KEY": self.s3_secret_key,
        }
