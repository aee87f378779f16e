"""The use case of ``anomaly analyze``: recorded files through the platform under a private topic prefix, one camera
per file, then a report of what each stage made of them.

Steps: probe the inputs; start the stack; plan the services and create the run's topics; start the processors,
one producer per file read as fast as the processors allow; start the fusion once every score is in; watch until
done or stuck; stop everything; read the report back; publish the run's anomalies on the live anomalies.v1 (marked
ANALYZE with the run id) and apply them to the projection (``reports.publish``, so a rebuild keeps them); drop the
run's topics and groups. The run has no projection sink of its own: nothing reaches the table that is not in the
log.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console

from anomaly_core.errors import PermanentError, TransientError, ValidationError
from anomaly_core.settings import DatabaseSettings, KafkaSettings
from anomaly_core.topics import ANOMALIES
from producers.keys import validate_camera_id
from reports.inputs import MediaInfo, camera_id_from_name, probe_media
from reports.model import InputProblem, Report
from reports.publish import publish_run
from runs.errors import PlatformError
from runs.outcome import ExitCode
from runs.platform import decoder, ensure_stack, open_run
from runs.report import collect_report, empty_report, with_problem
from runs.topics import create_run_topics, delete_run
from runs.watch import RunState, close_grace_s, wait_until_done

#: Fusion batches for recorded files: every score already waits in Kafka, so the worker gathers them for up to
#: two seconds into one batch and judges each camera's windows in event-time order (small batches cut at random
#: points would let one modality's evidence open an incident before another's earlier evidence is seen).
FUSION_BATCH_FOR_FILES = 100_000
FUSION_WAIT_FOR_FILES = 2000

#: Shows the run while it is watched: entered once the services run, called on every tick.
ProgressView = AbstractContextManager[Callable[[RunState], None]]


@dataclass(frozen=True, slots=True)
class Limits:
    #: Give up after this many seconds, naming the stage that is missing.
    timeout_s: float
    #: Give up when a stage makes no progress for this many seconds.
    stall_s: float
    #: Keep the run's topics and consumer groups afterwards.
    keep_topics: bool = False


def probe_inputs(
    files: list[Path], ids: list[str], console: Console
) -> tuple[dict[str, MediaInfo], list[InputProblem]]:
    """Camera id -> usable media; every unusable file is a problem with its reason."""
    sources: dict[str, MediaInfo] = {}
    problems: list[InputProblem] = []
    for i, path in enumerate(files):
        found = probe_media(path)
        if isinstance(found, InputProblem):
            console.print(f"[red]skipped[/] {path}: {found.reason}")
            problems.append(found)
            continue
        camera = ids[i] if ids else camera_id_from_name(path, sources)
        try:
            validate_camera_id(camera)
        except ValidationError as exc:
            problems.append(InputProblem(str(path), str(exc)))
            console.print(f"[red]skipped[/] {path}: {exc}")
            continue
        if camera in sources:
            problems.append(InputProblem(str(path), f"camera id {camera!r} is already used by another file"))
            continue
        for note in found.notes:
            console.print(f"[yellow]note[/] {path}: {note}")
        sources[camera] = found
    return sources, problems


def run_analysis(
    run_id: str,
    sources: dict[str, MediaInfo],
    problems: list[InputProblem],
    *,
    limits: Limits,
    console: Console,
    view: ProgressView,
    t0: float,
) -> tuple[Report, ExitCode]:
    """Runs the files through the platform; the report holds what was done even when the run was not finished."""
    prefix = f"{run_id}."
    log_dir = Path(".stack") / "runs" / run_id
    try:
        ensure_stack()
        # The fusion starts once every score is in, so it reads each camera's scores in one pass in event-time
        # order (processors run at different speeds; a live fusion would count the slower modality's scores as
        # too late).
        run = open_run(
            prefix,
            log_dir,
            with_api=False,
            with_projection=False,
            service_env={
                "fusion": {
                    "FUSION_MAX_BATCH": str(FUSION_BATCH_FOR_FILES),
                    "FUSION_MAX_WAIT_MS": str(FUSION_WAIT_FOR_FILES),
                }
            },
            deferred={"fusion"},
        )
    except PlatformError as exc:
        console.print(f"[bold red]error:[/] {exc}")
        return empty_report(run_id, problems, t0), ExitCode.PLATFORM
    for line in run.plan.skipped:
        console.print(f"[dim]skipped {line}[/]")
    serde = decoder(run.kafka)
    outcome = None
    try:
        run.start_services()
        for camera, info in sources.items():
            run.start_producer(camera, str(info.path), realtime=False, video=info.has_video)
        console.print(f"analysing {len(sources)} file(s) as run {run_id} (logs in {log_dir})")
        with view as on_tick:
            outcome = wait_until_done(
                run,
                serde,
                timeout_s=limits.timeout_s,
                stall_s=limits.stall_s,
                close_grace_s=close_grace_s(),
                on_tick=on_tick,
            )
    except KeyboardInterrupt:
        console.print("[yellow]interrupted: stopping the services and writing what was done[/]")
    finally:
        run.stop()
    failure = outcome.failure if outcome else "interrupted"
    if failure:
        console.print(f"[bold red]incomplete:[/] {failure}")
    all_problems = problems + (outcome.problems if outcome else [])
    failed = {p.path for p in all_problems}
    analysed = {c: i for c, i in sources.items() if str(i.path) not in failed}
    try:
        result = collect_report(
            run_id, run=run, serde=serde, sources=analysed, problems=all_problems, outcome=outcome, t0=t0
        )
    except TransientError as exc:  # Kafka gone at the end: a report that says so, not a traceback
        console.print(f"[bold red]incomplete:[/] could not read the run's topics: {exc}")
        failure = failure or f"could not read the run's topics: {exc}"
        result = empty_report(run_id, all_problems, t0)
    if failure:
        result = with_problem(result, InputProblem("(pipeline)", failure))
    problem = _publish(run_id, run.kafka, prefix, console)
    if problem is not None:
        result = with_problem(result, problem)
        failure = failure or problem.reason
    if not limits.keep_topics and problem is None:  # unpublished anomalies stay in the run's topics
        delete_run(run.kafka, prefix, [g for s in run.plan.services if (g := run.group_of(s.name)) is not None])
    return result, ExitCode.INCOMPLETE if failure else ExitCode.OK


def _publish(run_id: str, kafka: KafkaSettings, prefix: str, console: Console) -> InputProblem | None:
    """The run's anomalies onto anomalies.v1 and into the projection; a problem when they could not be."""
    try:
        # On a fresh stack nothing may have created the live topics yet (analyze is often the first command run).
        create_run_topics(kafka, kafka.topic_prefix)
        published = publish_run(kafka, run_prefix=prefix, run_id=run_id, dsn=DatabaseSettings().url.get_secret_value())
    except (TransientError, PermanentError, PlatformError) as exc:
        console.print(f"[bold red]not published:[/] the run's anomalies did not reach {ANOMALIES}: {exc}")
        return InputProblem("(publish)", f"anomalies not published to {ANOMALIES}: {exc}")
    console.print(f"published {published.events} anomaly revisions to {published.topic} (origin ANALYZE, run {run_id})")
    return None
