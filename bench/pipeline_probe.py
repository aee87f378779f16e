"""What the pipeline benchmark watches while a step plays, and what it reads back after it.

``StepProbe`` samples each process tree's CPU and memory (``bench.proc_usage``), each consumer group's lag
(committed offsets against the end offsets of the topics it reads) and the processors' model CPU counters
(their Prometheus endpoints). ``read_back`` reads the step's scores from their topics and its anomaly rows from
PostgreSQL and hands everything to ``bench.pipeline_stats``.
"""

from __future__ import annotations

import time
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from anomaly_core import topics
from anomaly_core.errors import TransientError
from anomaly_core.settings import DatabaseSettings, KafkaSettings
from bench.pipeline_load import Load
from bench.pipeline_stats import ProcessUsage, Spread, StepResult, StepWindow, lag_grows, row_latencies, split_cpu
from bench.proc_usage import UsageMeter
from reports.lag import LagProbe

MODEL_CPU_METRIC = "anomaly_model_cpu_seconds_total"
#: Roles of the processes for the CPU split; anything not named is a platform service.
MODEL_SERVICES = frozenset({"pose", "scene", "audio", "caption"})
PRODUCER = "producer"
SCORE_TOPICS = {"pose": topics.SCORES_POSE, "scene": topics.SCORES_SCENE, "audio": topics.SCORES_AUDIO}


class StepProbe:
    def __init__(
        self,
        kafka: KafkaSettings,
        prefix: str,
        groups: Mapping[str, tuple[str, Sequence[str]]],
        metric_ports: Mapping[str, int],
    ) -> None:
        """``groups``: service name -> (consumer group, catalog topics it reads)."""
        self.kafka = kafka
        self.prefix = prefix
        self.groups = {name: (g, [topics.topic_name(t, prefix) for t in ts]) for name, (g, ts) in groups.items()}
        self.metric_ports = {n: p for n, p in metric_ports.items() if service_of(n) in MODEL_SERVICES}
        self.lag = LagProbe(kafka)
        self.cameras = 0
        self.meter = UsageMeter()
        self.lag_series: dict[str, list[tuple[float, int]]] = {}
        self._model_cpu_start: dict[str, float] = {}
        self._model_cpu_end: dict[str, float] = {}

    def not_joined(self) -> list[str]:
        """Services whose group has no stable member yet; asks one group at a time (one admin request in flight)
        and stops at the first that has not joined."""
        for name, (group, _) in self.groups.items():
            try:
                joined = self.lag.group_members(group) > 0
            except TransientError:
                joined = False
            if not joined:
                return [name]
        return []

    def begin(self, cameras: int) -> None:
        self.cameras = cameras
        self.meter = UsageMeter()
        self.lag_series = {name: [] for name in self.groups}
        self._model_cpu_start = self.model_cpu()

    def sample(self, pids: Mapping[str, int], t: float, *, usage: bool = True) -> None:
        """Lag of every group; CPU and memory too unless ``usage`` is off (CPU is counted while cameras play)."""
        if usage:
            self.meter.sample(pids)
        for name, lag in self.lags().items():
            self.lag_series[name].append((round(t, 1), lag))

    def lags(self) -> dict[str, int]:
        out = {}
        for name, (group, names) in self.groups.items():
            try:
                seen = self.lag.observe(group, names)
            except TransientError:
                continue
            out[name] = max(seen.expected - seen.processed, 0)
        return out

    def frames_published(self) -> int:
        """Records on the frames topic so far (all partitions)."""
        ends = self.lag.end_offsets([topics.topic_name(topics.MEDIA_FRAMES, self.prefix)])
        return sum(ends.values())

    def drain(self, sample: Callable[[], None], timeout_s: float) -> float | None:
        """Seconds until every group has caught up (None: not within ``timeout_s``)."""
        t0 = time.monotonic()
        while time.monotonic() - t0 < timeout_s:
            sample()
            if all(lag == 0 for lag in self.lags().values()):
                return round(time.monotonic() - t0, 1)
            time.sleep(1.0)
        return None

    def model_cpu(self) -> dict[str, float]:
        """CPU seconds each processor has spent in its model calls so far."""
        return {name: _scrape(port, MODEL_CPU_METRIC) for name, port in self.metric_ports.items()}

    def end_usage(self) -> None:
        """Freezes the model CPU of the step (read at the same moment as the last usage sample)."""
        self._model_cpu_end = self.model_cpu()

    def model_cpu_by_service(self) -> dict[str, float]:
        """The step's model CPU per processor (a replica that has left counts nothing)."""
        ends = self._model_cpu_end
        return {n: round(max(ends.get(n, 0.0) - self._model_cpu_start.get(n, 0.0), 0.0), 2) for n in ends}

    def close(self) -> None:
        self.lag.close()


def _scrape(port: int, metric: str) -> float:
    """Sum of one counter's samples on a service's /metrics (0 when the service does not answer)."""
    from prometheus_client.parser import text_string_to_metric_families

    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
            text = response.read().decode()
    except OSError:
        return 0.0
    name = metric.removesuffix("_total")
    return sum(
        s.value
        for fam in text_string_to_metric_families(text)
        if fam.name == name
        for s in fam.samples
        if s.name == metric
    )


def service_of(child: str) -> str:
    """``pose-2`` (a second replica) or ``pose-churn`` (one that joins and leaves) -> ``pose``."""
    base, _, suffix = child.rpartition("-")
    return base if base and (suffix.isdigit() or suffix == "churn") else child


def _role(name: str, stack_names: set[str]) -> str:
    if name in stack_names:
        return "infra"
    if name == PRODUCER:
        return "media"
    return "model" if service_of(name) in MODEL_SERVICES else "service"


ScoreRef = tuple[str, int, int]


def _read_to_end(probe: StepProbe, sources: Mapping[str, type], timeout_s: float) -> list[Any]:
    """Every record of the run's ``sources`` (topic -> record class) as ``Polled``, with partition, offset and
    Kafka timestamp; the reader and its registry client are closed afterwards."""
    from anomaly_core.registry import RegistryClient
    from anomaly_core.serde import AvroSerde
    from reports.collect import TopicReader

    with RegistryClient(probe.kafka.schema_registry_url) as registry:
        reader = TopicReader(probe.kafka, AvroSerde(registry), sources)
        try:
            return reader.read_to_end(timeout_s=timeout_s)
        finally:
            reader.close()


def _scores(probe: StepProbe, load: Load, since: float) -> tuple[dict[str, list[float]], dict[ScoreRef, float]]:
    """Capture -> score seconds per modality, and the event time of every score by (topic, partition, offset)."""
    from schemas.records import AudioScore, PoseScore, SceneScore

    classes: dict[str, type] = {"pose": PoseScore, "scene": SceneScore, "audio": AudioScore}
    names = {topics.topic_name(base, probe.prefix): modality for modality, base in SCORE_TOPICS.items()}
    cameras = set(load.cameras)
    latencies: dict[str, list[float]] = {m: [] for m in SCORE_TOPICS}
    event_times: dict[ScoreRef, float] = {}
    for polled in _read_to_end(probe, {topic: classes[m] for topic, m in names.items()}, timeout_s=120):
        record: Any = polled.record
        sent = polled.timestamp_ms / 1000
        if sent < since or record.camera_id not in cameras:
            continue
        captured = record.event_time.timestamp()
        latencies[names[polled.topic]].append(sent - captured)
        event_times[(polled.topic, polled.partition, polled.offset)] = captured
    return latencies, event_times


def _revisions(probe: StepProbe) -> tuple[dict[str, list[ScoreRef]], list[tuple[float, list[ScoreRef]]]]:
    """From the run's anomalies topic: the lineage of each anomaly's first revision (the row keeps only the newest
    one), and every revision as (its Kafka timestamp, its lineage)."""
    from schemas.records import AnomalyEvent

    topic = topics.topic_name(topics.ANOMALIES, probe.prefix)
    first: dict[str, tuple[int, list[ScoreRef]]] = {}
    every: list[tuple[float, list[ScoreRef]]] = []
    for polled in _read_to_end(probe, {topic: AnomalyEvent}, timeout_s=60):
        event: AnomalyEvent = polled.record
        lineage = [(e.topic, e.partition, e.offset) for e in event.lineage]
        every.append((polled.timestamp_ms / 1000, lineage))
        kept = first.get(event.anomaly_id)
        if kept is None or event.revision < kept[0]:
            first[event.anomaly_id] = (event.revision, lineage)
    return {anomaly_id: lineage for anomaly_id, (_, lineage) in first.items()}, every


def _rows(load: Load, since: float) -> list[tuple[str, str, list[str], datetime]]:
    from anomaly_core.db import connect

    dsn = DatabaseSettings().url.get_secret_value()
    with connect(dsn) as conn:
        cur = conn.execute(
            "select anomaly_id::text, camera_id, kinds, created_at from anomalies "
            "where camera_id = any(%s) and created_at >= to_timestamp(%s) order by created_at",
            (load.cameras, since),
        )
        return list(cur.fetchall())


def read_back(
    probe: StepProbe,
    load: Load,
    produced: Sequence[Mapping[str, Any]],
    window: StepWindow,
    *,
    stack_names: set[str],
) -> StepResult:
    """The step's figures. Row latency counts rows stored while the cameras were playing: once they stop, the
    last windows are only decided when the fusion closes idle cameras, which is not a latency of the pipeline."""
    started, stopped, played = window.started, window.stopped, window.played_s
    score_latency, event_times = _scores(probe, load, started)
    rows = _rows(load, started)
    lineage, revisions = _revisions(probe)
    revised = [(t, refs) for t, refs in revisions if started <= t <= stopped]
    revision_latencies = row_latencies(revised, event_times)
    model_cpu = probe.model_cpu_by_service()
    timed = [
        (created.timestamp(), lineage.get(aid, [])) for aid, _, _, created in rows if created.timestamp() <= stopped
    ]
    latencies = row_latencies(timed, event_times)
    falls = {(cam, aid) for aid, cam, kinds, _ in rows if "FALL" in kinds and cam in load.fall_cameras}
    usage = [
        ProcessUsage(name, _role(name, stack_names), probe.meter.cpu_s(name), probe.meter.peak_rss[name] / 2**20)
        for name in probe.meter.names()
    ]
    published = sum(int(p.get("frames_published", 0)) for p in produced)
    return StepResult(
        cameras=probe.cameras,
        duration_s=round(played, 1),
        frames_published=published,
        frames_scored={m: len(v) for m, v in score_latency.items() if m != "audio"},
        frames_dropped=sum(int(p.get("frames_dropped", 0)) for p in produced),
        producer_frames_decoded=sum(int(p.get("frames_decoded", 0)) for p in produced),
        audio_chunks_published=sum(int(p.get("audio_chunks_published", 0)) for p in produced),
        frames_per_second=round(published / played, 2) if played else 0.0,
        capture_to_score_s={m: Spread.of(v) for m, v in score_latency.items()},
        capture_to_row_s=Spread.of([lat for _, lat in latencies]),
        capture_to_revision_s=Spread.of([lat for _, lat in revision_latencies]),
        falls_played=load.falls_played(played),
        falls_detected=len(falls),
        fall_cameras_detected=len({cam for cam, _ in falls}),
        fall_cameras=len(load.fall_cameras),
        anomalies=len(rows),
        drained_s=window.drained_s,
        lag_grew=any(lag_grows([p for p in series if p[0] <= played]) for series in probe.lag_series.values()),
        cpu=split_cpu(usage, sum(model_cpu.values())),
        model_cpu_s=model_cpu,
        processes=usage,
        lag_series=probe.lag_series,
        row_series=[(round(t - started, 1), round(lat, 3)) for t, lat in latencies],
        revision_series=[(round(t - started, 1), round(lat, 3)) for t, lat in revision_latencies],
    )
