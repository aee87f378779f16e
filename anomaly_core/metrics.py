"""Prometheus metrics: the process-wide registry, the streaming runtime's metrics, and the /metrics server.

Metric objects are created on first use and shared after that, so two services in one process (tests run
several in threads) add to the same series, told apart by their ``service`` label.
"""

from __future__ import annotations

import logging
import threading
from typing import Any, TypeVar

from prometheus_client import REGISTRY, Counter, Gauge, Histogram, start_http_server
from prometheus_client.metrics import MetricWrapperBase

log = logging.getLogger(__name__)

M = TypeVar("M", bound=MetricWrapperBase)

_metrics: dict[str, MetricWrapperBase] = {}
_servers: dict[int, int] = {}
_lock = threading.Lock()

LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


def _get_or_create(kind: type[M], name: str, doc: str, labels: tuple[str, ...], **kwargs: Any) -> M:
    with _lock:
        metric = _metrics.get(name)
        if metric is None:
            metric = kind(name, doc, labels, registry=REGISTRY, **kwargs)
            _metrics[name] = metric
        if not isinstance(metric, kind):
            raise TypeError(f"metric {name} already exists as {type(metric).__name__}")
        return metric


def counter(name: str, doc: str, labels: tuple[str, ...] = ()) -> Counter:
    return _get_or_create(Counter, name, doc, labels)


def gauge(name: str, doc: str, labels: tuple[str, ...] = ()) -> Gauge:
    return _get_or_create(Gauge, name, doc, labels)


def histogram(
    name: str, doc: str, labels: tuple[str, ...] = (), buckets: tuple[float, ...] = LATENCY_BUCKETS
) -> Histogram:
    return _get_or_create(Histogram, name, doc, labels, buckets=buckets)


def start_metrics_server(port: int, addr: str = "0.0.0.0") -> int | None:
    """Serves /metrics on ``port`` (0 = metrics off); once per port per process. Returns the port or None."""
    if port <= 0:
        return None
    with _lock:
        if port not in _servers:
            start_http_server(port, addr=addr, registry=REGISTRY)
            _servers[port] = port
            log.info("metrics served on http://%s:%d/metrics", addr, port)
    return port


class RuntimeMetrics:
    """The series every consume -> handle -> produce service exports, bound to its service name."""

    def __init__(self, service: str) -> None:
        self.service = service
        self.consumed = counter("anomaly_messages_consumed_total", "Records consumed", ("service", "topic"))
        self.produced = counter(
            "anomaly_messages_produced_total", "Records produced and acknowledged", ("service", "topic")
        )
        self.dead_lettered = counter(
            "anomaly_dead_letters_total", "Records sent to the dead-letter topic", ("service", "stage")
        )
        self.retries = counter(
            "anomaly_batch_retries_total", "Batch retries after a transient error", ("service", "reason")
        )
        self.handler_seconds = histogram("anomaly_handler_seconds", "Handler time per batch", ("service",))
        self.batch_size = histogram(
            "anomaly_batch_size",
            "Records per handled batch",
            ("service",),
            buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024),
        )
        self.lag = gauge("anomaly_consumer_lag", "Records behind the partition end", ("service", "topic", "partition"))

    def record_lag(self, topic: str, partition: int, lag: int) -> None:
        self.lag.labels(self.service, topic, str(partition)).set(lag)
