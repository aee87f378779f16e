"""Starts platform services as child processes, watches them, and stops them cleanly.

Used by ``anomaly demo`` and ``anomaly analyze`` to run producers, processors, fusion and the API on one machine.
Each child runs in its own process group, so a Ctrl-C in the terminal reaches only the parent, which then stops the
children with SIGTERM (finish the batch, flush, commit) and escalates to SIGKILL after a grace period.
On Linux a child also receives SIGTERM if the parent dies without cleaning up.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType, TracebackType
from typing import IO

_PR_SET_PDEATHSIG = 1


def anomaly_command(*args: str) -> list[str]:
    """argv running the ``anomaly`` CLI with this interpreter (works without the console script on PATH)."""
    return [sys.executable, "-m", "anomaly_cli.main", *args]


@dataclass(frozen=True, slots=True)
class ChildSpec:
    name: str
    argv: Sequence[str]
    env: Mapping[str, str] = field(default_factory=dict)
    #: Expected to end on its own (a file producer); a clean exit is then not a failure.
    finite: bool = False


@dataclass(frozen=True, slots=True)
class ChildState:
    name: str
    pid: int
    returncode: int | None
    log_path: Path
    finite: bool

    @property
    def running(self) -> bool:
        return self.returncode is None

    @property
    def failed(self) -> bool:
        """Exited with an error, or a long-running service that exited at all."""
        return self.returncode is not None and (self.returncode != 0 or not self.finite)


@dataclass
class _Child:
    spec: ChildSpec
    process: subprocess.Popen[bytes]
    log_path: Path
    log: IO[bytes]


class Supervisor:
    """A set of child processes sharing one environment, each logging to ``<log_dir>/<name>.log``."""

    def __init__(self, log_dir: Path, env: Mapping[str, str] | None = None, *, stop_grace_s: float = 20.0) -> None:
        self.log_dir = log_dir
        self.env = dict(os.environ if env is None else env)
        self.stop_grace_s = stop_grace_s
        self._children: dict[str, _Child] = {}

    def start(self, spec: ChildSpec) -> ChildState:
        if spec.name in self._children and self._children[spec.name].process.poll() is None:
            raise ValueError(f"{spec.name} is already running")
        self.log_dir.mkdir(parents=True, exist_ok=True)
        log_path = self.log_dir / f"{spec.name}.log"
        log = log_path.open("ab")
        env = {**self.env, **spec.env, "PYTHONUNBUFFERED": "1"}
        process = subprocess.Popen(
            list(spec.argv),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
            preexec_fn=_die_with_parent if sys.platform == "linux" else None,  # noqa: PLW1509 - no threads touched
        )
        self._children[spec.name] = _Child(spec, process, log_path, log)
        return self._state(self._children[spec.name])

    def states(self) -> list[ChildState]:
        return [self._state(c) for c in self._children.values()]

    def state(self, name: str) -> ChildState:
        return self._state(self._children[name])

    def failures(self) -> list[ChildState]:
        return [s for s in self.states() if s.failed]

    def wait(self, name: str, timeout_s: float | None = None) -> int | None:
        """Waits for a child to exit; its return code, or None on timeout."""
        try:
            return self._children[name].process.wait(timeout_s)
        except subprocess.TimeoutExpired:
            return None

    def log_tail(self, name: str, lines: int = 15) -> str:
        path = self._children[name].log_path
        try:
            text = path.read_bytes()[-16384:].decode("utf-8", "replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def stop(self, names: Sequence[str] | None = None) -> dict[str, int | None]:
        """SIGTERM, then SIGKILL whoever is still running after the grace period; return codes by name."""
        chosen = [self._children[n] for n in names] if names is not None else list(self._children.values())
        for child in reversed(chosen):
            if child.process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    child.process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + self.stop_grace_s
        for child in chosen:
            try:
                child.process.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(child.process.pid, signal.SIGKILL)
                child.process.wait()
            child.log.close()
        return {c.spec.name: c.process.returncode for c in chosen}

    def __enter__(self) -> Supervisor:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def _state(self, child: _Child) -> ChildState:
        return ChildState(
            name=child.spec.name,
            pid=child.process.pid,
            returncode=child.process.poll(),
            log_path=child.log_path,
            finite=child.spec.finite,
        )


def _die_with_parent() -> None:
    # Runs in the child between fork and exec: ask the kernel for SIGTERM when the parent goes away,
    # so a killed ``anomaly demo`` does not leave processors running.
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


@contextlib.contextmanager
def terminate_as_interrupt() -> Iterator[None]:
    """Treats SIGTERM like Ctrl-C in the parent, so both paths run the same clean shutdown."""

    def _raise(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, _raise)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
