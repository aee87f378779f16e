"""The back half of the platform under faults: scripted score streams into the fusion worker, its anomalies into
the projection sink, rows in PostgreSQL; both services as deployed (``anomaly fusion worker``,
``anomaly projection sink``) under the test's supervisor. The oracle is an uninterrupted in-memory run of the
same scores (``tests.integration._fusion.expected_ids``)."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import psycopg

from anomaly_core.settings import KafkaSettings
from bench.fusion import BLOCK_MS, THROUGHPUT_MIX, scripted
from bench.fusion_scenarios import ScoreRecord
from fusion_app.rules import Rules
from schemas.records import AnomalyKind
from tests.chaos.oracle import Row, RowCheck, check_rows
from tests.chaos.services import Services
from tests.integration._fusion import expected_ids, fast_rules, recent_t0, worker_env


def score_stream(kafka: KafkaSettings, cameras: int, blocks: int) -> list[ScoreRecord]:
    """``bench.fusion``'s scenario mix (falls, calls for help, fire, fights, noise) for ``cameras`` cameras named
    after this test's topic prefix, ``blocks`` scenarios each, ending about now (event time)."""
    tag = kafka.topic_prefix.rstrip(".")
    records = scripted(cameras, THROUGHPUT_MIX, blocks, recent_t0() - (blocks - 1) * BLOCK_MS)
    return [replace(r, camera_id=f"{tag}-{r.camera_id}") for r in records]


def slices(records: Sequence[ScoreRecord], n: int) -> list[list[ScoreRecord]]:
    """``records`` (in event time) cut into ``n`` consecutive parts."""
    size = -(-len(records) // n)
    return [list(records[i : i + size]) for i in range(0, len(records), size)]


class BackHalf:
    """Fusion worker and projection sink of one test, and its oracle."""

    def __init__(self, services: Services, kafka: KafkaSettings, dsn: str, tmp_path: Path, records: list[ScoreRecord]):
        self.services, self.kafka, self.dsn = services, kafka, dsn
        rules: Rules
        rules, self.rules_path = fast_rules(tmp_path)
        self.records = records
        self.cameras = sorted({r.camera_id for r in records})
        self.expected = expected_ids(records, rules)

    def start(self) -> BackHalf:
        self.services.start("fusion", ["fusion", "worker"], worker_env(self.kafka, self.rules_path))
        self.services.start("projection", ["projection", "sink"], {"DATABASE_URL": self.dsn})
        return self

    def rows(self) -> list[Row]:
        try:
            with psycopg.connect(self.dsn, connect_timeout=5) as conn:
                found = conn.execute(
                    "select anomaly_id::text, camera_id, kinds, state from anomalies where camera_id = any(%s)",
                    (self.cameras,),
                ).fetchall()
        except psycopg.OperationalError:
            return []  # the database is restarting: no rows to judge yet
        return [Row(a, c, tuple(AnomalyKind(k) for k in kinds), s) for a, c, kinds, s in found]

    def first_rows(self, timeout_s: float = 120.0) -> None:
        """Waits until the pipeline has written some rows (it is flowing)."""
        deadline = time.monotonic() + timeout_s
        while not self.rows():
            self.services.ensure_running()
            assert time.monotonic() < deadline, f"no anomaly row within {timeout_s:.0f} s\n{self.services.tails()}"
            time.sleep(0.5)

    def settled(self, timeout_s: float = 180.0) -> RowCheck:
        """The rows against the oracle, once they match it or ``timeout_s`` passed (services that died meanwhile
        are restarted, as their supervisor would)."""
        deadline = time.monotonic() + timeout_s
        while True:
            self.services.ensure_running()
            check = check_rows(self.expected, self.rows())
            if check.ok or time.monotonic() > deadline:
                return check
            time.sleep(0.5)
