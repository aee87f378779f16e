"""Media object store (MinIO/S3): content-addressed puts, verified gets, presigned URLs.

Connection problems become ``TransientError`` (the caller retries and keeps its offset); a missing
object or a hash mismatch becomes ``ObjectMissingError`` (permanent: dead-letter).
"""

from __future__ import annotations

import hashlib
import io
from datetime import timedelta
from urllib.parse import urlparse

import urllib3
from minio import Minio
from minio.error import S3Error

from anomaly_core.errors import ObjectMissingError, TransientError
from anomaly_core.settings import ObjectStoreSettings
from schemas.records import ObjectRef

_MISSING_CODES = {"NoSuchKey", "NoSuchBucket", "NoSuchObject"}


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class ObjectStore:
    """A thin wrapper over the MinIO SDK with the platform's error semantics."""

    def __init__(self, client: Minio) -> None:
        self._client = client

    @classmethod
    def from_settings(cls, settings: ObjectStoreSettings, *, timeout_s: float = 10.0) -> ObjectStore:
        url = urlparse(settings.endpoint_url)
        http = urllib3.PoolManager(
            timeout=urllib3.Timeout(connect=min(3.0, timeout_s), read=timeout_s),
            retries=urllib3.Retry(total=0),  # retries belong to the caller, which knows the offset
            maxsize=16,
        )
        client = Minio(
            url.netloc,
            access_key=settings.access_key.get_secret_value(),
            secret_key=settings.secret_key.get_secret_value(),
            secure=url.scheme == "https",
            region=settings.region,
            http_client=http,
        )
        return cls(client)

    @property
    def client(self) -> Minio:
        return self._client

    def ensure_bucket(self, bucket: str) -> None:
        try:
            if not self._client.bucket_exists(bucket):
                self._client.make_bucket(bucket)
        except S3Error as exc:
            if exc.code not in {"BucketAlreadyOwnedByYou", "BucketAlreadyExists"}:
                raise
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise TransientError(f"object store unreachable: {exc}") from exc

    def put(self, bucket: str, key: str, data: bytes, content_type: str) -> ObjectRef:
        """Stores ``data`` and returns its reference once the store has acknowledged it (durable)."""
        digest = sha256_hex(data)
        try:
            self._client.put_object(
                bucket, key, io.BytesIO(data), len(data), content_type=content_type, metadata={"sha256": digest}
            )
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise TransientError(f"object store unreachable while writing {bucket}/{key}: {exc}") from exc
        except S3Error as exc:
            if exc.code in {"SlowDown", "ServiceUnavailable", "InternalError", "RequestTimeout"}:
                raise TransientError(f"object store busy writing {bucket}/{key}: {exc.code}") from exc
            raise
        return ObjectRef(bucket=bucket, key=key, sha256=digest, size_bytes=len(data), content_type=content_type)

    def get(self, ref: ObjectRef, *, max_bytes: int = 64 * 1024 * 1024) -> bytes:
        """Reads an object and checks its sha256 against the reference."""
        if ref.size_bytes > max_bytes:
            raise ObjectMissingError(f"{ref.bucket}/{ref.key} is {ref.size_bytes} bytes, over the {max_bytes} limit")
        try:
            response = self._client.get_object(ref.bucket, ref.key)
            try:
                data = response.read(max_bytes + 1)
            finally:
                response.close()
                response.release_conn()
        except S3Error as exc:
            if exc.code in _MISSING_CODES:
                raise ObjectMissingError(f"{ref.bucket}/{ref.key} not found (expired or never stored)") from exc
            raise TransientError(f"object store error reading {ref.bucket}/{ref.key}: {exc.code}") from exc
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise TransientError(f"object store unreachable while reading {ref.bucket}/{ref.key}: {exc}") from exc
        if len(data) > max_bytes:
            raise ObjectMissingError(f"{ref.bucket}/{ref.key} is larger than the {max_bytes} byte limit")
        if ref.sha256 and sha256_hex(data) != ref.sha256:
            raise ObjectMissingError(f"{ref.bucket}/{ref.key} sha256 does not match its reference")
        return data

    def presign_get(self, ref: ObjectRef, seconds: int) -> str:
        return self._client.presigned_get_object(ref.bucket, ref.key, expires=timedelta(seconds=seconds))

    def ping(self) -> None:
        """Lists buckets; raises ``TransientError`` when the store does not answer."""
        try:
            self._client.list_buckets()
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise TransientError(f"object store unreachable: {exc}") from exc
