"""The child-process supervisor with tiny Python children (no stack needed, well under a second each)."""

from __future__ import annotations

import sys
import time
from pathlib import Path

from anomaly_core.supervisor import ChildSpec, Supervisor

PY = sys.executable

GRACEFUL = """
import signal, sys, time
def bye(*_):
    print("flushed and committed", flush=True)
    sys.exit(0)
signal.signal(signal.SIGTERM, bye)
print("ready", flush=True)
while True:
    time.sleep(0.05)
"""

STUBBORN = """
import signal, time
signal.signal(signal.SIGTERM, signal.SIG_IGN)
print("ready", flush=True)
while True:
    time.sleep(0.05)
"""


def _wait_for(path: Path, text: str, timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if path.exists() and text in path.read_text():
            return
        time.sleep(0.02)
    raise AssertionError(f"{text!r} never appeared in {path}")


def test_finite_child_logs_and_exits_cleanly_with_shared_env(tmp_path: Path) -> None:
    sup = Supervisor(tmp_path, env={"RUN_PREFIX": "run-1."})
    code = "import os; print('prefix', os.environ['RUN_PREFIX'], os.environ['EXTRA'])"
    sup.start(ChildSpec("producer", [PY, "-c", code], env={"EXTRA": "x"}, finite=True))
    assert sup.wait("producer", 10) == 0
    state = sup.state("producer")
    assert not state.running and not state.failed
    assert "prefix run-1. x" in sup.log_tail("producer")
    assert sup.failures() == []
    sup.stop()


def test_service_that_exits_is_reported_as_failed_with_its_log(tmp_path: Path) -> None:
    with Supervisor(tmp_path) as sup:
        sup.start(ChildSpec("pose", [PY, "-c", "import sys; print('model crashed'); sys.exit(3)"]))
        sup.wait("pose", 10)
        [failed] = sup.failures()
        assert (failed.name, failed.returncode) == ("pose", 3)
        assert "model crashed" in sup.log_tail("pose")
        # A long-running service that exits, even with 0, is a failure of the run.
        sup.start(ChildSpec("audio", [PY, "-c", "pass"]))
        sup.wait("audio", 10)
        assert {s.name for s in sup.failures()} == {"pose", "audio"}


def test_stop_sends_sigterm_then_kills_a_stubborn_child(tmp_path: Path) -> None:
    sup = Supervisor(tmp_path, stop_grace_s=1.0)
    sup.start(ChildSpec("graceful", [PY, "-c", GRACEFUL]))
    sup.start(ChildSpec("stubborn", [PY, "-c", STUBBORN]))
    _wait_for(tmp_path / "graceful.log", "ready")
    _wait_for(tmp_path / "stubborn.log", "ready")
    assert all(s.running for s in sup.states())
    codes = sup.stop()
    assert codes["graceful"] == 0
    assert codes["stubborn"] == -9
    assert "flushed and committed" in (tmp_path / "graceful.log").read_text()
