"""Fixtures of the fault-injection suite (``pytest -m chaos``): private topics, a supervisor for the services under
test, the stack's own services as fault targets, and a migrated database for the projection.

The stack fixtures (``make_topics``, ``bucket``, ``pg_dsn``, ...) live in tests/conftest.py.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from anomaly_core.db import migrate
from anomaly_core.settings import KafkaSettings, ObjectStoreSettings
from tests.chaos.faults import StackFaults
from tests.chaos.services import Services

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def chaos_kafka(kafka_settings: KafkaSettings, make_topics: Any, unique_prefix: str) -> KafkaSettings:
    """The whole topic catalog under a prefix of this test (the fusion changelog and ``dlq.v1`` included)."""
    make_topics()
    return kafka_settings.model_copy(update={"topic_prefix": unique_prefix})


@pytest.fixture(scope="module")
def chaos_dsn(pg_dsn: str) -> str:
    """A fresh database of this module with the platform's tables (tests tell their rows apart by camera)."""
    migrate(pg_dsn)
    return pg_dsn


def service_env(kafka: KafkaSettings, store: ObjectStoreSettings, **extra: str) -> dict[str, str]:
    """The environment of ``anomaly ...`` services on ``kafka``'s prefixed topics and ``store``."""
    return {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": kafka.bootstrap_servers,
        "SCHEMA_REGISTRY_URL": kafka.schema_registry_url,
        "KAFKA_TOPIC_PREFIX": kafka.topic_prefix,
        "S3_ENDPOINT_URL": store.endpoint_url,
        "S3_ACCESS_KEY": store.access_key.get_secret_value(),
        "S3_SECRET_KEY": store.secret_key.get_secret_value(),
        "LOG_LEVEL": "INFO",
        "METRICS_PORT": "0",
        # The checkout's model cache, wherever pytest runs from (the setting's default is relative).
        "MODEL_CACHE_DIR": os.environ.get("MODEL_CACHE_DIR", str(REPO / "models")),
        **extra,
    }


@pytest.fixture
def services(
    tmp_path: Path, chaos_kafka: KafkaSettings, object_store_settings: ObjectStoreSettings
) -> Iterator[Services]:
    """A supervisor of this test's services; whatever still runs when the test ends is stopped."""
    running = Services(tmp_path / "logs", service_env(chaos_kafka, object_store_settings))
    yield running
    running.stop()


@pytest.fixture
def stack_faults() -> Iterator[StackFaults]:
    """The stack's services as fault targets; the stack must be healthy again when the test ends."""
    faults = StackFaults()
    yield faults
    faults.wait_healthy()
