"""Fixtures for tests that use the real local stack (Kafka, schema registry, PostgreSQL, MinIO).

The stack is the one `anomaly stack up` runs for this checkout (or the external services named by
KAFKA_BOOTSTRAP_SERVERS, SCHEMA_REGISTRY_URL, DATABASE_URL, S3_ENDPOINT_URL); if it is not up, the first
test that needs it starts it. Every test gets its own topics, bucket and database, so tests can run in
any order next to each other and next to a running pipeline.
"""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import replace
from typing import Any

import pytest

from anomaly_core.settings import DatabaseSettings, KafkaSettings, ObjectStoreSettings

# Tests publish into fresh topics before their services join, as a first deployment does.
os.environ.setdefault("CONSUMER_START", "earliest")
from anomaly_core.topics import BASE_NAMES, CAMERA_KEY, TOPICS, TopicSpec, spec_for
from devstack.env import StackEnv


@pytest.fixture(scope="session")
def stack_env() -> StackEnv:
    """The connection settings of a running, healthy stack (started here if needed)."""
    from devstack.manager import Stack

    stack = Stack()
    if not all(row.healthy for row in stack.status()):
        stack.up()
    return StackEnv.from_settings(stack.ctx.kafka, stack.ctx.db, stack.ctx.s3)


@pytest.fixture(scope="session")
def kafka_settings(stack_env: StackEnv) -> KafkaSettings:
    return KafkaSettings(
        KAFKA_BOOTSTRAP_SERVERS=stack_env.kafka_bootstrap_servers, SCHEMA_REGISTRY_URL=stack_env.schema_registry_url
    )


@pytest.fixture(scope="session")
def registry_url(stack_env: StackEnv) -> str:
    """The Confluent-compatible API root of the schema registry."""
    return stack_env.schema_registry_url


@pytest.fixture(scope="session")
def object_store_settings(stack_env: StackEnv) -> ObjectStoreSettings:
    return ObjectStoreSettings(
        S3_ENDPOINT_URL=stack_env.s3_endpoint_url,
        S3_ACCESS_KEY=stack_env.s3_access_key,
        S3_SECRET_KEY=stack_env.s3_secret_key,
    )


@pytest.fixture
def unique_prefix() -> str:
    """A topic prefix no other test uses, e.g. ``t1a2b3c4d.``."""
    return f"t{uuid.uuid4().hex[:8]}."


def _topic_spec(name: str, prefix: str, partitions: int | None) -> TopicSpec:
    """A catalog base name gets the prefix and the catalog's settings; a full name is taken as it is
    (with the catalog's settings when it ends in a catalog name, plain delete/1-day settings otherwise)."""
    if name in BASE_NAMES:
        spec = spec_for(name).prefixed(prefix)
    else:
        base = next((b for b in BASE_NAMES if name.endswith("." + b)), None)
        spec = (
            replace(spec_for(base), name=name)
            if base is not None
            else TopicSpec(name, CAMERA_KEY, "", 86_400_000, TOPICS[0].partitions)
        )
    return replace(spec, partitions=partitions) if partitions is not None else spec


@pytest.fixture
def make_topics(kafka_settings: KafkaSettings, unique_prefix: str) -> Iterator[Callable[..., dict[str, str]]]:
    """``make_topics(["media.frames.v1", ...], partitions=3)`` -> {given name: created topic name}.

    Catalog names (``media.frames.v1``) become private copies under ``unique_prefix`` with the catalog's
    settings; other names are created as given. No names: a prefixed copy of the whole catalog.
    The topics are deleted after the test, with their registry subjects.
    """
    from confluent_kafka.admin import AdminClient

    from anomaly_core.admin import create_topics, delete_topic_subjects, delete_topics
    from anomaly_core.registry import RegistryClient

    admin = AdminClient(kafka_settings.client_config())
    created: list[str] = []

    def make(names: Iterable[str] | None = None, partitions: int | None = None) -> dict[str, str]:
        wanted = list(names) if names is not None else [spec.name for spec in TOPICS]
        specs = {name: _topic_spec(name, unique_prefix, partitions) for name in wanted}
        create_topics(admin, specs.values(), replication=1)
        created.extend(spec.name for spec in specs.values())
        return {name: spec.name for name, spec in specs.items()}

    yield make
    if created:
        delete_topics(admin, created)
        with RegistryClient(kafka_settings.schema_registry_url) as registry:
            delete_topic_subjects(registry, created)


@pytest.fixture
def bucket(object_store_settings: ObjectStoreSettings) -> Iterator[str]:
    """A new, empty MinIO bucket, removed with its objects after the test."""
    from devstack.health import minio_client

    s3 = object_store_settings
    client: Any = minio_client(
        s3.endpoint_url, s3.access_key.get_secret_value(), s3.secret_key.get_secret_value(), s3.region, 10.0
    )
    name = f"t-{uuid.uuid4().hex[:12]}"
    client.make_bucket(name)
    yield name
    for obj in client.list_objects(name, recursive=True):
        client.remove_object(name, obj.object_name)
    client.remove_bucket(name)


@pytest.fixture(scope="module")
def pg_dsn(stack_env: StackEnv, request: pytest.FixtureRequest) -> Iterator[str]:
    """A DSN of a fresh database for this test module on the stack's PostgreSQL, dropped afterwards."""
    from urllib.parse import urlsplit, urlunsplit

    import psycopg
    from psycopg import sql

    module = re.sub(r"[^a-z0-9]+", "_", request.module.__name__.rsplit(".", 1)[-1].lower())[:30]
    name = f"t_{module}_{uuid.uuid4().hex[:8]}"
    parts = urlsplit(stack_env.database_url)
    admin = urlunsplit((parts.scheme, parts.netloc, "/postgres", parts.query, ""))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(sql.SQL("create database {}").format(sql.Identifier(name)))
    yield urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, ""))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(name)))


@pytest.fixture(scope="session")
def database_settings(stack_env: StackEnv) -> DatabaseSettings:
    return DatabaseSettings(DATABASE_URL=stack_env.database_url)
