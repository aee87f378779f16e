"""Presigned evidence URLs: reused while at least half their lifetime is left, bounded cache."""

from __future__ import annotations

from datetime import UTC, datetime

from api.presign import EvidenceSigner, evidence_from_json
from schemas.records import Evidence, ObjectRef

REF = ObjectRef("anomaly-frames", "cam-1/a.jpg", "ab" * 32, 10, "image/jpeg")


class CountingStore:
    def __init__(self) -> None:
        self.calls = 0

    def presign_get(self, ref: ObjectRef, seconds: int) -> str:
        self.calls += 1
        return f"http://store/{ref.bucket}/{ref.key}?n={self.calls}&ttl={seconds}"


class Clock:
    now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def test_urls_are_reused_for_half_their_lifetime() -> None:
    store, clock = CountingStore(), Clock()
    signer = EvidenceSigner(store, 300, clock=clock)  # type: ignore[arg-type]
    first = signer.sign(REF)
    assert first.url.endswith("n=1&ttl=300")
    assert first.expires_at == datetime.fromtimestamp(1_000_300, UTC)
    clock.now += 150
    assert signer.url(REF) == first.url and store.calls == 1
    clock.now += 1  # less than half the lifetime left: sign again
    assert signer.url(REF).endswith("n=2&ttl=300")


def test_cache_is_bounded() -> None:
    store = CountingStore()
    signer = EvidenceSigner(store, 300, clock=Clock(), max_cached=2)  # type: ignore[arg-type]
    refs = [ObjectRef("b", f"k{i}", "", 1, "image/jpeg") for i in range(3)]
    for ref in refs:
        signer.url(ref)
    signer.url(refs[0])  # evicted as the least recently used
    assert store.calls == 4


def test_evidence_json_from_the_projection() -> None:
    assert evidence_from_json(None) == Evidence()
    frame = {"bucket": "b", "key": "k", "sha256": "s", "size_bytes": 3, "content_type": "image/jpeg"}
    evidence = evidence_from_json({"frames": [frame], "best_frame": frame, "caption": "c"})
    assert evidence.best_frame == ObjectRef("b", "k", "s", 3, "image/jpeg") and evidence.audio == []
    signed = EvidenceSigner(CountingStore(), 60, clock=Clock()).evidence(evidence)  # type: ignore[arg-type]
    assert signed.best_frame is not None and signed.best_frame.url.startswith("http://store/b/k")
    assert signed.caption == "c" and len(signed.frames) == 1
