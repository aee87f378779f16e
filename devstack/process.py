"""Detached child processes with pid files that survive the CLI that started them.

A pid file records the process start time as well as the pid, so a pid reused by an unrelated process
after a reboot or a SIGKILL is never mistaken for ours (and never signalled).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time
from dataclasses import asdict, dataclass
from pathlib import Path


@dataclass(frozen=True)
class Launch:
    argv: list[str]
    env: dict[str, str]
    cwd: Path
    user: str | None = None  # run as this OS user (PostgreSQL will not run as root)


@dataclass(frozen=True)
class PidRecord:
    pid: int
    start_ticks: int
    started_at: float
    argv: list[str]


def _stat_fields(pid: int) -> list[str] | None:
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may contain spaces and parentheses; everything after the last ')'
    # is the fixed-format rest, starting with the state (field 3).
    return raw[raw.rindex(")") + 2 :].split()


def start_ticks(pid: int) -> int | None:
    fields = _stat_fields(pid)
    return int(fields[19]) if fields else None  # field 22 overall: starttime


def _reap(pid: int) -> None:
    # Children of this Python process (tests start the stack in-process) stay zombies until reaped.
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)


def is_alive(record: PidRecord) -> bool:
    _reap(record.pid)
    fields = _stat_fields(record.pid)
    if fields is None or fields[0] in ("Z", "X"):
        return False
    return int(fields[19]) == record.start_ticks


def read_pidfile(path: Path) -> PidRecord | None:
    try:
        data = json.loads(path.read_text())
        return PidRecord(int(data["pid"]), int(data["start_ticks"]), float(data["started_at"]), list(data["argv"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def running(path: Path) -> PidRecord | None:
    """The live process of this pid file, or None (a stale file is removed)."""
    record = read_pidfile(path)
    if record is not None and is_alive(record):
        return record
    path.unlink(missing_ok=True)
    return None


def spawn(launch: Launch, log_path: Path, pidfile: Path) -> PidRecord:
    log_path.parent.mkdir(parents=True, exist_ok=True)
    pidfile.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("ab") as log:
        log.write(f"\n==== {time.strftime('%Y-%m-%d %H:%M:%S')} starting: {' '.join(launch.argv)}\n".encode())
        log.flush()
        # A new session detaches the service from the terminal and from the CLI's process group, so
        # Ctrl-C in the shell or the CLI exiting does not take the stack down with it.
        proc = subprocess.Popen(
            launch.argv,
            cwd=launch.cwd,
            env=launch.env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            close_fds=True,
            user=launch.user,
            group=_group_of(launch.user),
        )
    ticks = start_ticks(proc.pid) or 0
    record = PidRecord(proc.pid, ticks, time.time(), launch.argv)
    tmp = pidfile.with_suffix(".tmp")
    tmp.write_text(json.dumps(asdict(record)))
    tmp.replace(pidfile)
    return record


def _group_of(user: str | None) -> int | None:
    if user is None:
        return None
    import pwd

    return pwd.getpwnam(user).pw_gid


def stop(record: PidRecord, sig: signal.Signals, timeout_s: float) -> str:
    """Signals the process group, waits, then SIGKILLs; returns how it ended."""
    if not is_alive(record):
        return "already gone"
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(record.pid, sig)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not is_alive(record):
            return f"stopped ({sig.name})"
        time.sleep(0.1)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(record.pid, signal.SIGKILL)
    for _ in range(50):
        if not is_alive(record):
            break
        time.sleep(0.1)
    return f"killed (no exit {timeout_s:.0f}s after {sig.name})"


def tail(path: Path, lines: int = 20) -> str:
    try:
        with path.open("rb") as fh:
            fh.seek(0, os.SEEK_END)
            size = fh.tell()
            fh.seek(max(0, size - 64 * 1024))
            text = fh.read().decode(errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


def follow(paths: dict[str, Path], *, prefix: bool) -> None:
    """Prints the lines added to each log (``[name] line`` with ``prefix``) until Ctrl-C."""
    offsets = {name: path.stat().st_size if path.exists() else 0 for name, path in paths.items()}
    try:
        while True:
            for name, path in paths.items():
                if not path.exists():
                    continue
                size = path.stat().st_size
                offsets[name] = min(offsets[name], size)  # the file was truncated or replaced
                if size > offsets[name]:
                    with path.open("rb") as fh:
                        fh.seek(offsets[name])
                        chunk = fh.read().decode(errors="replace")
                    offsets[name] = size
                    for line in chunk.splitlines():
                        print(f"[{name}] {line}" if prefix else line, flush=True)
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
