"""MinIO object storage, built once from source with `go install` into the per-user cache.

Its buckets are encrypted at rest: MinIO runs with its built-in single-node KMS (MINIO_KMS_SECRET_KEY, a key
generated per stack into the stack folder, devstack/kms_key.py) and every stack bucket gets a default SSE-KMS rule
with that key. A stack started before the key existed is restarted with it by `anomaly stack up`; objects it wrote
before stay as they were (unencrypted) until they expire.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from devstack import cache, health, kms_key, tools
from devstack.errors import StackError
from devstack.process import Launch, PidRecord
from devstack.service import Endpoint, Service, endpoint_of_url

MINIO_MODULE = "github.com/minio/minio"
# MinIO tags releases as RELEASE.<date>, which Go cannot use as versions; the module proxy serves the
# repository's last commit (2026-02-12, after RELEASE.2025-10-15T17-29-55Z) as this pseudo-version.
MINIO_VERSION = "v0.0.0-20260212201848-7aac2a2c5b7c"


class Minio(Service):
    name = "minio"
    title = "MinIO"
    env_var = "S3_ENDPOINT_URL"

    @property
    def endpoint(self) -> Endpoint:
        return endpoint_of_url(self.ctx.s3.endpoint_url, 443 if self.ctx.s3.endpoint_url.startswith("https") else 80)

    @property
    def binary(self) -> Path:
        return self.ctx.paths.cache / "bin" / f"minio-{MINIO_VERSION}"

    @property
    def kms_key_path(self) -> Path:
        return self.ctx.paths.root / "minio-kms.key"

    @property
    def buckets(self) -> list[str]:
        s3 = self.ctx.s3
        return [s3.frames_bucket, s3.audio_bucket, s3.evidence_bucket]

    def check_tools(self) -> None:
        if not self.installed():
            tools.require_go(self.ctx.stack.go)
        if len(self.ctx.s3.secret_key.get_secret_value()) < 8:
            raise StackError(
                "S3_SECRET_KEY is shorter than 8 characters, which MinIO refuses",
                "use a longer S3_SECRET_KEY (the default is anomaly-dev-secret)",
            )

    def check_data(self) -> None:
        fmt = self.data_dir / "data" / ".minio.sys" / "format.json"
        if fmt.exists():
            try:
                json.loads(fmt.read_text())
            except (ValueError, OSError) as exc:
                raise StackError(
                    f"MinIO data folder {self.data_dir / 'data'} is corrupt ({fmt} is not valid JSON)",
                    f"remove {self.data_dir} to start with empty buckets (stored objects are lost)",
                ) from exc

    def installed(self) -> bool:
        return self.binary.is_file()

    def install(self) -> None:
        if self.installed():
            return
        go = tools.require_go(self.ctx.stack.go)
        log = self.ctx.paths.cache / "logs" / f"minio-{MINIO_VERSION}-go.log"
        home = self.ctx.paths.cache / f"minio-build-{MINIO_VERSION}"

        def build(tmp: Path) -> None:
            env = {**os.environ, "GOBIN": str(tmp), "CGO_ENABLED": "0", "GOFLAGS": "-trimpath"}
            cache.run_build(
                [go, "install", f"{MINIO_MODULE}@{MINIO_VERSION}"],
                f"building MinIO {MINIO_VERSION} with go install (several minutes, once)",
                log,
                env=env,
            )

        cache.ensure(home, build)
        self.binary.parent.mkdir(parents=True, exist_ok=True)
        staging = self.binary.with_suffix(".tmp")
        shutil.copy2(home / "minio", staging)
        staging.replace(self.binary)
        shutil.rmtree(home, ignore_errors=True)

    def prepare(self) -> None:
        (self.data_dir / "data").mkdir(parents=True, exist_ok=True)
        kms_key.ensure_key(self.kms_key_path)

    def restart_reason(self, record: PidRecord) -> str | None:
        """A MinIO started before the stack had its KMS key (or before the key file was replaced) cannot encrypt
        with it."""
        kms_key.ensure_key(self.kms_key_path)
        if self.kms_key_path.stat().st_mtime > record.started_at:
            return "started before its KMS key existed (encryption at rest)"
        return None

    def launch(self) -> Launch:
        s3 = self.ctx.s3
        env = {
            **self.base_env(),
            "MINIO_KMS_SECRET_KEY": kms_key.read_key(self.kms_key_path),
            "MINIO_ROOT_USER": s3.access_key.get_secret_value(),
            "MINIO_ROOT_PASSWORD": s3.secret_key.get_secret_value(),
            "MINIO_REGION": s3.region,
            # No web console (one port less to collide) and no phoning home for updates.
            "MINIO_BROWSER": "off",
            "MINIO_UPDATE": "off",
        }
        argv = [
            str(self.binary),
            "server",
            str(self.data_dir / "data"),
            "--quiet",
            "--address",
            f"{self.endpoint.connect_host}:{self.endpoint.port}",
        ]
        return Launch(argv, env, self.data_dir)

    def client(self, timeout_s: float) -> object:
        s3 = self.ctx.s3
        return health.minio_client(
            s3.endpoint_url, s3.access_key.get_secret_value(), s3.secret_key.get_secret_value(), s3.region, timeout_s
        )

    def probe(self, *, deep: bool, timeout_s: float) -> str:
        names = health.s3_list_buckets(self.client(timeout_s))
        return f"list buckets ok ({len(names)} bucket{'s' if len(names) != 1 else ''})"

    def after_start(self) -> None:
        from typing import Any

        from anomaly_core.objectstore import sse_config

        name, _ = kms_key.parse_key(kms_key.read_key(self.kms_key_path))
        rule = sse_config("kms", name)
        client: Any = self.client(10.0)
        for bucket in self.buckets:
            if not client.bucket_exists(bucket):
                client.make_bucket(bucket)
            # Also on buckets made before the stack had a key: new objects are encrypted from now on.
            client.set_bucket_encryption(bucket, rule)
