"""Serving the API with the deployment doc's production uvicorn settings."""

from __future__ import annotations

import logging
import re
from typing import Any

from fastapi import FastAPI

from api.settings import ApiServerSettings, AppSettings

APP_FACTORY = "api.server:app_from_env"
WS_MAX_SIZE = 16 * 1024 * 1024  # 16 MiB, as the deployment doc sets it

logger = logging.getLogger(__name__)

_TOKEN_IN_URL = re.compile(r"(token=)[^&\s\"']+")


class RedactTokens(logging.Filter):
    """uvicorn logs WebSocket paths with their query string; ``?token=`` must not reach the logs."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if "token=" in message:
            record.msg = _TOKEN_IN_URL.sub(r"\1***", message)
            record.args = ()
        return True


def production_options(api: ApiServerSettings, *, host: str, port: int, workers: int) -> dict[str, Any]:
    """The keyword arguments of ``uvicorn.run`` (the doc's 'FastAPI Production Configuration')."""
    return {
        "host": host,
        "port": port,
        "workers": workers,
        "access_log": False,  # performance; request counts and latencies are in /metrics
        "server_header": False,  # security: do not advertise the server
        "date_header": False,
        "loop": "uvloop",
        "http": "httptools",
        "ws_max_size": WS_MAX_SIZE,
        "ws_ping_interval": 20.0,
        "ws_ping_timeout": 20.0,
        # Compression is per socket: fanning one event out to N clients would deflate it N times.
        "ws_per_message_deflate": False,
        "timeout_keep_alive": 30,
        "limit_concurrency": api.limit_concurrency,
        "limit_max_requests": api.limit_max_requests or None,
        "proxy_headers": False,
        "log_config": None,  # keep the process's own logging (text or JSON lines), set up before serving
    }


def configure_process_logging() -> None:
    from anomaly_core.logs import configure_logging
    from anomaly_core.settings import MetricsSettings

    metrics = MetricsSettings()
    configure_logging(metrics.log_level, json=metrics.log_json)
    for name in ("uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).addFilter(RedactTokens())


def app_from_env() -> FastAPI:
    """The uvicorn factory: each worker process reads its settings and builds its own app."""
    from api.app import create_app

    configure_process_logging()
    return create_app(AppSettings.from_env())


def migrate_best_effort(dsn: str) -> None:
    """Applies pending migrations; a database that is down must not stop the API from starting."""
    from anomaly_core.db import migrate
    from anomaly_core.errors import TransientError

    try:
        applied = migrate(dsn)
    except TransientError as exc:
        logger.warning("database unreachable, migrations not applied (readyz reports it): %s", exc)
        return
    if applied:
        logger.info("applied migrations: %s", ", ".join(applied))


def serve(*, host: str, port: int, workers: int) -> None:
    import uvicorn
    from uvicorn.supervisors import Multiprocess

    settings = AppSettings.from_env()
    configure_process_logging()
    migrate_best_effort(settings.db.url.get_secret_value())
    options = production_options(settings.api, host=host, port=port, workers=workers)
    if workers > 1 or options["limit_max_requests"] is None:
        uvicorn.run(APP_FACTORY, factory=True, **options)
        return
    # With one worker, uvicorn.run would stop the server for good after limit_max_requests; under the
    # supervisor (what uvicorn.run uses for several workers) the recycled worker is started again.
    config = uvicorn.Config(APP_FACTORY, factory=True, **options)
    Multiprocess(config, sockets=[config.bind_socket()]).run()
