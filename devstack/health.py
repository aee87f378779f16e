"""Real requests against each service: a service is healthy only when it answers one."""

from __future__ import annotations

import time
import uuid
from typing import Any

from anomaly_core.admin import admin_client
from anomaly_core.kafka_logs import silent_logger

HEALTH_TOPIC = "_anomaly.stack.health"


class ProbeError(Exception):
    """The service did not answer the request (message says how)."""


def _kafka_conf(conf: dict[str, str]) -> dict[str, Any]:
    # librdkafka logs every refused connection to stderr; during start-up those are expected noise.
    return {**conf, "logger": silent_logger("devstack.librdkafka")}


def kafka_metadata(conf: dict[str, str], timeout_s: float) -> int:
    """Broker metadata; returns the number of brokers."""
    from confluent_kafka import KafkaException

    try:
        metadata = admin_client(_kafka_conf(conf)).list_topics(timeout=timeout_s)
    except KafkaException as exc:
        raise ProbeError(f"no metadata: {exc.args[0]}") from exc
    if not metadata.brokers:
        raise ProbeError("metadata lists no broker")
    return len(metadata.brokers)


def kafka_round_trip(conf: dict[str, str], timeout_s: float, replication: int = 1) -> None:
    """Creates the health topic if needed, produces a unique value and reads it back."""
    from confluent_kafka import Consumer, KafkaError, KafkaException, Producer, TopicPartition
    from confluent_kafka.admin import NewTopic

    deadline = time.monotonic() + timeout_s
    admin = admin_client(_kafka_conf(conf))
    try:
        if HEALTH_TOPIC not in admin.list_topics(timeout=timeout_s).topics:
            new = NewTopic(HEALTH_TOPIC, 1, replication, config={"retention.ms": "3600000"})
            try:
                admin.create_topics([new])[HEALTH_TOPIC].result(timeout_s)
            except KafkaException as exc:
                if exc.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
                    raise
    except KafkaException as exc:
        raise ProbeError(f"cannot create {HEALTH_TOPIC}: {exc.args[0]}") from exc

    nonce = uuid.uuid4().hex.encode()
    outcome: dict[str, Any] = {}

    def delivered(err: Any, msg: Any) -> None:
        outcome["err"], outcome["offset"] = err, msg.offset()

    producer = Producer({**_kafka_conf(conf), "message.timeout.ms": max(1000, int(timeout_s * 1000))})
    producer.produce(HEALTH_TOPIC, nonce, on_delivery=delivered)
    producer.flush(timeout_s)
    if outcome.get("err") is not None or "offset" not in outcome:
        raise ProbeError(f"produce failed: {outcome.get('err', 'no delivery report')}")

    consumer = Consumer({**_kafka_conf(conf), "group.id": HEALTH_TOPIC, "enable.auto.commit": False})
    try:
        consumer.assign([TopicPartition(HEALTH_TOPIC, 0, outcome["offset"])])
        while time.monotonic() < deadline:
            msg = consumer.poll(0.5)
            if msg is not None and not msg.error() and msg.value() == nonce:
                return
    finally:
        consumer.close()
    raise ProbeError("produced a record but could not read it back")


def registry_subjects(base_url: str, timeout_s: float) -> int:
    """GET /subjects on the Confluent-compatible API; returns the number of subjects."""
    import httpx

    try:
        resp = httpx.get(f"{base_url.rstrip('/')}/subjects", timeout=timeout_s)
    except httpx.HTTPError as exc:
        raise ProbeError(f"GET /subjects: {exc}") from exc
    if resp.status_code != 200:
        raise ProbeError(f"GET /subjects answered {resp.status_code}")
    body = resp.json()
    if not isinstance(body, list):
        raise ProbeError("GET /subjects did not answer a list")
    return len(body)


def postgres_select1(dsn: str, timeout_s: float) -> None:
    import psycopg

    try:
        with psycopg.connect(dsn, connect_timeout=max(1, int(timeout_s))) as conn:
            row = conn.execute("select 1").fetchone()
    except psycopg.Error as exc:
        raise ProbeError(str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__) from exc
    if row != (1,):
        raise ProbeError("select 1 returned no row")


def minio_client(endpoint_url: str, access_key: str, secret_key: str, region: str, timeout_s: float) -> Any:
    from urllib.parse import urlparse

    import urllib3
    from minio import Minio

    url = urlparse(endpoint_url)
    http = urllib3.PoolManager(
        timeout=urllib3.Timeout(connect=timeout_s, read=timeout_s), retries=urllib3.Retry(total=0)
    )
    return Minio(
        url.netloc,
        access_key=access_key,
        secret_key=secret_key,
        secure=url.scheme == "https",
        region=region,
        http_client=http,
    )


def s3_list_buckets(client: Any) -> list[str]:
    from minio.error import MinioException
    from urllib3.exceptions import HTTPError

    try:
        return [bucket.name for bucket in client.list_buckets()]
    except (MinioException, HTTPError, OSError) as exc:
        raise ProbeError(f"list buckets: {exc}") from exc


def mqtt_round_trip(host: str, port: int, timeout_s: float, *, deep: bool) -> None:
    """Connects to the MQTT broker; ``deep``: also publishes a unique message and receives it."""
    import threading

    import paho.mqtt.client as mqtt

    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"anomaly-health-{uuid.uuid4().hex[:8]}")
    connected, received = threading.Event(), threading.Event()
    topic, nonce = f"_anomaly/health/{uuid.uuid4().hex}", uuid.uuid4().hex.encode()
    client.on_connect = lambda *_args: connected.set()

    def subscribed(*_args: Any) -> None:
        client.publish(topic, nonce, qos=1)

    client.on_subscribe = subscribed
    client.on_message = lambda _c, _u, msg: received.set() if msg.payload == nonce else None
    try:
        client.connect(host, port, keepalive=max(5, int(timeout_s)))
    except OSError as exc:
        raise ProbeError(f"no connection: {exc}") from exc
    client.loop_start()
    try:
        if not connected.wait(timeout_s) or not client.is_connected():
            raise ProbeError("the broker did not accept the connection")
        if deep:
            client.subscribe(topic, qos=1)
            if not received.wait(timeout_s):
                raise ProbeError("a published message did not come back")
    finally:
        client.disconnect()
        client.loop_stop()
