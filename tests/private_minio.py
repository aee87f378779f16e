"""A MinIO server of one test only (its own port and data folder), which the test may stop and restart: store
outages are injected here, never on the stack's shared MinIO.

Re-export the fixture in a test module: ``private_minio = private_minio_fixtures.private_minio``.
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from anomaly_core.objectstore import ObjectStore
from anomaly_core.settings import ObjectStoreSettings


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _minio_binary() -> Path:
    from anomaly_core.settings import StackSettings
    from devstack.minio import MINIO_VERSION
    from devstack.paths import StackPaths

    return StackPaths.from_settings(StackSettings()).cache / "bin" / f"minio-{MINIO_VERSION}"


class PrivateMinio:
    """A MinIO server of this test only, on its own port and data folder, that the test may stop and restart."""

    def __init__(self, binary: Path, data: Path, settings: ObjectStoreSettings) -> None:
        self.binary, self.data, self.settings = binary, data, settings
        self.port = _free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def store_settings(self) -> ObjectStoreSettings:
        """``settings`` pointed at this server (no KMS here, so no server-side encryption)."""
        return self.settings.model_copy(update={"endpoint_url": self.url, "sse": "off"})

    def start(self) -> None:
        env = {
            **os.environ,
            "MINIO_ROOT_USER": self.settings.access_key.get_secret_value(),
            "MINIO_ROOT_PASSWORD": self.settings.secret_key.get_secret_value(),
            "MINIO_BROWSER": "off",
            "MINIO_UPDATE": "off",
        }
        argv = [str(self.binary), "server", str(self.data), "--quiet", "--address", f"127.0.0.1:{self.port}"]
        self.proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        store = ObjectStore.from_settings(self.store_settings, timeout_s=2)
        deadline = time.monotonic() + 30
        while True:
            try:
                store.ping()
                return
            except Exception:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait(10)


@pytest.fixture
def private_minio(tmp_path: Path, object_store_settings: ObjectStoreSettings) -> Iterator[PrivateMinio]:
    binary = _minio_binary()
    if not binary.is_file():
        pytest.skip(f"MinIO binary not built yet ({binary}); `anomaly stack up` builds it")
    server = PrivateMinio(binary, tmp_path / "minio-data", object_store_settings)
    server.start()
    yield server
    if server.proc is not None and server.proc.poll() is None:
        server.kill()
