"""Running `anomaly analyze` as a subprocess, the way a user does, for the e2e tests."""

from __future__ import annotations

import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Analysis:
    returncode: int
    report_dir: Path
    report: dict[str, Any]
    output: str
    wall_s: float

    def camera(self, camera_id: str) -> dict[str, Any]:
        found = [c for c in self.report["cameras"] if c["camera_id"] == camera_id]
        assert found, f"no camera {camera_id!r} in the report; problems: {self.report.get('problems')}"
        return found[0]


def run_analyze(
    args: list[str], *, timeout_s: float = 420, env: dict[str, str] | None = None
) -> tuple[int, str, float]:
    t0 = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "anomaly_cli.main", "analyze", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout_s,
        env=env,
        check=False,
    )
    return done.returncode, done.stdout + done.stderr, time.monotonic() - t0
