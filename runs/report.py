"""The report of a finished analysis: what the run's topics hold for each camera, with the stages' last state."""

from __future__ import annotations

import time
from dataclasses import replace
from datetime import UTC, datetime

from anomaly_core import topics
from anomaly_core.objectstore import ObjectStore
from anomaly_core.settings import ObjectStoreSettings
from reports.build import build_camera_report, build_report
from reports.collect import Decoder, RunTopics, collect_cameras
from reports.inputs import MediaInfo
from reports.model import InputProblem, Report
from runs.pipeline import PipelineRun
from runs.watch import WaitOutcome


def collect_report(
    run_id: str,
    *,
    run: PipelineRun,
    serde: Decoder,
    sources: dict[str, MediaInfo],
    problems: list[InputProblem],
    outcome: WaitOutcome | None,
    t0: float,
) -> Report:
    """Reads every camera's records back from the run's topics (and evidence frames from the store)."""

    def name(base: str) -> str:
        return topics.topic_name(base, run.prefix)

    run_topics = RunTopics(
        frames=name(topics.MEDIA_FRAMES),
        audio_chunks=name(topics.MEDIA_AUDIO),
        pose=name(topics.SCORES_POSE),
        scene=name(topics.SCORES_SCENE),
        audio=name(topics.SCORES_AUDIO),
        anomalies=name(topics.ANOMALIES),
    )
    inputs = collect_cameras(
        run.kafka,
        serde,
        run_topics,
        {camera: str(info.path) for camera, info in sources.items()},
        notes={camera: info.notes for camera, info in sources.items()},
        durations={camera: info.duration_s for camera, info in sources.items()},
        store=ObjectStore.from_settings(ObjectStoreSettings()),
    )
    return build_report(
        run_id,
        datetime.now(UTC),
        [build_camera_report(i) for i in inputs],
        problems=problems,
        stages=outcome.state.verdict.stages if outcome else [],
        skipped=run.plan.skipped,
        elapsed_s=time.monotonic() - t0,
    )


def empty_report(run_id: str, problems: list[InputProblem], t0: float) -> Report:
    """A report with no camera: only the reasons nothing was analysed."""
    return build_report(run_id, datetime.now(UTC), [], problems=problems, elapsed_s=time.monotonic() - t0)


def with_problem(report: Report, problem: InputProblem) -> Report:
    return replace(report, problems=[*report.problems, problem], complete=False)
