"""Leftovers the stack reports on: registry subjects of topics that no longer exist (runs that deleted their topics
but not their schemas, or topics removed by hand)."""

from __future__ import annotations

from anomaly_core.settings import KafkaSettings


def stale_subjects(kafka: KafkaSettings, timeout_s: float) -> list[str] | None:
    """Registry subjects (TopicNameStrategy) whose topic is gone; None when Kafka or the registry does not answer."""
    from confluent_kafka import KafkaException

    from anomaly_core.admin import admin_client, orphan_subjects
    from anomaly_core.errors import TransientError
    from anomaly_core.kafka_logs import silent_logger
    from anomaly_core.registry import RegistryClient, SchemaRegistryError

    try:
        # Subjects first: a topic is created before its subject is registered, so a subject that is new while this
        # runs already has its topic in the listing that follows, and is never taken for a stale one.
        with RegistryClient(kafka.schema_registry_url, timeout_s=timeout_s) as registry:
            subjects = registry.subjects()
        topics = admin_client(kafka, logger=silent_logger("devstack.librdkafka")).list_topics(timeout=timeout_s).topics
    except (KafkaException, TransientError, SchemaRegistryError):
        return None
    return orphan_subjects(subjects, topics)
