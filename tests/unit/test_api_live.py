"""The live wire format of an anomaly event."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from api.live import broadcast_for
from schemas.records import AnomalyEvent, AnomalyKind, AnomalyState, Evidence, ObjectRef, Severity

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
FRAME = ObjectRef("anomaly-frames", "cam-1/abc.jpg", "ab" * 32, 1234, "image/jpeg")


def event(best_frame: ObjectRef | None) -> AnomalyEvent:
    return AnomalyEvent(
        anomaly_id="7d0c8f0e-1b1a-4a53-9d8e-2f1f7c0b9a11",
        camera_id="cam-1",
        revision=2,
        state=AnomalyState.OPEN,
        incident_start=T0,
        incident_end=T0 + timedelta(seconds=4),
        window_start=T0,
        window_end=T0 + timedelta(seconds=5),
        severity=Severity.HIGH,
        kinds=[AnomalyKind.FALL, AnomalyKind.DISTRESS_SPEECH],
        score=0.91,
        reasons=["torso angle 80 deg", "'help' heard"],
        evidence=Evidence(frames=[FRAME], best_frame=best_frame, transcript_excerpt="help me", caption="a man lying"),
        lineage=[],
        rules_version="rules-1",
        fusion_version="1.0.0",
        decided_at=T0 + timedelta(seconds=5),
    )


def test_broadcast_carries_what_the_dashboard_shows() -> None:
    signed: list[ObjectRef] = []

    def sign(ref: ObjectRef) -> str:
        signed.append(ref)
        return "http://store/signed"

    b = broadcast_for(event(FRAME), sign)
    assert b.camera_id == "cam-1" and b.severity_rank == 2
    body = json.loads(b.text)
    assert body["type"] == "anomaly"
    anomaly = body["anomaly"]
    assert anomaly["kinds"] == ["FALL", "DISTRESS_SPEECH"]
    assert anomaly["transcript"] == "help me" and anomaly["caption"] == "a man lying"
    assert anomaly["best_frame_url"] == "http://store/signed" and signed == [FRAME]
    assert anomaly["incident_start"].startswith("2025-03-01T12:00:00")


def test_broadcast_without_a_frame_has_no_url() -> None:
    body = json.loads(broadcast_for(event(None), lambda ref: "never").text)
    assert body["anomaly"]["best_frame_url"] is None
