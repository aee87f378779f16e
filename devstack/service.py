"""What every stack service provides; the manager drives them all through this interface."""

from __future__ import annotations

import os
import signal
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar
from urllib.parse import urlsplit

from anomaly_core.settings import DatabaseSettings, KafkaSettings, ObjectStoreSettings, StackSettings
from devstack.paths import StackPaths
from devstack.process import Launch, PidRecord

LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1", "0.0.0.0", ""})


@dataclass(frozen=True)
class Endpoint:
    host: str
    port: int
    clustered: bool = False  # several bootstrap servers: a real cluster, never the local single node

    @property
    def local(self) -> bool:
        return not self.clustered and self.host in LOCAL_HOSTS

    @property
    def connect_host(self) -> str:
        return "127.0.0.1" if self.host in ("", "localhost", "0.0.0.0") else self.host

    def __str__(self) -> str:
        return f"{self.host}:{self.port}"


def endpoint_of_url(url: str, default_port: int) -> Endpoint:
    parts = urlsplit(url)
    return Endpoint(parts.hostname or "", parts.port or default_port)


def endpoint_of_servers(servers: str, default_port: int = 9092) -> Endpoint:
    """The first of a bootstrap list; a list of several servers is never a local single node."""
    servers_list = [item.strip() for item in servers.split(",") if item.strip()]
    first = servers_list[0] if servers_list else ""
    host, _, port = first.rpartition(":") if ":" in first else (first, "", str(default_port))
    return Endpoint(host.strip("[]"), int(port), clustered=len(servers_list) > 1)


@dataclass(frozen=True)
class StackContext:
    stack: StackSettings
    kafka: KafkaSettings
    db: DatabaseSettings
    s3: ObjectStoreSettings
    paths: StackPaths

    @classmethod
    def from_env(cls) -> StackContext:
        stack = StackSettings()
        return cls(stack, KafkaSettings(), DatabaseSettings(), ObjectStoreSettings(), StackPaths.from_settings(stack))


class Service(ABC):
    name: ClassVar[str]
    title: ClassVar[str]
    stop_signal: ClassVar[signal.Signals] = signal.SIGTERM
    env_var: ClassVar[str]  # the setting that points clients (and the stack) at this service

    def __init__(self, ctx: StackContext) -> None:
        self.ctx = ctx

    @property
    @abstractmethod
    def endpoint(self) -> Endpoint: ...

    @property
    def external(self) -> bool:
        return not self.endpoint.local

    def ports(self) -> list[int]:
        """Every port the managed process listens on (all must be free before it starts)."""
        return [self.endpoint.port]

    @property
    def data_dir(self) -> Path:
        return self.ctx.paths.data(self.name)

    @property
    def log_path(self) -> Path:
        return self.ctx.paths.log(self.name)

    @property
    def pidfile(self) -> Path:
        return self.ctx.paths.pidfile(self.name)

    def check_tools(self) -> None:
        """Raises StackError when a program this service needs (now or to install) is missing."""
        return

    def check_data(self) -> None:
        """Raises StackError when the data folder exists but cannot be what this service wrote."""
        return

    @abstractmethod
    def installed(self) -> bool: ...

    @abstractmethod
    def install(self) -> None:
        """Fills the per-user cache (download/build); a no-op once cached."""

    def prepare(self) -> None:
        """First-start work in the data folder (format storage, initdb) and config files."""
        return

    @abstractmethod
    def launch(self) -> Launch: ...

    @abstractmethod
    def probe(self, *, deep: bool, timeout_s: float) -> str:
        """One real request; returns a short detail, raises ProbeError when not answered."""

    def after_start(self) -> None:
        """Work once the service answers (databases, buckets)."""
        return

    def restart_reason(self, record: PidRecord) -> str | None:
        """Why the running process (``record``) must be restarted by `up` to pick up what the stack now requires
        (a generated key it was started without); None when it may keep running."""
        return None

    def base_env(self) -> dict[str, str]:
        keep = ("PATH", "HOME", "LANG", "LC_ALL", "TZ", "TMPDIR", "USER", "LOGNAME")
        return {key: os.environ[key] for key in keep if key in os.environ}
