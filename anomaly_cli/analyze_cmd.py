"""`anomaly analyze FILE...` (recorded files -> report.json + report.html) and `anomaly demo` (the whole platform
on sample media with a live terminal view).

Exit codes of `anomaly analyze`:
  0  every file analysed, and no anomaly reached --fail-on
  1  the platform could not run (stack not reachable, topics not created)
  2  usage error (bad option)
  3  an anomaly at or above --fail-on SEVERITY was found
  4  some files could not be analysed (each one is named with the reason; the others are in the report)
  5  the pipeline did not finish: a stage is missing or timed out (named; the report holds what was done)
The first that applies in the order 3, 5, 4, 1 wins, so `--fail-on` stays meaningful for scripts.
"""

from __future__ import annotations

import json
import secrets
import sys
import time
from datetime import UTC, datetime
from enum import IntEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from rich.console import Console

    from anomaly_cli.pipeline_run import PipelineRun, WaitOutcome
    from anomaly_core.settings import KafkaSettings
    from reports.collect import Decoder
    from reports.inputs import MediaInfo
    from reports.model import InputProblem, Report
    from reports.plan import RunPlan
    from schemas.records import Severity


class ExitCode(IntEnum):
    OK = 0
    PLATFORM = 1
    USAGE = 2
    FAIL_ON = 3
    BAD_INPUT = 4
    INCOMPLETE = 5


SAMPLES_DIR = Path("data/samples")
SERVICE_START_TIMEOUT_S = 180.0
#: Fusion batches for recorded files: every score already waits in Kafka, so the worker gathers them for up to
#: two seconds into one batch and judges each camera's windows in event-time order (small batches cut at random
#: points would let one modality's evidence open an incident before another's earlier evidence is seen).
FUSION_BATCH_FOR_FILES = 100_000
FUSION_WAIT_FOR_FILES = 2000


def analyze(
    files: Annotated[list[Path], typer.Argument(help="Video or audio files; each one is analysed as a camera.")],
    *,
    report: Annotated[Path, typer.Option("--report", help="Folder for report.json and report.html.")],
    camera_id: Annotated[
        list[str] | None,
        typer.Option("--camera-id", help="Camera id per file, in order (default: from the file name)."),
    ] = None,
    fail_on: Annotated[
        str | None,
        typer.Option("--fail-on", help="Exit 3 when an anomaly of this severity or higher is found (LOW..CRITICAL)."),
    ] = None,
    timeout: Annotated[
        float, typer.Option(help="Give up after this many seconds, naming the stage that is missing.")
    ] = 600.0,
    stall: Annotated[float, typer.Option(help="Give up when a stage makes no progress for this many seconds.")] = 120.0,
    keep_topics: Annotated[bool, typer.Option(help="Keep the run's Kafka topics (deleted by default).")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON on stdout.")] = False,
) -> None:
    """Run recorded files through the platform and write a report.

    Each file is a camera under a private topic prefix, read as fast as the
    processors allow. Once the fusion has seen everything, REPORT/report.json
    (anomalies with time ranges from the file start, kinds, severity, reasons,
    transcript excerpts, lineage) and REPORT/report.html (score timelines,
    evidence frames, transcript) are written.

    Exit codes: 0 ok; 1 platform unavailable; 3 --fail-on met;
    4 some files unusable; 5 pipeline incomplete (the stage is named).
    """
    from rich.console import Console

    from anomaly_core.supervisor import terminate_as_interrupt
    from reports.json_out import report_to_json

    threshold = _severity(fail_on)
    if camera_id and len(camera_id) != len(files):
        raise typer.BadParameter(f"{len(camera_id)} camera ids for {len(files)} files", param_hint="--camera-id")
    console = Console(stderr=True)
    t0 = time.monotonic()
    sources, problems = _probe_inputs(files, camera_id or [], console)
    run_id = f"analyze-{datetime.now(UTC):%Y%m%d-%H%M%S}-{secrets.token_hex(2)}"
    if not sources:
        result = _empty_report(run_id, problems, t0)
        code = ExitCode.BAD_INPUT
    else:
        with terminate_as_interrupt():
            result, code = _run_analysis(
                run_id,
                sources=sources,
                problems=problems,
                timeout_s=timeout,
                stall_s=stall,
                keep_topics=keep_topics,
                console=console,
                t0=t0,
            )
    _write(result, report, console)
    code = _exit_code(result, code, threshold)
    if as_json:
        sys.stdout.write(json.dumps(report_to_json(result), indent=2) + "\n")
    else:
        _print_summary(result, console, report)
    raise typer.Exit(int(code))


def demo(
    duration: Annotated[
        float | None,
        typer.Option(help="Stop after this many seconds (default: when the samples have been fully analysed)."),
    ] = None,
    source: Annotated[
        list[Path] | None, typer.Option("--source", help="Media file to use as a camera instead of the samples.")
    ] = None,
    realtime: Annotated[bool, typer.Option(help="Pace files like live cameras.")] = True,
    as_json: Annotated[bool, typer.Option("--json", help="No live view; print a JSON summary at the end.")] = False,
) -> None:
    """Run the whole platform on sample media, with a live view.

    Starts the stack, the processors whose models are present, the fusion,
    the projection and the API; prints the dashboard URL and a fresh API key;
    shows cameras, frames/s, consumer lag and anomalies as they come. Ends
    when the samples are done (or after --duration, or on Ctrl-C), stopping
    every service cleanly.
    """
    from rich.console import Console

    from anomaly_core.supervisor import terminate_as_interrupt

    console = Console(stderr=as_json)
    try:
        with terminate_as_interrupt():
            code = _run_demo(duration, source or [], realtime, as_json, console)
    except KeyboardInterrupt:
        console.print("[yellow]stopped[/]")
        code = ExitCode.OK
    raise typer.Exit(int(code))


# --- analyze -----------------------------------------------------------------------------------------------------


def _severity(value: str | None) -> Severity | None:
    from schemas.records import Severity

    if value is None:
        return None
    try:
        return Severity(value.upper())
    except ValueError as exc:
        choices = ", ".join(s.value for s in Severity)
        raise typer.BadParameter(f"{value!r} is not one of {choices}", param_hint="--fail-on") from exc


def _probe_inputs(
    files: list[Path], ids: list[str], console: Console
) -> tuple[dict[str, MediaInfo], list[InputProblem]]:
    from anomaly_core.errors import ValidationError
    from producers.keys import validate_camera_id
    from reports.inputs import camera_id_from_name, probe_media
    from reports.model import InputProblem

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


def _empty_report(run_id: str, problems: list[InputProblem], t0: float) -> Report:
    from reports.build import build_report

    return build_report(run_id, datetime.now(UTC), [], problems=problems, elapsed_s=time.monotonic() - t0)


def _run_analysis(
    run_id: str,
    *,
    sources: dict[str, MediaInfo],
    problems: list[InputProblem],
    timeout_s: float,
    stall_s: float,
    keep_topics: bool,
    console: Console,
    t0: float,
) -> tuple[Report, ExitCode]:
    from anomaly_cli.live_view import StageProgress
    from anomaly_cli.pipeline_run import PipelineRun, wait_until_done
    from anomaly_core.errors import TransientError
    from anomaly_core.settings import KafkaSettings
    from reports.model import InputProblem

    kafka = KafkaSettings()
    prefix = f"{run_id}."
    try:
        _stack_up(console, quiet=True)
        plan = _plan(with_api=False)
        _create_topics(kafka, prefix)
    except _PlatformError as exc:
        console.print(f"[bold red]error:[/] {exc}")
        return _empty_report(run_id, problems, t0), ExitCode.PLATFORM
    for line in plan.skipped:
        console.print(f"[dim]skipped {line}[/]")
    log_dir = Path(".stack") / "runs" / run_id
    # The fusion starts once every score is in, so it reads each camera's scores in one pass in event-time order
    # (processors run at different speeds; a live fusion would count the slower modality's scores as too late).
    run = PipelineRun(
        plan=plan,
        kafka=kafka,
        prefix=prefix,
        log_dir=log_dir,
        env=_run_env(),
        service_groups=_service_groups(),
        service_env={
            "fusion": {
                "FUSION_MAX_BATCH": str(FUSION_BATCH_FOR_FILES),
                "FUSION_MAX_WAIT_MS": str(FUSION_WAIT_FOR_FILES),
            }
        },
        deferred={"fusion"},
    )
    serde = _serde(kafka)
    outcome = None
    try:
        run.start_services()
        for camera, info in sources.items():
            run.start_producer(camera, str(info.path), realtime=False, video=info.has_video)
        console.print(f"analysing {len(sources)} file(s) as run {run_id} (logs in {log_dir})")
        with StageProgress.make(console) as progress:
            bars = StageProgress(progress)
            outcome = wait_until_done(
                run, serde, timeout_s=timeout_s, stall_s=stall_s, close_grace_s=_close_grace_s(), on_tick=bars.update
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
        result = _collect_report(
            run_id, run=run, kafka=kafka, serde=serde, sources=analysed, problems=all_problems, outcome=outcome, t0=t0
        )
    except TransientError as exc:  # Kafka gone at the end: a report that says so, not a traceback
        console.print(f"[bold red]incomplete:[/] could not read the run's topics: {exc}")
        failure = failure or f"could not read the run's topics: {exc}"
        result = _empty_report(run_id, all_problems, t0)
    if failure:
        result = _with_problem(result, InputProblem("(pipeline)", failure))
    if not keep_topics:
        groups = [g for s in plan.services if (g := run.group_of(s.name)) is not None]
        _delete_run(kafka, prefix, groups)
    return result, ExitCode.INCOMPLETE if failure else ExitCode.OK


def _collect_report(
    run_id: str,
    *,
    run: PipelineRun,
    kafka: KafkaSettings,
    serde: Decoder,
    sources: dict[str, MediaInfo],
    problems: list[InputProblem],
    outcome: WaitOutcome | None,
    t0: float,
) -> Report:
    from anomaly_core import topics
    from anomaly_core.objectstore import ObjectStore
    from anomaly_core.settings import ObjectStoreSettings
    from reports.build import build_camera_report, build_report
    from reports.collect import RunTopics, collect_cameras

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
        kafka,
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


def _with_problem(report: Report, problem: InputProblem) -> Report:
    from dataclasses import replace

    return replace(report, problems=[*report.problems, problem], complete=False)


def _write(report: Report, folder: Path, console: Console) -> None:
    from reports.html import write_html
    from reports.json_out import write_json

    write_json(report, folder / "report.json")
    write_html(report, folder / "report.html")
    console.print(f"wrote {folder / 'report.json'} and {folder / 'report.html'}")


def _exit_code(report: Report, code: ExitCode, threshold: Severity | None) -> ExitCode:
    from reports.build import meets_severity

    if threshold is not None and meets_severity(report, threshold):
        return ExitCode.FAIL_ON
    if code in (ExitCode.INCOMPLETE, ExitCode.PLATFORM):
        return code
    if report.problems:
        return ExitCode.BAD_INPUT
    return code


def _print_summary(report: Report, console: Console, folder: Path) -> None:
    from rich.table import Table

    from anomaly_cli.live_view import severity_text
    from reports.html import format_time

    table = Table(title=f"anomalies ({len(report.anomalies)})", title_justify="left", expand=True)
    for col in ("camera", "severity", "kinds", "from", "to", "reasons"):
        table.add_column(col, overflow="fold")
    for cam in report.cameras:
        for a in cam.anomalies:
            table.add_row(
                cam.camera_id,
                severity_text(a.severity.value),
                ", ".join(k.value for k in a.kinds),
                format_time(a.start_s),
                format_time(a.end_s),
                "; ".join(a.reasons[:3]),
            )
    if report.anomalies:
        console.print(table)
    for cam in report.cameras:
        if not cam.anomalies:
            console.print(f"{cam.camera_id}: no anomaly")
    for p in report.problems:
        console.print(f"[red]not analysed[/] {p.path}: {p.reason}")
    console.print(f"report: {folder / 'report.html'} ({report.elapsed_s:.1f} s)")


# --- shared by analyze and demo -------------------------------------------------------------------------------------


class _PlatformError(Exception):
    pass


def _stack_up(console: Console, *, quiet: bool) -> None:
    from devstack.errors import StackError
    from devstack.manager import SERVICE_NAMES, Stack
    from devstack.progress import ConsoleReporter, Reporter

    try:
        stack = Stack()
        reporter = Reporter() if quiet else ConsoleReporter(console, list(SERVICE_NAMES))
        with reporter:
            stack.up(None, reporter)
    except StackError as exc:
        raise _PlatformError(f"the stack is not available: {exc}") from exc


def _plan(*, with_api: bool) -> RunPlan:
    from processors.models import catalog
    from processors.settings import ProcessorSettings
    from reports.plan import plan_run

    available = {entry.name for entry in catalog(ProcessorSettings()) if entry.present}
    return plan_run(available, with_api=with_api)


def _service_groups() -> dict[str, str]:
    """Group ids of the fusion worker and the projection sink, which the environment may rename."""
    from fusion_app.settings import FusionSettings, ProjectionSettings

    return {"fusion": FusionSettings().group_id, "projection": ProjectionSettings().group_id}


def _run_env() -> dict[str, str]:
    import os

    # No private sampling: runs see the deployment defaults (FRAME_PROCESSING_RATE, POSE_FRAME_RATE, ...) or
    # whatever the caller's environment sets, which the services inherit.
    # Services log to files; their own progress bars would only fill the logs. The run's topics are its own and
    # its services may join after the first records were published: they read them from the start.
    return {"LOG_LEVEL": os.environ.get("LOG_LEVEL", "INFO"), "CONSUMER_START": "earliest"}


def _create_topics(kafka: KafkaSettings, prefix: str) -> None:
    from confluent_kafka import KafkaException

    from anomaly_core.admin import admin_client, create_topics
    from anomaly_core.kafka_logs import client_logger
    from anomaly_core.topics import build_catalog

    try:
        admin = admin_client(kafka, logger=client_logger())
        create_topics(admin, build_catalog(kafka, prefix=prefix), replication=kafka.replication_factor)
    except KafkaException as exc:
        raise _PlatformError(f"could not create the topics under prefix {prefix!r}: {exc}") from exc


def _delete_run(kafka: KafkaSettings, prefix: str, groups: list[str]) -> None:
    """Drops a finished run's topics and consumer groups; its anomalies stay in the PostgreSQL projection."""
    from confluent_kafka import KafkaException

    from anomaly_core.admin import admin_client, delete_topics
    from anomaly_core.kafka_logs import client_logger

    admin = admin_client(kafka, logger=client_logger())
    try:
        delete_topics(admin, [t for t in admin.list_topics(timeout=10).topics if t.startswith(prefix)])
        if groups:
            for future in admin.delete_consumer_groups(groups, request_timeout=30).values():
                future.result(timeout=30)
    except (KafkaException, TimeoutError) as exc:
        # A leftover of a finished run is harmless; say so and carry on.
        print(f"note: could not remove every topic/group of the run: {exc}", file=sys.stderr)


def _serde(kafka: KafkaSettings) -> Decoder:
    from anomaly_core.registry import RegistryClient
    from anomaly_core.serde import AvroSerde

    return AvroSerde(RegistryClient(kafka.schema_registry_url))


def _close_grace_s() -> float:
    """How long after the pipeline caught up an incident may stay open: the fusion closes idle cameras itself."""
    from fusion_app.rules import load_rules

    return load_rules().windows.idle_timeout_ms / 1000 + 10.0


# --- demo --------------------------------------------------------------------------------------------------------


def _run_demo(duration: float | None, files: list[Path], realtime: bool, as_json: bool, console: Console) -> ExitCode:
    from anomaly_cli.pipeline_run import PipelineRun
    from anomaly_core.settings import ApiSettings, KafkaSettings

    try:
        _stack_up(console, quiet=as_json)
        kafka = KafkaSettings()
        _create_topics(kafka, kafka.topic_prefix)
        plan = _plan(with_api=True)
        cameras = _demo_cameras(files, console)
    except _PlatformError as exc:
        console.print(f"[bold red]error:[/] {exc}")
        return ExitCode.PLATFORM
    if not cameras:
        console.print("[bold red]error:[/] no usable source")
        return ExitCode.BAD_INPUT
    run_id = f"demo-{datetime.now(UTC):%Y%m%d-%H%M%S}"
    log_dir = Path(".stack") / "runs" / run_id
    run = PipelineRun(
        plan=plan,
        kafka=kafka,
        prefix=kafka.topic_prefix,
        log_dir=log_dir,
        env=_run_env(),
        service_groups=_service_groups(),
    )
    api = ApiSettings()
    url = f"http://{api.host}:{api.port}/"
    try:
        run.start_services()
        key = _demo_api_key()
        with console.status("starting the services") as status:
            late = run.wait_ready(
                SERVICE_START_TIMEOUT_S, lambda names: status.update(f"waiting for {', '.join(names)} to start")
            )
        if late:
            console.print(f"[bold red]error:[/] {', '.join(late)} did not start; see the logs in {log_dir}")
            return ExitCode.INCOMPLETE
        header = [
            f"[bold]dashboard[/]  {url}   (sign in with the API key below)",
            f"[bold]API key[/]    {key}",
            f"[dim]services log to {log_dir}; skipped: {'; '.join(plan.skipped) or 'none'}[/]",
        ]
        outcome, origins = _watch_demo(
            run, cameras, realtime=realtime, duration=duration, header=header, as_json=as_json, console=console
        )
    finally:
        run.stop()
    return _finish_demo(
        outcome, origins, cameras=cameras, url=url, key=key, duration=duration, as_json=as_json, console=console
    )


def _demo_cameras(files: list[Path], console: Console) -> dict[str, Path]:
    """Camera id -> file: the given sources, or the generated samples (made once, then reused)."""
    from reports.inputs import camera_id_from_name, probe_media
    from reports.model import InputProblem

    if not files:
        from producers.samples import generate_samples

        console.print(f"sample media in {SAMPLES_DIR} (generated on first use)")
        samples = generate_samples(SAMPLES_DIR)
        # Two cameras keep the demo light on a small machine: a fall with a call for help, and someone walking.
        return {f"demo-{clip.name}": clip.path for clip in (samples.fall, samples.benign)}
    cameras: dict[str, Path] = {}
    for path in files:
        found = probe_media(path)
        if isinstance(found, InputProblem):
            console.print(f"[red]skipped[/] {path}: {found.reason}")
            continue
        cameras[camera_id_from_name(path, cameras)] = path
    return cameras


def _demo_api_key() -> str:
    import os
    import subprocess

    from anomaly_core.supervisor import anomaly_command

    done = subprocess.run(
        anomaly_command("apikeys", "create", "--name", "demo", "--role", "viewer", "--expires-days", "1", "--json"),
        env=dict(os.environ),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if done.returncode != 0:
        return f"(could not create one: {(done.stderr or done.stdout).strip()[-200:]})"
    return str(json.loads(done.stdout)["key"])


def _watch_demo(
    run: PipelineRun,
    cameras: dict[str, Path],
    *,
    realtime: bool,
    duration: float | None,
    header: list[str],
    as_json: bool,
    console: Console,
) -> tuple[WaitOutcome, dict[str, float]]:
    from contextlib import nullcontext

    from rich.live import Live

    from anomaly_cli.live_view import CameraRate, demo_screen
    from anomaly_cli.pipeline_run import RunState, safe_poll, wait_until_done
    from anomaly_core import topics
    from reports.collect import TopicTail
    from schemas.records import AudioChunkRef, FrameRef

    serde = _serde(run.kafka)
    frames = TopicTail(run.kafka, serde, topics.topic_name(topics.MEDIA_FRAMES, run.prefix), FrameRef, False)
    chunks = TopicTail(run.kafka, serde, topics.topic_name(topics.MEDIA_AUDIO, run.prefix), AudioChunkRef, False)
    safe_poll(frames, timeout_s=0.5)  # pins the start at the current end before the producers publish
    safe_poll(chunks, timeout_s=0.5)
    rates = CameraRate()
    origins: dict[str, float] = {}
    shown = {camera: path.name for camera, path in cameras.items()}
    run.mark_baseline()
    for camera, path in cameras.items():
        run.start_producer(camera, str(path), realtime=realtime, shown_as=path.name)
    live = nullcontext() if as_json else Live(console=console, refresh_per_second=4, transient=False)

    def tick(state: RunState) -> None:
        new_frames = [f for f in safe_poll(frames, timeout_s=0.01) if f.camera_id in cameras]
        for f in new_frames:
            origins.setdefault(f.camera_id, f.captured_at.timestamp() - f.media_offset_ms / 1000)
        rates.add_frames(f.camera_id for f in new_frames)
        rates.add_chunks(c.camera_id for c in safe_poll(chunks, timeout_s=0.01) if c.camera_id in cameras)
        if isinstance(live, Live):
            live.update(demo_screen(state, rates, shown, header, origins))

    longest = max((_media_seconds(p) for p in cameras.values()), default=60.0)
    try:
        with live:
            outcome = wait_until_done(
                run,
                serde,
                timeout_s=duration if duration is not None else longest + 600.0,
                stall_s=180.0,
                close_grace_s=_close_grace_s(),
                on_tick=tick,
                anomalies_from_beginning=False,
            )
    finally:
        frames.close()
        chunks.close()
    return outcome, origins


def _media_seconds(path: Path) -> float:
    from reports.inputs import MediaInfo, probe_media

    found = probe_media(path)
    return found.duration_s or 60.0 if isinstance(found, MediaInfo) else 0.0


def _finish_demo(
    outcome: WaitOutcome,
    origins: dict[str, float],
    *,
    cameras: dict[str, Path],
    url: str,
    key: str,
    duration: float | None,
    as_json: bool,
    console: Console,
) -> ExitCode:
    from anomaly_cli.live_view import anomaly_table, stage_table

    events = [e for e in outcome.state.anomalies.values() if e.camera_id in cameras]
    # With --duration the clock, not the pipeline, decides the end: a timeout is the expected way out.
    failure = None if duration is not None else outcome.failure
    if as_json:
        body = {
            "dashboard_url": url,
            "api_key": key,
            "cameras": {camera: str(path) for camera, path in cameras.items()},
            "finished": outcome.finished,
            "failure": failure,
            "stages": [{"stage": s.stage, "done": s.done, "detail": s.detail} for s in outcome.state.verdict.stages],
            "anomalies": [_demo_anomaly_json(e, origins.get(e.camera_id)) for e in events],
        }
        sys.stdout.write(json.dumps(body, indent=2) + "\n")
    else:
        console.print(stage_table(outcome.state.verdict.stages))
        console.print(anomaly_table(events, origins, title=f"anomalies found ({len(events)})"))
        console.print(f"The dashboard was at {url}; `anomaly api` serves it again with these anomalies.")
    if failure:
        console.print(f"[bold red]incomplete:[/] {failure}")
        return ExitCode.INCOMPLETE
    return ExitCode.OK


def _demo_anomaly_json(event: object, origin: float | None) -> dict[str, object]:
    from schemas.records import AnomalyEvent

    assert isinstance(event, AnomalyEvent)
    start, end = event.incident_start.timestamp(), event.incident_end.timestamp()
    return {
        "anomaly_id": event.anomaly_id,
        "camera_id": event.camera_id,
        "state": event.state.value,
        "severity": event.severity.value,
        "kinds": [k.value for k in event.kinds],
        "start_s": round(start - origin, 3) if origin is not None else None,
        "end_s": round(end - origin, 3) if origin is not None else None,
        "incident_start": event.incident_start.isoformat(),
        "incident_end": event.incident_end.isoformat(),
        "reasons": list(event.reasons),
        "transcript_excerpt": event.evidence.transcript_excerpt,
    }
