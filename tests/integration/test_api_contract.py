"""The API contract is the API: schemathesis (every check) against a real API server on the real stack.

Every operation of ``/openapi.json`` gets generated valid and invalid requests, with an admin key and without
credentials; each answer must be documented, with the body and headers the document gives for it (errors
included), and no answer may be a server error. The examples per operation are bounded to keep the run short.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest

from anomaly_core.db import migrate
from anomaly_core.settings import KafkaSettings, ObjectStoreSettings
from api import keystore
from api.auth import Role
from bench.sample_events import anomaly_event
from tests.api_harness import PEPPER, app_settings, insert_anomalies, insert_camera, private_topic, serve

pytestmark = pytest.mark.integration

MAX_EXAMPLES = 10
SEED = 20251201


def _schemathesis() -> str:
    found = shutil.which("schemathesis", path=str(Path(sys.executable).parent)) or shutil.which("schemathesis")
    deps = Path(sys.prefix) / ".deps"
    if found is None and deps.exists():  # the project venv links its dependencies from a cached one
        found = shutil.which("schemathesis", path=str(Path(deps.read_text().strip()) / "bin"))
    assert found, "schemathesis is not installed (requirements/dev.in)"
    return found


@pytest.fixture(scope="module")
def contract_api(
    pg_dsn: str, kafka_settings: KafkaSettings, object_store_settings: ObjectStoreSettings
) -> Iterator[tuple[str, str]]:
    migrate(pg_dsn)
    t0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
    insert_anomalies(pg_dsn, [anomaly_event("cam-a", start=t0 + timedelta(minutes=i)) for i in range(3)])
    insert_camera(pg_dsn, "cam-a")
    with psycopg.connect(pg_dsn) as conn:
        admin = keystore.create(conn, name="contract", role=Role.ADMIN, cameras=None, expires_in=None, pepper=PEPPER)
    with private_topic(kafka_settings) as (prefix, _):
        # The rate limit is documented (429) but not what this run explores: give the key room.
        settings = app_settings(
            pg_dsn,
            kafka_settings,
            object_store_settings,
            prefix,
            API_RATE_LIMIT_PER_MINUTE=100_000,
            API_RATE_LIMIT_BURST=100_000,
            API_MAX_BODY_BYTES=4096,
            API_LIVE_ENABLED=False,
        )
        with serve(settings) as api:
            yield api.base_url, admin.secret


def test_schemathesis_every_check_passes(contract_api: tuple[str, str], tmp_path: Path) -> None:
    base_url, key = contract_api
    command = [
        _schemathesis(),
        "--config-file",
        str(Path(__file__).with_name("schemathesis.toml")),
        "run",
        f"{base_url}/openapi.json",
        "--checks",
        "all",
        "--max-examples",
        str(MAX_EXAMPLES),
        "--seed",
        str(SEED),
        "--header",
        f"Authorization: Bearer {key}",
        "--workers",
        "1",
        "--request-timeout",
        "10",
        "--no-color",
        "--report-dir",
        str(tmp_path),
    ]
    env = {k: v for k, v in os.environ.items() if not k.startswith("SCHEMATHESIS_")}
    done = subprocess.run(command, capture_output=True, text=True, timeout=240, check=False, env=env)
    output = done.stdout + done.stderr
    (tmp_path / "schemathesis.txt").write_text(output)
    assert done.returncode == 0, f"full output in {tmp_path / 'schemathesis.txt'}\n" + _failures(output)


def _failures(output: str) -> str:
    """The failure headlines: operation, check, answer (generated payloads can be megabytes long)."""
    lines = output.splitlines()
    start = next((i for i, line in enumerate(lines) if "FAILURES" in line), 0)
    return "\n".join(line[:300] for line in lines[start:] if line.strip())[-8000:]
