"""Evidence as short-lived presigned object-store URLs.

Signing is local HMAC work (no call to the store), but at ~0.1 ms a URL it would dominate a page of 50
anomalies, so URLs are reused while at least half of their lifetime is left (a bounded LRU). Callers check
the camera allow-list before asking for a URL; this module never decides who may see what.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from anomaly_core.objectstore import ObjectStore
from anomaly_core.settings import ObjectStoreSettings
from api.models import EvidenceOut, SignedObject
from schemas.convert import from_avro
from schemas.records import Evidence, ObjectRef


class EvidenceSigner:
    def __init__(
        self,
        store: ObjectStore,
        ttl_s: int,
        *,
        clock: Callable[[], float] = time.time,
        max_cached: int = 20_000,
    ) -> None:
        self._store = store
        self._ttl_s = ttl_s
        self._clock = clock
        self._max_cached = max_cached
        self._cache: OrderedDict[tuple[str, str], tuple[float, str]] = OrderedDict()
        self._lock = threading.Lock()  # used from the event loop and from the live consumer thread

    @classmethod
    def from_settings(cls, settings: ObjectStoreSettings, ttl_s: int, public_endpoint: str | None) -> EvidenceSigner:
        # URLs are signed for the host the browser will use, which may differ from the one the API reaches.
        if public_endpoint:
            settings = settings.model_copy(update={"endpoint_url": public_endpoint})
        return cls(ObjectStore.from_settings(settings), ttl_s)

    def url(self, ref: ObjectRef) -> str:
        return self._signed(ref)[1]

    def _signed(self, ref: ObjectRef) -> tuple[float, str]:
        """(expiry as a unix time, URL), from the cache while at least half the lifetime is left."""
        now = self._clock()
        key = (ref.bucket, ref.key)
        with self._lock:
            hit = self._cache.get(key)
            if hit is not None and hit[0] - now >= self._ttl_s / 2:
                self._cache.move_to_end(key)
                return hit
        # Signed a moment after ``now``, so the recorded expiry is never later than the real one.
        entry = (now + self._ttl_s, self._store.presign_get(ref, self._ttl_s))
        with self._lock:
            self._cache[key] = entry
            while len(self._cache) > self._max_cached:
                self._cache.popitem(last=False)
        return entry

    def sign(self, ref: ObjectRef) -> SignedObject:
        expires, url = self._signed(ref)
        return SignedObject(
            bucket=ref.bucket,
            key=ref.key,
            sha256=ref.sha256,
            size_bytes=ref.size_bytes,
            content_type=ref.content_type,
            url=url,
            expires_at=datetime.fromtimestamp(expires, UTC),
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
