"""Faults on the stack's own services (Kafka, PostgreSQL): a SIGKILL or a restart through the stack's pid files.

The stack is shared with whoever else uses this machine, so every outage is short and undone in a ``finally``
block, and the stack must answer again (``anomaly stack status``) before the test goes on.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Iterator

from devstack import process
from devstack.manager import Stack

#: How long a restored service gets to answer a real request again.
RESTORE_TIMEOUT_S = 120.0


class StackFaults:
    def __init__(self, stack: Stack | None = None) -> None:
        self.stack = stack or Stack()
        #: The services that answer now: they must all answer again after a fault.
        self.baseline = {row.name for row in self.stack.status() if row.healthy}

    def pid(self, name: str) -> int:
        """The pid of the stack's running ``name`` (it must be one this stack started)."""
        (svc,) = self.stack.select([name])
        record = process.running(svc.pidfile)
        assert record is not None, f"{name} is not a running service of this stack ({svc.pidfile})"
        return record.pid

    def kill(self, name: str) -> None:
        """SIGKILL to the service's process group: no shutdown hook, no flush, as a crash or an OOM kill."""
        pid = self.pid(name)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGKILL)
        deadline = time.monotonic() + 10
        (svc,) = self.stack.select([name])
        while process.running(svc.pidfile) is not None:
            assert time.monotonic() < deadline, f"{name} (pid {pid}) still alive 10 s after SIGKILL"
            time.sleep(0.1)

    def stop(self, name: str) -> None:
        """A clean stop, as ``anomaly stack down NAME`` does (PostgreSQL: fast shutdown, clients cut off)."""
        self.stack.down([name])

    def restore(self, name: str) -> None:
        """Starts ``name`` again (``anomaly stack up NAME``) and waits until the stack answers as before."""
        self.stack.up([name])
        self.wait_healthy()

    def wait_healthy(self) -> None:
        deadline = time.monotonic() + RESTORE_TIMEOUT_S
        while True:
            rows = [row for row in self.stack.status() if row.name in self.baseline]
            if all(row.healthy for row in rows):
                return
            if time.monotonic() > deadline:
                raise AssertionError(f"stack not healthy after a fault: {[(r.name, r.state, r.detail) for r in rows]}")
            time.sleep(0.5)

    @contextlib.contextmanager
    def outage(self, name: str, *, kill: bool, hold_s: float) -> Iterator[None]:
        """``name`` killed (``kill``) or stopped, kept down ``hold_s`` after the block's body started, then restored,
        whatever happens in the block."""
        began = time.monotonic()
        try:
            self.kill(name) if kill else self.stop(name)
            yield
            time.sleep(max(0.0, hold_s - (time.monotonic() - began)))
        finally:
            self.restore(name)
