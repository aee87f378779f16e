"""Published incident revisions as ``AnomalyEvent`` records (the contract of ``anomalies.v1``)."""

from __future__ import annotations

from datetime import UTC, datetime

from fusion_app import FUSION_VERSION
from fusion_app.incidents import Incident
from schemas.records import AnomalyEvent, Evidence


def ms_to_dt(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=UTC)


def to_event(inc: Incident, decided_at: datetime) -> AnomalyEvent:
    return AnomalyEvent(
        anomaly_id=inc.anomaly_id,
        camera_id=inc.camera_id,
        revision=inc.revision,
        state=inc.state,
        incident_start=ms_to_dt(inc.start_ms),
        incident_end=ms_to_dt(inc.end_ms),
        window_start=ms_to_dt(inc.window_start_ms),
        window_end=ms_to_dt(inc.window_end_ms),
        severity=inc.severity,
        kinds=list(inc.kinds),
        score=inc.score,
        reasons=[r.text for r in inc.reasons],
        evidence=Evidence(
            frames=list(inc.frames),
            best_frame=inc.best_frame,
            audio=list(inc.audio),
            transcript_excerpt=inc.transcript,
            caption=inc.caption,
        ),
        lineage=list(inc.lineage),
        rules_version=inc.rules_version,
        fusion_version=FUSION_VERSION,
        decided_at=decided_at,
    )
