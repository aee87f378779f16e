"""The notify worker's Prometheus series, per target (on the worker's METRICS_PORT /metrics)."""

from __future__ import annotations

from anomaly_core.metrics import counter, gauge, histogram

SEND_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


class NotifyMetrics:
    def __init__(self) -> None:
        labels = ("target", "kind")
        self.sent = counter("anomaly_notifications_sent_total", "Notifications delivered", labels)
        self.failed = counter("anomaly_notifications_failed_total", "Notifications given up on (dead-lettered)", labels)
        self.retried = counter("anomaly_notifications_retried_total", "Send attempts retried after a failure", labels)
        self.held = counter(
            "anomaly_notifications_held_total", "Notifications held back (quiet hours, rate limit)", labels
        )
        self.latency = histogram(
            "anomaly_notification_send_seconds",
            "Time to deliver one notification, retries included",
            labels,
            buckets=SEND_BUCKETS,
        )
        self.circuit_open = gauge("anomaly_notification_circuit_open", "1 while the target's circuit is open", labels)

    def start(self, target: str, kind: str) -> None:
        """Every series of a target exists from the start (at 0), so a dashboard shows it before its first alert."""
        for series in (self.sent, self.failed, self.retried, self.held, self.latency):
            series.labels(target, kind)
        self.circuit_open.labels(target, kind).set(0)
