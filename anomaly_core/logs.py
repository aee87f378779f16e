"""Logging set up once per entrypoint: plain text for people, one JSON object per line for log shippers."""

from __future__ import annotations

import json as _json
import logging
import sys
from datetime import UTC, datetime
from typing import Any, TextIO

from anomaly_core.kafka_logs import OutageFilter

# Attributes every LogRecord has; anything else was passed through ``extra=`` and is worth keeping.
_STANDARD = set(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {"message", "asctime", "taskName"}
_TEXT_FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"
_NOISY = ("httpx", "httpcore", "urllib3", "kafka", "aiokafka")
_KAFKA_CLIENTS = ("kafka", "aiokafka")


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ts, level, logger, msg, the ``extra=`` fields, and the exception if any."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, tz=UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key not in _STANDARD and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return _json.dumps(entry, default=str)


def configure_logging(level: str | int = "INFO", json: bool = False, *, stream: TextIO | None = None) -> None:
    """Replaces the root handlers with one to ``stream`` (stderr); safe to call again (last call wins)."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter() if json else logging.Formatter(_TEXT_FORMAT))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    # One line per outage from the Kafka clients that log through Python (librdkafka's go through client_logger).
    handler.addFilter(OutageFilter(prefixes=_KAFKA_CLIENTS))
    root.addHandler(handler)
    root.setLevel(level.upper() if isinstance(level, str) else level)
    # Client libraries log every request at INFO; keep them for debugging only.
    for name in _NOISY:
        logging.getLogger(name).setLevel(max(root.level, logging.WARNING))
