"""Evidence as short-lived presigned object-store URLs.

Signing is local HMAC work (no call to the store). Callers check the camera allow-list before
asking for a URL; this module never decides who may see what.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from anomaly_core.objectstore import ObjectStore
from anomaly_core.settings import ObjectStoreSettings
from api.models import EvidenceOut, SignedObject
from schemas.convert import from_avro
from schemas.records import Evidence, ObjectRef


class EvidenceSigner:
    def __init__(self, store: ObjectStore, ttl_s: int, *, clock: Callable[[], datetime] | None = None) -> None:
        self._store = store
        self._ttl_s = ttl_s
        self._clock = clock or (lambda: datetime.now(UTC))

    @classmethod
    def from_settings(cls, settings: ObjectStoreSettings, ttl_s: int, public_endpoint: str | None) -> EvidenceSigner:
        # URLs are signed for the host the browser will use, which may differ from the one the API reaches.
        if public_endpoint:
            settings = settings.model_copy(update={"endpoint_url": public_endpoint})
        return cls(ObjectStore.from_settings(settings), ttl_s)

    def url(self, ref: ObjectRef) -> str:
        return self._store.presign_get(ref, self._ttl_s)

    def sign(self, ref: ObjectRef) -> SignedObject:
        return SignedObject(
            bucket=ref.bucket,
            key=ref.key,
            sha256=ref.sha256,
            size_bytes=ref.size_bytes,
            content_type=ref.content_type,
            url=self.url(ref),
            expires_at=self._clock() + timedelta(seconds=self._ttl_s),
        )

    def best_frame_url(self, value: Any) -> str | None:
        """The URL of a row's ``best_frame`` (the Avro-shaped ObjectRef dict), None when there is none."""
        if not isinstance(value, dict):
            return None
        return self.url(from_avro(ObjectRef, value))

    def evidence(self, evidence: Evidence) -> EvidenceOut:
        return EvidenceOut(
            frames=[self.sign(r) for r in evidence.frames],
            best_frame=self.sign(evidence.best_frame) if evidence.best_frame else None,
            audio=[self.sign(r) for r in evidence.audio],
            transcript_excerpt=evidence.transcript_excerpt,
            caption=evidence.caption,
        )


def evidence_from_json(value: Any) -> Evidence:
    """The projection stores evidence as the Avro-shaped dict; missing parts read as empty."""
    if not isinstance(value, dict):
        return Evidence()
    data: dict[str, Any] = {"frames": [], "audio": [], "best_frame": None} | value
    return from_avro(Evidence, data)
