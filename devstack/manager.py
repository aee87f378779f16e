"""Brings the services up, down, and reports on them. The only module that knows them all."""

from __future__ import annotations

import contextlib
import fcntl
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from devstack import ports, process
from devstack.errors import StackError
from devstack.health import ProbeError
from devstack.kafka import Kafka
from devstack.minio import Minio
from devstack.mosquitto import Mosquitto
from devstack.postgres import Postgres
from devstack.progress import Reporter
from devstack.registry import SchemaRegistry
from devstack.service import Service, StackContext

# Start order; they start concurrently, so this is only the order of the report lines.
SERVICE_CLASSES: tuple[type[Service], ...] = (Kafka, SchemaRegistry, Postgres, Minio, Mosquitto)
SERVICE_NAMES: tuple[str, ...] = tuple(cls.name for cls in SERVICE_CLASSES)
_STATUS_TIMEOUT_S = 3.0


@dataclass(frozen=True)
class ServiceStatus:
    name: str
    title: str
    managed: bool  # started by this stack (False: an external address from the environment)
    address: str
    port: int
    pid: int | None
    running: bool
    healthy: bool
    state: str  # healthy | unhealthy | dead | stopped | external
    detail: str
    uptime_s: float | None = None
    log: str | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class UpResult:
    started: list[str] = field(default_factory=list)
    already_running: list[str] = field(default_factory=list)
    external: list[str] = field(default_factory=list)

    @property
    def noop(self) -> bool:
        return not self.started


def _stack_root_of(cwd: str) -> Path | None:
    if not cwd:
        return None
    service_dir = Path(cwd)
    if service_dir.name in SERVICE_NAMES and (service_dir.parent / "run").is_dir():
        return service_dir.parent
    return None


class Stack:
    def __init__(self, ctx: StackContext | None = None) -> None:
        self.ctx = ctx or StackContext.from_env()
        self.services: list[Service] = [cls(self.ctx) for cls in SERVICE_CLASSES]

    def select(self, names: list[str] | None = None) -> list[Service]:
        if not names:
            return list(self.services)
        unknown = sorted(set(names) - set(SERVICE_NAMES))
        if unknown:
            raise StackError(f"unknown service {', '.join(unknown)}", f"choose from {', '.join(SERVICE_NAMES)}")
        return [svc for svc in self.services if svc.name in names]

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        """One `up`/`down` at a time per stack folder (two terminals, or make and a test)."""
        root = self.ctx.paths.root
        if root.exists() and not root.is_dir():
            raise StackError(f"stack folder {root} exists but is not a folder", "remove it or set STACK_DIR")
        root.mkdir(parents=True, exist_ok=True)
        with self.ctx.paths.lock.open("w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            yield

    # ---- status ---------------------------------------------------------------------------------

    def status(self, names: list[str] | None = None, timeout_s: float = _STATUS_TIMEOUT_S) -> list[ServiceStatus]:
        selected = self.select(names)
        with ThreadPoolExecutor(max_workers=len(selected)) as pool:
            return list(pool.map(lambda svc: self._status_of(svc, timeout_s), selected))

    def _status_of(self, svc: Service, timeout_s: float) -> ServiceStatus:
        base: dict[str, Any] = {
            "name": svc.name,
            "title": svc.title,
            "address": str(svc.endpoint),
            "port": svc.endpoint.port,
        }
        if svc.external:
            try:
                detail = svc.probe(deep=False, timeout_s=timeout_s)
                return ServiceStatus(
                    **base, managed=False, pid=None, running=True, healthy=True, state="external", detail=detail
                )
            except ProbeError as exc:
                return ServiceStatus(
                    **base,
                    managed=False,
                    pid=None,
                    running=False,
                    healthy=False,
                    state="unhealthy",
                    detail=f"external {svc.env_var} not answering: {exc}",
                )
        log = str(svc.log_path)
        record = process.read_pidfile(svc.pidfile)
        if record is None:
            holder = ports.holder(svc.endpoint.port)
            detail = "not started" if holder is None else f"not started; port held by {holder.describe()}"
            return ServiceStatus(
                **base, managed=True, pid=None, running=False, healthy=False, state="stopped", detail=detail, log=log
            )
        if not process.is_alive(record):
            return ServiceStatus(
                **base,
                managed=True,
                pid=record.pid,
                running=False,
                healthy=False,
                state="dead",
                detail="process is gone (killed or crashed); `anomaly stack up` restarts it",
                log=log,
            )
        uptime = time.time() - record.started_at
        try:
            detail = svc.probe(deep=False, timeout_s=timeout_s)
            return ServiceStatus(
                **base,
                managed=True,
                pid=record.pid,
                running=True,
                healthy=True,
                state="healthy",
                detail=detail,
                uptime_s=round(uptime, 1),
                log=log,
            )
        except ProbeError as exc:
            return ServiceStatus(
                **base,
                managed=True,
                pid=record.pid,
                running=True,
                healthy=False,
                state="unhealthy",
                detail=f"not answering: {exc}",
                uptime_s=round(uptime, 1),
                log=log,
            )

    # ---- up -------------------------------------------------------------------------------------

    def up(self, names: list[str] | None = None, reporter: Reporter | None = None) -> UpResult:
        reporter = reporter or Reporter()
        selected = self.select(names)
        result = UpResult()
        with self._locked():
            to_start: list[Service] = []
            for svc in selected:
                if svc.external:
                    self._check_external(svc, reporter)
                    result.external.append(svc.name)
                elif self._adopt_running(svc, reporter):
                    result.already_running.append(svc.name)
                else:
                    to_start.append(svc)
            if not to_start:
                return result
            self._preflight(to_start)
            for svc in to_start:
                if not svc.installed():
                    reporter.update(svc.name, "installing into the cache (first run only)")
                    svc.install()
            self._start(to_start, reporter)
            result.started = [svc.name for svc in to_start]
        return result

    def _check_external(self, svc: Service, reporter: Reporter) -> None:
        try:
            detail = svc.probe(deep=False, timeout_s=10.0)
        except ProbeError as exc:
            raise StackError(
                f"{svc.title} at {svc.endpoint} ({svc.env_var}, not local, so not started here) does not answer: {exc}",
                f"start that service, or unset {svc.env_var} to use the local stack",
            ) from exc
        reporter.update(svc.name, f"external at {svc.endpoint}: {detail}", done=True)

    def _adopt_running(self, svc: Service, reporter: Reporter) -> bool:
        record = process.running(svc.pidfile)
        if record is None:
            return False
        reason = svc.restart_reason(record)
        if reason is not None:
            # Migrating a stack made by an older checkout: stopped here, started again with the others.
            reporter.update(svc.name, f"restarting (pid {record.pid}): {reason}")
            process.stop(record, svc.stop_signal, self.ctx.stack.stop_timeout_s)
            svc.pidfile.unlink(missing_ok=True)
            return False
        try:
            self._wait_healthy(svc, record, time.monotonic() + 60.0, deep=False)
        except StackError as exc:
            raise StackError(
                f"{svc.title} is running (pid {record.pid}) but not answering: {exc.cause}",
                f"`anomaly stack down {svc.name}` then `anomaly stack up`; log: {svc.log_path}",
            ) from exc
        reporter.update(svc.name, f"already running (pid {record.pid})", done=True)
        return True

    def _preflight(self, services: list[Service]) -> None:
        """Every problem found before anything starts, so a failed `up` leaves nothing behind."""
        problems: list[StackError] = []
        for svc in services:
            try:
                svc.check_tools()
                svc.check_data()
            except StackError as exc:
                problems.append(exc)
            for port in svc.ports():
                if not ports.can_bind(svc.endpoint.connect_host, port):
                    problems.append(self._port_problem(svc, port))
        if len(problems) == 1:
            raise problems[0]
        if problems:
            raise StackError(
                "cannot start the stack:\n" + "\n".join(f"- {p}" for p in problems),
                "fix the problems above, then run `anomaly stack up` again",
            )

    def _port_problem(self, svc: Service, port: int) -> StackError:
        holder = ports.holder(port)
        who = holder.describe() if holder else "another process"
        other = _stack_root_of(holder.cwd) if holder else None
        if other is not None:
            # Stack services run inside <stack>/<service>/, next to <stack>/run/ with their pid files.
            return StackError(
                f"port {port} ({svc.title}) is in use by another stack's service, {who}, whose stack folder is "
                f"{other} (this stack: {self.ctx.paths.root})",
                f"stop it with `STACK_DIR={other} anomaly stack down` (or `anomaly stack down` in its checkout), "
                f"or move {svc.title} to a free port with {svc.env_var}",
            )
        return StackError(
            f"port {port} ({svc.title}) is in use by {who}, not by this stack ({self.ctx.paths.root})",
            f"stop that process, or move {svc.title} to a free port with {svc.env_var}",
        )

    def _start(self, services: list[Service], reporter: Reporter) -> None:
        started: list[tuple[Service, process.PidRecord]] = []
        deadline = time.monotonic() + self.ctx.stack.start_timeout_s
        try:
            for svc in services:
                reporter.update(svc.name, "starting")
                svc.prepare()
                started.append((svc, process.spawn(svc.launch(), svc.log_path, svc.pidfile)))
            with ThreadPoolExecutor(max_workers=len(started)) as pool:
                futures = [pool.submit(self._await_start, svc, rec, deadline, reporter) for svc, rec in started]
                errors = [exc for fut in futures if (exc := fut.exception()) is not None]
            if errors:
                raise (
                    errors[0]
                    if len(errors) == 1
                    else StackError("services failed to start:\n" + "\n".join(f"- {e}" for e in errors))
                )
        except BaseException:
            # Leave nothing half-started: stop exactly what this `up` started.
            for svc, rec in reversed(started):
                process.stop(rec, svc.stop_signal, self.ctx.stack.stop_timeout_s)
                svc.pidfile.unlink(missing_ok=True)
                reporter.update(svc.name, "stopped (start-up aborted)", done=True, ok=False)
            raise

    def _await_start(self, svc: Service, record: process.PidRecord, deadline: float, reporter: Reporter) -> None:
        t0 = time.monotonic()
        reporter.update(svc.name, f"waiting for an answer (pid {record.pid})")
        try:
            detail = self._wait_healthy(svc, record, deadline, deep=True)
            svc.after_start()
        except Exception:
            reporter.update(svc.name, "failed", done=True, ok=False)
            raise
        reporter.update(svc.name, f"healthy in {time.monotonic() - t0:.1f}s: {detail}", done=True)

    def _wait_healthy(self, svc: Service, record: process.PidRecord, deadline: float, *, deep: bool) -> str:
        last = "no answer yet"
        while True:
            if not process.is_alive(record):
                raise StackError(
                    f"{svc.title} exited during start-up; last log lines:\n{process.tail(svc.log_path, 25)}",
                    f"see {svc.log_path}; a corrupt data folder ({svc.data_dir}) can be removed",
                )
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise StackError(
                    f"{svc.title} did not answer within the start timeout: {last}; last log lines:\n"
                    f"{process.tail(svc.log_path, 15)}",
                    f"see {svc.log_path}; raise STACK_START_TIMEOUT on a slow machine",
                )
            try:
                return svc.probe(deep=deep, timeout_s=min(5.0, max(1.0, remaining)))
            except ProbeError as exc:
                last = str(exc)
            time.sleep(0.5)

    # ---- down -----------------------------------------------------------------------------------

    def down(self, names: list[str] | None = None, reporter: Reporter | None = None) -> dict[str, str]:
        reporter = reporter or Reporter()
        outcome: dict[str, str] = {}
        with self._locked():
            for svc in reversed(self.select(names)):
                if svc.external:
                    outcome[svc.name] = "external (left alone)"
                else:
                    record = process.running(svc.pidfile)
                    if record is None:
                        outcome[svc.name] = "not running"
                    else:
                        reporter.update(svc.name, f"stopping (pid {record.pid})")
                        outcome[svc.name] = process.stop(record, svc.stop_signal, self.ctx.stack.stop_timeout_s)
                        svc.pidfile.unlink(missing_ok=True)
                reporter.update(svc.name, outcome[svc.name], done=True)
        return outcome
