"""The pipeline benchmark's figures: percentiles, row latency from lineage, CPU split, lag growth, verdicts."""

from __future__ import annotations

from bench.pipeline_load import Load
from bench.pipeline_stats import (
    CpuSplit,
    ProcessUsage,
    Spread,
    StepResult,
    lag_grows,
    percentile,
    row_latencies,
    split_cpu,
)


def test_percentile_is_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 50) == 50.0
    assert percentile(values, 99) == 99.0
    assert percentile(values, 100) == 100.0
    assert percentile([], 50) is None
    assert Spread.of([0.5]).p99 == 0.5


def test_row_latency_counts_from_the_newest_score_the_row_was_decided_on() -> None:
    times = {("s.pose", 0, 1): 100.0, ("s.pose", 0, 2): 101.0, ("s.audio", 0, 7): 100.5}
    rows = [
        (101.8, [("s.pose", 0, 1), ("s.pose", 0, 2), ("s.audio", 0, 7)]),
        (200.0, [("other", 0, 1)]),  # lineage of another run: left out
    ]
    [(created, latency)] = row_latencies(rows, times)
    assert created == 101.8
    assert round(latency, 3) == 0.8


def test_cpu_split_keeps_models_media_and_the_rest_apart() -> None:
    usage = [
        ProcessUsage("pose", "model", 30.0, 300.0),
        ProcessUsage("producer", "media", 10.0, 200.0),
        ProcessUsage("kafka", "infra", 8.0, 900.0),
        ProcessUsage("fusion", "service", 2.0, 150.0),
    ]
    split = split_cpu(usage, model_cpu_s=25.0)
    assert (split.total_s, split.models_s, split.media_s, split.infrastructure_s) == (50.0, 25.0, 10.0, 15.0)
    assert split.infrastructure_share == 0.3
    # A model counter larger than what was measured outside the producer cannot make the rest negative.
    assert split_cpu(usage, model_cpu_s=99.0).infrastructure_s == 0.0


def test_lag_growth_tells_a_backlog_from_batches_being_picked_up() -> None:
    sawtooth = [(float(t), 40 if t % 3 else 0) for t in range(60)]
    rising = [(float(t), t * 20) for t in range(60)]
    assert not lag_grows(sawtooth)
    assert lag_grows(rising)
    assert not lag_grows(rising[:4])  # too short to tell


def _step(**changes: object) -> StepResult:
    base: dict[str, object] = {
        "cameras": 4,
        "duration_s": 60.0,
        "frames_published": 600,
        "frames_scored": {"pose": 600, "scene": 120},
        "frames_dropped": 0,
        "producer_frames_decoded": 3600,
        "audio_chunks_published": 240,
        "frames_per_second": 10.0,
        "capture_to_score_s": {"pose": Spread.of([0.2, 0.3])},
        "capture_to_row_s": Spread.of([0.9, 1.1, 1.2]),
        "capture_to_revision_s": Spread.of([0.5, 0.9, 1.1, 1.2]),
        "falls_played": 8,
        "falls_detected": 8,
        "fall_cameras_detected": 2,
        "fall_cameras": 2,
        "anomalies": 9,
        "drained_s": 3.0,
        "lag_grew": False,
        "cpu": CpuSplit(100.0, 60.0, 20.0, 20.0),
        "processes": [ProcessUsage("producer", "media", 20.0, 200.0), ProcessUsage("pose", "model", 60.0, 400.0)],
    }
    base.update(changes)
    return StepResult(**base)  # type: ignore[arg-type]


def test_a_step_holds_only_with_latency_drained_lag_and_every_fall_camera_alerting() -> None:
    assert _step().held()
    assert not _step(capture_to_row_s=Spread.of([2.5])).held()
    assert not _step(capture_to_row_s=Spread.of([])).held()
    assert not _step(drained_s=None).held()
    assert not _step(lag_grew=True).held()
    assert not _step(fall_cameras_detected=1).held()
    data = _step().as_dict()
    assert data["held"] and data["total_peak_rss_mb"] == 600.0
    assert data["producer_cpu_per_camera"] == round(20.0 / 60.0 / 4, 3)
    assert data["meets_target"] is False  # infrastructure is 20 % of CPU, over the 15 % target


def test_falls_played_counts_only_falls_seen_long_enough() -> None:
    load = Load(cameras=["a", "b", "c"], fall_cameras=["a", "c"], fall_at_s=5.3, fall_clip_s=12.0)
    assert load.falls_played(8.0) == 0
    assert load.falls_played(8.3) == 2
    assert load.falls_played(60.0) == 2 * 5


def test_profiles_are_read_as_innermost_frames_and_areas() -> None:
    from bench.pipeline_profile import area_of, by_area, hot_spots, leaf_counts

    raw = [
        "<module> (anomaly_cli/main.py:5);handle (processors/handling.py:150);run (onnxruntime/capi/session.py:220) 60",
        "<module> (anomaly_cli/main.py:5);poll (confluent_kafka/cimpl.py:1) 25",
        "<module> (anomaly_cli/main.py:5);decode (anomaly_core/serde.py:40);read (fastavro/_read.py:9) 15",
        "garbage line",
    ]
    leaves = leaf_counts(raw)
    assert sum(leaves.values()) == 100
    assert area_of("run (onnxruntime/capi/session.py:220)") == "models"
    assert area_of("somewhere (app/thing.py:1)") == "other"
    assert by_area(leaves) == {"models": 0.6, "kafka": 0.25, "avro": 0.15}
    assert hot_spots(leaves, top=1) == [("run (onnxruntime/capi/session.py:220)", 0.6)]
