"""Logging of a long-running command (a service): level and format from LOG_LEVEL and LOG_JSON."""

from __future__ import annotations


def configure_service_logging() -> None:
    from anomaly_core.logs import configure_logging
    from anomaly_core.settings import MetricsSettings

    metrics = MetricsSettings()
    configure_logging(metrics.log_level, metrics.log_json)
