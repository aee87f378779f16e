"""The figures of a pipeline benchmark step, computed from what was sampled and read back. Pure.

A step is N cameras for S seconds. Its latencies are wall-clock differences against event time (the producers
stamp capture time from the same clock): capture -> score per modality (the score's Kafka timestamp), and
capture -> anomaly row committed (the row's ``created_at`` against the capture time of the newest score its first
revision was decided on). CPU is split into the models (what the processors' model calls cost, from their
``anomaly_model_cpu_seconds_total`` counters), media (the producer: decoding, motion, JPEG encoding, uploads) and
everything else: Kafka, the registry, PostgreSQL, MinIO, Avro, Faust, the sinks and the processors' own plumbing.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

#: Latency target of the issue (p99 capture -> row) and the bound ``--find-max`` stops at.
TARGET_P99_S = 1.5
FIND_MAX_LIMIT_P99_S = 2.0


def percentile(values: Sequence[float], q: float) -> float | None:
    """Nearest-rank percentile (q in 0..100); None when there is nothing to rank."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


@dataclass(frozen=True)
class Spread:
    count: int
    p50: float | None
    p95: float | None
    p99: float | None
    max: float | None

    @classmethod
    def of(cls, values: Sequence[float]) -> Spread:
        rounded = [round(v, 3) for v in values]
        return cls(
            len(rounded),
            percentile(rounded, 50),
            percentile(rounded, 95),
            percentile(rounded, 99),
            max(rounded) if rounded else None,
        )


@dataclass
class StepWindow:
    """Wall-clock epoch seconds of a step: cameras started and stopped; seconds the pipeline took to drain."""

    started: float
    stopped: float = 0.0
    drained_s: float | None = None

    @property
    def played_s(self) -> float:
        return self.stopped - self.started


@dataclass(frozen=True)
class ProcessUsage:
    name: str
    role: str  # "model" (a processor), "media" (the producer), "service" (fusion, sink, API), "infra" (stack)
    cpu_s: float
    peak_rss_mb: float

    def cpu_percent(self, seconds: float) -> float:
        return round(100.0 * self.cpu_s / seconds, 1) if seconds > 0 else 0.0


@dataclass(frozen=True)
class CpuSplit:
    total_s: float
    models_s: float
    media_s: float
    infrastructure_s: float

    @property
    def infrastructure_share(self) -> float:
        return round(self.infrastructure_s / self.total_s, 3) if self.total_s else 0.0

    def as_dict(self) -> dict[str, float]:
        return {
            "total_s": round(self.total_s, 2),
            "models_s": round(self.models_s, 2),
            "media_s": round(self.media_s, 2),
            "infrastructure_s": round(self.infrastructure_s, 2),
            "infrastructure_share": self.infrastructure_share,
        }


def split_cpu(usage: Iterable[ProcessUsage], model_cpu_s: float) -> CpuSplit:
    """Models = what the model calls cost; media = the producer; the rest is infrastructure and plumbing."""
    rows = list(usage)
    total = sum(u.cpu_s for u in rows)
    media = sum(u.cpu_s for u in rows if u.role == "media")
    models = min(model_cpu_s, total - media)
    return CpuSplit(total, models, media, max(total - media - models, 0.0))


def row_latencies(
    rows: Iterable[tuple[float, Sequence[tuple[str, int, int]]]], event_times: Mapping[tuple[str, int, int], float]
) -> list[tuple[float, float]]:
    """(created_at, capture -> row committed) per anomaly: ``rows`` are (created_at epoch s, lineage as (topic,
    partition, offset)); the capture time is the newest event time among the lineage's scores. Rows whose lineage
    was not read back (another run's topics) are left out."""
    out = []
    for created_at, lineage in rows:
        captured = [event_times[ref] for ref in lineage if ref in event_times]
        if captured:
            out.append((created_at, created_at - max(captured)))
    return out


def lag_grows(series: Sequence[tuple[float, int]], min_rise: int = 10) -> bool:
    """Whether a group fell behind for good during a step: the smallest lag of the last quarter is above the
    largest of the second quarter (by at least ``min_rise`` records). The saw-tooth of batches being picked up and
    committed never satisfies that; a backlog that keeps building does."""
    q = len(series) // 4
    if q < 2:
        return False
    earlier = [v for _, v in series[q : 2 * q]]
    last = [v for _, v in series[3 * q :]]
    return min(last) - max(earlier) >= min_rise


@dataclass
class StepResult:
    cameras: int
    duration_s: float
    frames_published: int
    frames_scored: dict[str, int]
    frames_dropped: int
    producer_frames_decoded: int
    audio_chunks_published: int
    frames_per_second: float
    capture_to_score_s: dict[str, Spread]
    capture_to_row_s: Spread
    #: Every revision (opened, updated, closed) of every anomaly: capture of its newest input -> published.
    capture_to_revision_s: Spread
    falls_played: int
    falls_detected: int
    fall_cameras_detected: int
    fall_cameras: int
    anomalies: int
    drained_s: float | None
    lag_grew: bool
    cpu: CpuSplit
    processes: list[ProcessUsage]
    #: CPU seconds each processor spent inside its model calls during the step.
    model_cpu_s: dict[str, float] = field(default_factory=dict)
    lag_series: dict[str, list[tuple[float, int]]] = field(default_factory=dict)
    row_series: list[tuple[float, float]] = field(default_factory=list)
    #: (seconds into the step, capture -> published) of every revision published while the cameras played.
    revision_series: list[tuple[float, float]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    #: Per profiled service (``--profile``): samples, share per area, top functions (``bench.pipeline_profile``).
    profile: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def total_peak_rss_mb(self) -> float:
        return round(sum(p.peak_rss_mb for p in self.processes), 1)

    @property
    def producer_cpu_per_camera(self) -> float:
        """Share of one core the producer spends per camera."""
        media = sum(p.cpu_s for p in self.processes if p.role == "media")
        return round(media / self.duration_s / self.cameras, 3) if self.cameras and self.duration_s else 0.0

    def held(self, p99_limit_s: float = FIND_MAX_LIMIT_P99_S) -> bool:
        """The load was sustained: latency within the limit, lag drained and not growing, falls found."""
        p99 = self.capture_to_row_s.p99
        return (
            p99 is not None
            and p99 <= p99_limit_s
            and not self.lag_grew
            and self.drained_s is not None
            and self.fall_cameras_detected == self.fall_cameras
        )

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["cpu"] = self.cpu.as_dict()
        data["processes"] = [
            {**asdict(p), "cpu_percent": p.cpu_percent(self.duration_s), "peak_rss_mb": round(p.peak_rss_mb, 1)}
            for p in self.processes
        ]
        data["total_peak_rss_mb"] = self.total_peak_rss_mb
        data["producer_cpu_per_camera"] = self.producer_cpu_per_camera
        data["held"] = self.held()
        data["meets_target"] = self.held(TARGET_P99_S) and self.cpu.infrastructure_share <= 0.15
        return data
