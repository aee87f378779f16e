"""A run's Kafka footprint: its topics under a prefix, created before the services start and, for a run of its
own (``anomaly analyze``), dropped with their registry subjects and its consumer groups once it is done."""

from __future__ import annotations

import sys
from collections.abc import Sequence

from confluent_kafka import KafkaException

from anomaly_core.admin import admin_client, create_topics, delete_topic_subjects, delete_topics
from anomaly_core.errors import TransientError
from anomaly_core.kafka_logs import client_logger
from anomaly_core.registry import RegistryClient, SchemaRegistryError
from anomaly_core.settings import KafkaSettings
from anomaly_core.topics import build_catalog
from runs.errors import PlatformError


def create_run_topics(kafka: KafkaSettings, prefix: str) -> None:
    """Every catalog topic under ``prefix`` (those that exist already are kept)."""
    try:
        admin = admin_client(kafka, logger=client_logger())
        create_topics(admin, build_catalog(kafka, prefix=prefix), replication=kafka.replication_factor)
    except KafkaException as exc:
        raise PlatformError(f"could not create the topics under prefix {prefix!r}: {exc}") from exc


def delete_run(kafka: KafkaSettings, prefix: str, groups: Sequence[str]) -> None:
    """Drops a finished run's topics, their registry subjects and its consumer groups; its anomalies stay in the
    PostgreSQL projection."""
    admin = admin_client(kafka, logger=client_logger())
    try:
        topics = [t for t in admin.list_topics(timeout=10).topics if t.startswith(prefix)]
        delete_topics(admin, topics)
        with RegistryClient(kafka.schema_registry_url) as registry:
            delete_topic_subjects(registry, topics)
        if groups:
            for future in admin.delete_consumer_groups(list(groups), request_timeout=30).values():
                future.result(timeout=30)
    except (KafkaException, TimeoutError, TransientError, SchemaRegistryError) as exc:
        # A leftover of a finished run is harmless; say so and carry on.
        print(f"note: could not remove every topic/group of the run: {exc}", file=sys.stderr)
