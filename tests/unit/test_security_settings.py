"""Encryption and TLS settings (pure): the stack's KMS key, bucket encryption rules, Kafka/PostgreSQL/S3 TLS."""

from __future__ import annotations

import base64
import stat
from pathlib import Path

import pytest
from pydantic import ValidationError

from anomaly_core.objectstore import encryption_of, sse_config
from anomaly_core.settings import DatabaseSettings, KafkaSettings, ObjectStoreSettings
from devstack import kms_key
from devstack.errors import StackError


def test_kms_key_is_generated_once_private_and_random(tmp_path: Path) -> None:
    path = tmp_path / "stack" / "minio-kms.key"
    first = kms_key.ensure_key(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert kms_key.ensure_key(path) == first  # never overwritten
    name, raw = kms_key.parse_key(first)
    assert name == kms_key.KEY_NAME and len(raw) == 32
    assert kms_key.ensure_key(tmp_path / "other.key") != first  # one per stack, never a fixed value


def test_kms_key_refuses_bad_or_exposed_files(tmp_path: Path) -> None:
    for bad in ("no-colon", "k:not base64!", f"k:{base64.b64encode(b'short').decode()}", ":" + "A" * 44):
        with pytest.raises(ValueError):
            kms_key.parse_key(bad)
    path = tmp_path / "k.key"
    kms_key.ensure_key(path)
    path.chmod(0o644)
    with pytest.raises(StackError, match="readable by others"):
        kms_key.read_key(path)
    path.chmod(0o600)
    path.write_text("garbage\n")
    with pytest.raises(StackError, match="unusable"):
        kms_key.read_key(path)


def test_bucket_encryption_rules() -> None:
    assert sse_config("off") is None
    s3 = sse_config("s3")
    assert s3 is not None and s3.rule.sse_algorithm == "AES256"
    kms = sse_config("kms", "arn:aws:kms:eu-west-1:1:key/abc")
    assert kms is not None and kms.rule.sse_algorithm == "aws:kms"
    assert kms.rule.kms_master_key_id == "arn:aws:kms:eu-west-1:1:key/abc"
    with pytest.raises(ValueError):
        sse_config("kms")
    assert encryption_of({"X-Amz-Server-Side-Encryption": "aws:kms"}) == "aws:kms"
    assert encryption_of({"Content-Type": "image/jpeg"}) is None


def test_object_store_encryption_and_tls_settings(tmp_path: Path) -> None:
    assert ObjectStoreSettings().sse == "s3"  # encrypted unless turned off
    with pytest.raises(ValidationError, match="S3_SSE_KMS_KEY_ID"):
        ObjectStoreSettings(S3_SSE="kms")
    ca = tmp_path / "ca.pem"
    ca.write_text("-----BEGIN CERTIFICATE-----\n")
    with pytest.raises(ValidationError, match="not https"):
        ObjectStoreSettings(S3_CA_BUNDLE=ca)
    assert ObjectStoreSettings(S3_ENDPOINT_URL="https://minio.internal", S3_CA_BUNDLE=ca).ca_bundle == ca


def test_kafka_sasl_ssl_needs_credentials_and_passes_the_ca(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="KAFKA_SASL_MECHANISM, KAFKA_SASL_USERNAME"):
        KafkaSettings(KAFKA_SECURITY_PROTOCOL="SASL_SSL", KAFKA_SASL_USERNAME="svc")
    with pytest.raises(ValidationError, match="does not use SASL"):
        KafkaSettings(KAFKA_SASL_MECHANISM="SCRAM-SHA-512")
    with pytest.raises(ValidationError):
        KafkaSettings(KAFKA_SECURITY_PROTOCOL="TLS")
    ca = tmp_path / "ca.pem"
    ca.write_text("-----BEGIN CERTIFICATE-----\n")
    kafka = KafkaSettings(
        KAFKA_SECURITY_PROTOCOL="sasl_ssl",
        KAFKA_SASL_MECHANISM="scram-sha-512",
        KAFKA_SASL_USERNAME="svc",
        KAFKA_SASL_PASSWORD="s3cret-from-a-vault",
        KAFKA_SSL_CA_LOCATION=ca,
    )
    conf = kafka.client_config()
    assert conf["security.protocol"] == "SASL_SSL" and conf["sasl.mechanism"] == "SCRAM-SHA-512"
    assert conf["ssl.ca.location"] == str(ca)
    assert "ssl.ca.location" not in KafkaSettings().client_config()


def test_database_sslmode_is_validated_and_folded_into_the_url(tmp_path: Path) -> None:
    url = "postgresql://svc@db.example:5432/anomaly"
    assert DatabaseSettings(DATABASE_URL=url).url.get_secret_value() == url
    assert DatabaseSettings(DATABASE_URL=url + "?sslmode=require").url.get_secret_value().endswith("sslmode=require")
    with pytest.raises(ValidationError, match="sslmode='required'"):
        DatabaseSettings(DATABASE_URL=url + "?sslmode=required")
    with pytest.raises(ValidationError, match="DATABASE_SSLROOTCERT"):
        DatabaseSettings(DATABASE_URL=url, DATABASE_SSLMODE="verify-full")
    ca = tmp_path / "rds-ca.pem"
    ca.write_text("-----BEGIN CERTIFICATE-----\n")
    db = DatabaseSettings(
        DATABASE_URL=url + "?sslmode=disable", DATABASE_SSLMODE="verify-full", DATABASE_SSLROOTCERT=ca
    )
    assert db.url.get_secret_value() == f"{url}?sslmode=verify-full&sslrootcert={str(ca).replace('/', '%2F')}"
