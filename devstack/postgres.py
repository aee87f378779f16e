"""PostgreSQL from the distribution's server binaries: one cluster in the stack folder, TCP only."""

from __future__ import annotations

import contextlib
import hashlib
import os
import pwd
import shutil
import signal
import subprocess
from pathlib import Path
from urllib.parse import unquote, urlsplit, urlunsplit

from devstack import health, tools
from devstack.errors import StackError
from devstack.process import Launch
from devstack.service import Endpoint, Service, endpoint_of_url


def _searchable_by_others(folder: Path) -> bool:
    """Whether an unprivileged user can reach ``folder`` (every existing ancestor has o+x)."""
    return all(p.stat().st_mode & 0o001 for p in (folder, *folder.parents) if p.exists())


class Postgres(Service):
    name = "postgres"
    title = "PostgreSQL"
    env_var = "DATABASE_URL"
    # SIGINT is PostgreSQL's "fast" shutdown; SIGTERM ("smart") waits for every client to hang up.
    stop_signal = signal.SIGINT

    @property
    def dsn(self) -> str:
        return self.ctx.db.url.get_secret_value()

    @property
    def endpoint(self) -> Endpoint:
        return endpoint_of_url(self.dsn, 5432)

    @property
    def user(self) -> str:
        return unquote(urlsplit(self.dsn).username or "anomaly")

    @property
    def database(self) -> str:
        return urlsplit(self.dsn).path.lstrip("/") or self.user

    def admin_dsn(self) -> str:
        """The same server and role, on the always-present `postgres` database."""
        parts = urlsplit(self.dsn)
        return urlunsplit((parts.scheme, parts.netloc, "/postgres", parts.query, parts.fragment))

    @property
    def cluster(self) -> Path:
        preferred = self.data_dir / "data"
        if self.os_user is None or _searchable_by_others(preferred.parent):
            return preferred
        # Started by root from a checkout the PostgreSQL user cannot enter (e.g. under /root or a
        # mktemp folder): keep the cluster in a per-stack folder it can reach, still outside /tmp so
        # it survives a reboot.
        key = hashlib.sha256(str(self.ctx.paths.root).encode()).hexdigest()[:12]
        return Path("/var/tmp") / f"anomaly-stack-{key}" / "postgres"

    @property
    def os_user(self) -> str | None:
        # PostgreSQL refuses to run as root; as root we hand the cluster to an unprivileged OS user.
        return self.ctx.stack.pg_os_user if os.geteuid() == 0 else None

    def _bin(self, program: str) -> str:
        return str(self.ctx.stack.pg_bin_dir / program)

    def check_tools(self) -> None:
        tools.require_pg(self.ctx.stack.pg_bin_dir)
        if self.os_user is None:
            return
        try:
            pwd.getpwnam(self.os_user)
        except KeyError as exc:
            raise StackError(
                f"OS user {self.os_user!r} (PostgreSQL will not run as root) does not exist",
                "create it (useradd --system postgres) or set STACK_PG_OS_USER",
            ) from exc

    def binary_major(self) -> str:
        out = subprocess.run([self._bin("postgres"), "--version"], capture_output=True, text=True, check=False)
        return out.stdout.split()[-1].split(".")[0] if out.stdout.split() else "?"

    def check_data(self) -> None:
        if not self.cluster.exists() or not any(self.cluster.iterdir()):
            return
        version_file = self.cluster / "PG_VERSION"
        if not version_file.is_file():
            raise StackError(
                f"PostgreSQL data folder {self.cluster} is corrupt: PG_VERSION is missing",
                f"remove {self.cluster} to start with an empty database (its data is lost)",
            )
        found, wanted = version_file.read_text().strip(), self.binary_major()
        if found != wanted:
            raise StackError(
                f"PostgreSQL data in {self.cluster} was made by version {found}, the binaries are version {wanted}",
                f"set STACK_PG_BIN_DIR to PostgreSQL {found}'s binaries, or remove {self.cluster}",
            )

    def installed(self) -> bool:
        return True  # the distribution's binaries are used in place

    def install(self) -> None:
        tools.require_pg(self.ctx.stack.pg_bin_dir)

    def _own(self, path: Path) -> None:
        if self.os_user is not None:
            entry = pwd.getpwnam(self.os_user)
            os.chown(path, entry.pw_uid, entry.pw_gid)

    def prepare(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.cluster.parent.mkdir(parents=True, exist_ok=True, mode=0o755)
        if (self.cluster / "PG_VERSION").is_file():
            self._remove_stale_lock()
            return
        shutil.rmtree(self.cluster, ignore_errors=True)
        self.cluster.mkdir(mode=0o700)
        self._own(self.cluster)
        argv = [
            self._bin("initdb"),
            "-D",
            str(self.cluster),
            "-U",
            self.user,
            "--auth=trust",
            "--encoding=UTF8",
            "--no-locale",
            "--no-sync",
        ]
        result = subprocess.run(
            argv, capture_output=True, text=True, timeout=300, check=False, user=self.os_user, cwd=self.data_dir
        )
        if result.returncode != 0:
            raise StackError(
                f"initdb failed: {(result.stdout + result.stderr).strip()[-800:]}",
                f"remove {self.data_dir} and retry; check that {self.data_dir} is writable",
            )

    def _remove_stale_lock(self) -> None:
        # After a SIGKILL the lock file names a dead pid; PostgreSQL refuses to start if that pid has
        # since been reused by another process, so a lock whose pid is not a postgres is removed.
        lock = self.cluster / "postmaster.pid"
        with contextlib.suppress(OSError, ValueError, IndexError):
            pid = int(lock.read_text().splitlines()[0])
            comm = Path(f"/proc/{pid}/comm")
            if not comm.exists() or "postgres" not in comm.read_text():
                lock.unlink()

    def launch(self) -> Launch:
        argv = [
            self._bin("postgres"),
            "-D",
            str(self.cluster),
            "-p",
            str(self.endpoint.port),
            "-c",
            f"listen_addresses={self.endpoint.connect_host}",
            # No unix socket: its path length limit breaks in deep checkouts, and clients use TCP.
            "-c",
            "unix_socket_directories=",
            "-c",
            "max_connections=200",
        ]
        return Launch(argv, self.base_env(), self.data_dir, user=self.os_user)

    def probe(self, *, deep: bool, timeout_s: float) -> str:
        dsn = self.dsn if self.external else self.admin_dsn()
        health.postgres_select1(dsn, timeout_s)
        return "select 1 ok"

    def after_start(self) -> None:
        import psycopg
        from psycopg import sql

        with psycopg.connect(self.admin_dsn(), autocommit=True, connect_timeout=10) as conn:
            exists = conn.execute("select 1 from pg_database where datname = %s", (self.database,)).fetchone()
            if not exists:
                conn.execute(sql.SQL("create database {}").format(sql.Identifier(self.database)))
