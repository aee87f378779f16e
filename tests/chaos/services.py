"""Platform services as deployed (one ``anomaly ...`` process each) under a supervisor that restarts the dead,
as Compose's and ECS's restart policies do; a test kills them with SIGKILL and reads how each one ended."""

from __future__ import annotations

import os
import signal
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path

from anomaly_core.supervisor import ChildSpec, Supervisor, anomaly_command

#: Seconds a service gets to finish its batch, flush and commit after SIGTERM.
STOP_GRACE_S = 60.0


class Services:
    """Named ``anomaly`` commands; ``ensure_running`` is the restart policy, ``stop`` the final clean stop."""

    def __init__(self, log_dir: Path, env: Mapping[str, str]) -> None:
        self.supervisor = Supervisor(log_dir, env, stop_grace_s=STOP_GRACE_S)
        self.specs: dict[str, ChildSpec] = {}
        self.kills: Counter[str] = Counter()
        #: Restarts of services that died by themselves (not killed by the test): a service that cannot ride
        #: through a fault.
        self.crashes: Counter[str] = Counter()
        #: Where in its log each service's current run begins.
        self.started_at: dict[str, int] = {}

    def start(self, name: str, args: Sequence[str], env: Mapping[str, str] | None = None) -> None:
        self.specs[name] = ChildSpec(name, anomaly_command(*args), env=dict(env or {}))
        self._launch(name)

    def _launch(self, name: str) -> None:
        log = self.supervisor.log_dir / f"{name}.log"
        self.started_at[name] = len(log.read_text(errors="replace")) if log.exists() else 0
        self.supervisor.start(self.specs[name])

    def log(self, name: str) -> str:
        return self.supervisor.state(name).log_path.read_text(errors="replace")

    def kill(self, name: str) -> None:
        """SIGKILL (no batch finished, nothing flushed or committed), then the supervisor starts it again."""
        state = self.supervisor.state(name)
        assert state.running, f"{name} is not running: {self.supervisor.log_tail(name)}"
        os.killpg(state.pid, signal.SIGKILL)
        assert self.supervisor.wait(name, 10) == -signal.SIGKILL
        self.kills[name] += 1
        self._launch(name)

    def ensure_running(self) -> list[str]:
        """Starts again every service that exited by itself; their names."""
        dead = [s.name for s in self.supervisor.states() if not s.running]
        for name in dead:
            self.crashes[name] += 1
            self._launch(name)
        return dead

    def assert_alive(self) -> None:
        """Fails at once, with the logs, when a service exited by itself (where no fault should kill it)."""
        dead = [s for s in self.supervisor.states() if not s.running]
        assert not dead, f"exited by themselves: {[(s.name, s.returncode) for s in dead]}\n{self.tails()}"

    def logged(self, name: str, text: str) -> bool:
        """Whether ``name`` logged ``text`` since it was last (re)started."""
        return self.log(name).find(text, self.started_at[name]) >= 0

    def wait_for_log(self, name: str, text: str, *, timeout_s: float = 120.0) -> int:
        """Waits until ``name`` logged ``text`` since it was last (re)started; the position after it."""
        deadline = time.monotonic() + timeout_s
        while True:
            at = self.log(name).find(text, self.started_at[name])
            if at >= 0:
                return at + len(text)
            state = self.supervisor.state(name)
            assert state.running, f"{name} exited ({state.returncode}):\n{self.supervisor.log_tail(name, 40)}"
            assert time.monotonic() < deadline, f"{name} never logged {text!r}:\n{self.supervisor.log_tail(name, 40)}"
            time.sleep(0.1)

    def stop(self) -> dict[str, int | None]:
        """SIGTERM to all; their exit codes (0: batch finished, flushed, committed)."""
        return self.supervisor.stop()

    def tails(self) -> str:
        return "\n".join(f"--- {n}\n{self.supervisor.log_tail(n, 30)}" for n in self.specs)
