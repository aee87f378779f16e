"""Consumer-group progress from Kafka: end offsets of topics and the offsets a group has committed on them."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from confluent_kafka import Consumer, KafkaException, TopicPartition

from anomaly_core.admin import admin_client
from anomaly_core.errors import TransientError
from anomaly_core.kafka_logs import client_logger
from anomaly_core.settings import KafkaSettings
from reports.progress import Observation, PartitionKey, lag_observation

# Admin futures are awaited a little longer than their request timeout, so librdkafka fails them itself
# (a KafkaException) while the broker is down: a future given up on while its request is still pending can make
# librdkafka abort the process later. TimeoutError stays caught as the last resort.
_GRACE_S = 5.0


class LagProbe:
    def __init__(self, kafka: KafkaSettings, timeout_s: float = 10.0) -> None:
        # One log line per broker outage, not one per refused connection (a live view redraws over them).
        conf: dict[str, Any] = {**kafka.client_config(), "logger": client_logger()}
        self._conf = conf
        self._timeout = timeout_s
        self._admin = admin_client(conf)
        # Only used for metadata and watermarks; it never subscribes or commits.
        self._consumer = Consumer({**conf, "group.id": f"anomaly-lag-probe-{uuid.uuid4().hex[:12]}"})
        self._readers: dict[str, Consumer] = {}

    def end_offsets(self, topics: Sequence[str]) -> dict[PartitionKey, int]:
        out: dict[PartitionKey, int] = {}
        try:
            for topic in topics:
                meta = self._consumer.list_topics(topic, timeout=self._timeout).topics.get(topic)
                if meta is None or meta.error is not None:
                    continue
                for p in sorted(meta.partitions):
                    _, high = self._consumer.get_watermark_offsets(
                        TopicPartition(topic, p), timeout=self._timeout, cached=False
                    )
                    out[(topic, p)] = high
        except (KafkaException, TimeoutError) as exc:
            raise TransientError(f"cannot read end offsets: {exc}") from exc
        return out

    def committed(self, group: str, partitions: Sequence[PartitionKey]) -> dict[PartitionKey, int]:
        if not partitions:
            return {}
        try:
            found = self._reader(group).committed([TopicPartition(t, p) for t, p in partitions], timeout=self._timeout)
        except (KafkaException, TimeoutError) as exc:
            raise TransientError(f"cannot read offsets of group {group}: {exc}") from exc
        return {(tp.topic, tp.partition): tp.offset for tp in found}

    def _reader(self, group: str) -> Consumer:
        """A consumer with ``group``'s id that reads its committed offsets; it never subscribes (so never joins the
        group) and never commits. Not the AdminClient's ListConsumerGroupOffsets: when the group's coordinator
        moves (a broker restart), librdkafka 2.16 answers that request's error by signalling a consumer-group
        handle an admin client does not have, and the process dies with a segmentation fault."""
        if group not in self._readers:
            self._readers[group] = Consumer({**self._conf, "group.id": group, "enable.auto.commit": False})
        return self._readers[group]

    def group_members(self, group: str) -> int:
        """Members of a consumer group that has finished joining (0 while it is empty or rebalancing)."""
        from confluent_kafka import ConsumerGroupState

        admin = admin_client(self._conf)
        try:
            future = admin.describe_consumer_groups([group], request_timeout=self._timeout)[group]
            described = future.result(timeout=self._timeout + _GRACE_S)
        except (KafkaException, TimeoutError) as exc:
            raise TransientError(f"cannot describe group {group}: {exc}") from exc
        finally:
            del admin
        return len(described.members) if described.state == ConsumerGroupState.STABLE else 0

    def observe(self, group: str, topics: Sequence[str], *, alive: bool = True, exit_detail: str = "") -> Observation:
        end = self.end_offsets(topics)
        return lag_observation(self.committed(group, list(end)), end, alive=alive, exit_detail=exit_detail)

    def close(self) -> None:
        for reader in self._readers.values():
            reader.close()
        self._consumer.close()
