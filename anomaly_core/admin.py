"""Topic administration with confluent-kafka's AdminClient: the one way to build one, idempotent create, describe,
delete; and the schema registry subjects that go with the topics."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from anomaly_core.registry import topic_of
from anomaly_core.topics import TopicSpec

if TYPE_CHECKING:
    from confluent_kafka.admin import AdminClient

    from anomaly_core.registry import RegistryClient
    from anomaly_core.settings import KafkaSettings

_TIMEOUT_S = 30.0


def admin_client(kafka: KafkaSettings | Mapping[str, Any], *, logger: logging.Logger | None = None) -> AdminClient:
    """An AdminClient for ``kafka`` (the settings, or a ready librdkafka config). Its log lines go to ``logger``
    when one is given: ``kafka_logs.client_logger()`` for one line per broker outage, ``kafka_logs.silent_logger``
    for none; without one, librdkafka's own (stderr, or the config's ``logger``)."""
    from confluent_kafka.admin import AdminClient

    conf: dict[str, Any] = dict(kafka) if isinstance(kafka, Mapping) else dict(kafka.client_config())
    if logger is not None:
        conf["logger"] = logger
    return AdminClient(conf)


@dataclass(frozen=True)
class TopicInfo:
    name: str
    partitions: int
    retention_ms: int | None
    cleanup_policy: str | None


def create_topics(admin: Any, specs: Iterable[TopicSpec], *, replication: int) -> dict[str, str]:
    """Creates the topics that are missing; returns name -> "created" | "exists"."""
    from confluent_kafka import KafkaError, KafkaException
    from confluent_kafka.admin import NewTopic

    specs = list(specs)
    if not specs:
        return {}
    new = [NewTopic(s.name, s.partitions, replication, config=s.config()) for s in specs]
    outcome: dict[str, str] = {}
    for name, future in admin.create_topics(new, operation_timeout=_TIMEOUT_S, request_timeout=_TIMEOUT_S).items():
        try:
            future.result(_TIMEOUT_S)
            outcome[name] = "created"
        except KafkaException as exc:
            if exc.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
                raise
            outcome[name] = "exists"
    return outcome


def describe_topics(admin: Any, names: Iterable[str] | None = None) -> list[TopicInfo]:
    """Partitions and retention of existing topics (all non-internal topics when ``names`` is None)."""
    from confluent_kafka.admin import ConfigResource, ResourceType

    metadata = admin.list_topics(timeout=_TIMEOUT_S)
    wanted = sorted(names) if names is not None else sorted(t for t in metadata.topics if not t.startswith("_"))
    present = [name for name in wanted if name in metadata.topics]
    configs: dict[str, dict[str, Any]] = {}
    if present:
        resources = [ConfigResource(ResourceType.TOPIC, name) for name in present]
        for resource, future in admin.describe_configs(resources, request_timeout=_TIMEOUT_S).items():
            configs[resource.name] = {key: entry.value for key, entry in future.result(_TIMEOUT_S).items()}
    infos = []
    for name in present:
        conf = configs.get(name, {})
        retention = conf.get("retention.ms")
        infos.append(
            TopicInfo(
                name,
                len(metadata.topics[name].partitions),
                int(retention) if retention is not None else None,
                conf.get("cleanup.policy"),
            )
        )
    return infos


def delete_topics(admin: Any, names: Iterable[str]) -> None:
    """Deletes topics, ignoring those already gone."""
    from confluent_kafka import KafkaError, KafkaException

    names = list(names)
    if not names:
        return
    for future in admin.delete_topics(names, operation_timeout=_TIMEOUT_S, request_timeout=_TIMEOUT_S).values():
        try:
            future.result(_TIMEOUT_S)
        except KafkaException as exc:
            if exc.args[0].code() != KafkaError.UNKNOWN_TOPIC_OR_PART:
                raise


def subjects_of_topics(subjects: Iterable[str], topics: Iterable[str]) -> list[str]:
    """The subjects (TopicNameStrategy) that belong to ``topics``."""
    wanted = set(topics)
    return sorted(s for s in subjects if topic_of(s) in wanted)


def orphan_subjects(subjects: Iterable[str], topics: Iterable[str]) -> list[str]:
    """The subjects (TopicNameStrategy) whose topic is not among ``topics`` (the topics that exist)."""
    existing = set(topics)
    return sorted(s for s in subjects if (topic := topic_of(s)) is not None and topic not in existing)


def delete_topic_subjects(registry: RegistryClient, topics: Iterable[str]) -> list[str]:
    """Deletes the registry subjects of ``topics`` (call it with the topics just deleted); returns those deleted."""
    return [s for s in subjects_of_topics(registry.subjects(), topics) if registry.delete_subject(s)]
