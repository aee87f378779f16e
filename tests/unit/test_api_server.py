"""Production uvicorn options and log redaction."""

from __future__ import annotations

import logging

from api.server import WS_MAX_SIZE, RedactTokens, production_options
from api.settings import ApiServerSettings


def test_production_options_follow_the_deployment_doc() -> None:
    api = ApiServerSettings.model_validate({"API_LIMIT_CONCURRENCY": 100, "API_LIMIT_MAX_REQUESTS": 1000})
    options = production_options(api, host="0.0.0.0", port=8000, workers=4)
    expected = {
        "workers": 4,
        "access_log": False,
        "server_header": False,
        "date_header": False,
        "loop": "uvloop",
        "http": "httptools",
        "ws_max_size": 16 * 1024 * 1024,
        "ws_ping_interval": 20.0,
        "ws_ping_timeout": 20.0,
        "timeout_keep_alive": 30,
        "limit_concurrency": 100,
        "limit_max_requests": 1000,
    }
    assert {k: options[k] for k in expected} == expected
    assert WS_MAX_SIZE == 16777216


def test_zero_max_requests_means_never_recycle() -> None:
    api = ApiServerSettings.model_validate({"API_LIMIT_MAX_REQUESTS": 0})
    assert production_options(api, host="h", port=1, workers=1)["limit_max_requests"] is None


def test_tokens_in_logged_urls_are_redacted() -> None:
    record = logging.LogRecord(
        "uvicorn.error",
        logging.INFO,
        __file__,
        1,
        '%s - "WebSocket %s" [accepted]',
        ("127.0.0.1:5000", "/v1/ws/anomalies?camera=c1&token=ak_secret123&x=1"),
        None,
    )
    assert RedactTokens().filter(record)
    message = record.getMessage()
    assert "ak_secret123" not in message
    assert "token=***" in message and "camera=c1" in message and "&x=1" in message
