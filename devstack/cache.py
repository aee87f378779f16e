"""Per-user cache of downloads and builds, filled once and shared by every checkout."""

from __future__ import annotations

import fcntl
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

from devstack.errors import StackError

_DONE = ".complete"


def is_cached(target: Path) -> bool:
    return (target / _DONE).exists()


def ensure(target: Path, build: Callable[[Path], None]) -> Path:
    """Runs ``build(tmp)`` unless ``target`` is complete; the result appears atomically.

    A lock file serialises two checkouts warming the same cache; a build that dies half-way leaves
    only a temp folder, never a ``target`` that looks complete.
    """
    if is_cached(target):
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with (target.parent / f".{target.name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if is_cached(target):
            return target
        tmp = target.with_name(f".{target.name}.tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir()
        build(tmp)
        (tmp / _DONE).touch()
        shutil.rmtree(target, ignore_errors=True)
        tmp.rename(target)
    return target


def run_build(
    argv: list[str], what: str, log: Path, env: dict[str, str] | None = None, cwd: Path | None = None
) -> None:
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as out:
        result = subprocess.run(argv, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=cwd, check=False)
    if result.returncode != 0:
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-15:])
        raise StackError(
            f"{what} failed (exit {result.returncode}):\n{tail}",
            f"see {log}; a network or registry problem usually passes on a retry",
        )


def run_maven(mvn: str, pom: Path, goal: str, properties: dict[str, str], *, what: str, log: Path) -> None:
    """One batch-mode, quiet Maven ``goal`` on ``pom`` with ``-Dname=value`` ``properties`` (see run_build)."""
    argv = [mvn, "-B", "-q", "-f", str(pom), goal, *(f"-D{name}={value}" for name, value in properties.items())]
    run_build(argv, what, log)
