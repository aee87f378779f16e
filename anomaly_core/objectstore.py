"""Media object store (MinIO/S3): content-addressed puts, verified gets, presigned URLs.

Connection problems become ``TransientError`` (the caller retries and keeps its offset); a missing
object or a hash mismatch becomes ``ObjectMissingError`` (permanent: dead-letter). A bucket the platform creates
gets a default server-side encryption rule (``S3_SSE``) before anything is written to it.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
from collections.abc import Mapping
from datetime import timedelta
from urllib.parse import urlparse

import urllib3
from minio import Minio
from minio.error import S3Error
from minio.sseconfig import Rule, SSEConfig

from anomaly_core.errors import ObjectMissingError, TransientError
from anomaly_core.settings import ObjectStoreSettings
from schemas.records import ObjectRef

_MISSING_CODES = {"NoSuchKey", "NoSuchBucket", "NoSuchObject"}


class BucketEncryptionError(RuntimeError):
    """The store will not encrypt a new bucket (no KMS configured): a deployment mistake, not an outage."""


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sse_config(sse: str, kms_key_id: str | None = None) -> SSEConfig | None:
    """The bucket default-encryption rule for ``S3_SSE`` (off | s3 | kms)."""
    if sse == "off":
        return None
    if sse == "s3":
        return SSEConfig(Rule.new_sse_s3_rule())
    if sse == "kms" and kms_key_id:
        return SSEConfig(Rule.new_sse_kms_rule(kms_key_id))
    raise ValueError(f"S3_SSE={sse!r} (with key id {kms_key_id!r}) is not off, s3, or kms with a key id")


def encryption_of(headers: Mapping[str, str] | urllib3.HTTPHeaderDict) -> str | None:
    """How an object is encrypted at rest, from its metadata: "AES256", "aws:kms" (or None: not encrypted)."""
    return {key.lower(): value for key, value in headers.items()}.get("x-amz-server-side-encryption")


class ObjectStore:
    """A thin wrapper over the MinIO SDK with the platform's error semantics."""

    def __init__(self, client: Minio, sse: SSEConfig | None = None) -> None:
        self._client = client
        self._sse = sse

    @classmethod
    def from_settings(cls, settings: ObjectStoreSettings, *, timeout_s: float = 10.0) -> ObjectStore:
        url = urlparse(settings.endpoint_url)
        http = urllib3.PoolManager(
            timeout=urllib3.Timeout(connect=min(3.0, timeout_s), read=timeout_s),
            retries=urllib3.Retry(total=0),  # retries belong to the caller, which knows the offset
            maxsize=16,
            ca_certs=str(settings.ca_bundle) if settings.ca_bundle else None,
        )
        client = Minio(
            url.netloc,
            access_key=settings.access_key.get_secret_value(),
            secret_key=settings.secret_key.get_secret_value(),
            secure=url.scheme == "https",
            region=settings.region,
            http_client=http,
        )
        return cls(client, sse_config(settings.sse, settings.sse_kms_key_id))

    @property
    def client(self) -> Minio:
        return self._client

    def ensure_bucket(self, bucket: str) -> None:
        """Creates ``bucket`` with the default encryption rule when it does not exist (an existing bucket keeps its
        own rule: Terraform's, or the one the embedded stack sets)."""
        try:
            if self._client.bucket_exists(bucket):
                return
            self._client.make_bucket(bucket)
        except S3Error as exc:
            if exc.code not in {"BucketAlreadyOwnedByYou", "BucketAlreadyExists"}:
                raise
            return  # created by someone else meanwhile, who set its rule
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise TransientError(f"object store unreachable: {exc}") from exc
        self.encrypt_new_bucket(bucket)

    def encrypt_new_bucket(self, bucket: str) -> None:
        """Sets the default encryption rule on a bucket just made (and still empty); when the store refuses it (no
        KMS configured), the bucket is removed again so that nothing is ever written to it unencrypted."""
        if self._sse is None:
            return
        try:
            self._client.set_bucket_encryption(bucket, self._sse)
        except S3Error as exc:
            with contextlib.suppress(S3Error, urllib3.exceptions.HTTPError, OSError):
                self._client.remove_bucket(bucket)
            raise BucketEncryptionError(
                f"the object store refused default encryption for bucket {bucket} ({exc.code}: {exc.message}); "
                "configure its KMS (MinIO: MINIO_KMS_SECRET_KEY; `anomaly stack up` does it for the embedded stack) "
                "or set S3_SSE=off"
            ) from exc
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise TransientError(f"object store unreachable: {exc}") from exc

    def encryption(self, bucket: str, key: str) -> str | None:
        """How one stored object is encrypted at rest ("AES256", "aws:kms"; None: in the clear)."""
        return encryption_of(self._client.stat_object(bucket, key).metadata or {})

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
