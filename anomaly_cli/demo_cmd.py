"""`anomaly demo`: the whole platform on sample media, with a live view. The run itself is ``runs.demo``."""

from __future__ import annotations

import json
import sys
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from runs.outcome import ExitCode

if TYPE_CHECKING:
    from rich.console import Console

    from runs.watch import WaitOutcome


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


def _run_demo(duration: float | None, files: list[Path], realtime: bool, as_json: bool, console: Console) -> ExitCode:
    from anomaly_cli.live_view import demo_live
    from anomaly_core.settings import ApiSettings, KafkaSettings
    from devstack.manager import SERVICE_NAMES
    from devstack.progress import ConsoleReporter
    from runs.api_key import create_viewer_key
    from runs.demo import demo_cameras, watch_demo
    from runs.errors import PlatformError, ServicesLateError
    from runs.platform import ensure_stack, platform_services

    try:
        ensure_stack(None if as_json else ConsoleReporter(console, list(SERVICE_NAMES)))
        cameras = demo_cameras(files, console)
    except PlatformError as exc:
        console.print(f"[bold red]error:[/] {exc}")
        return ExitCode.PLATFORM
    if not cameras:
        console.print("[bold red]error:[/] no usable source")
        return ExitCode.BAD_INPUT
    log_dir = Path(".stack") / "runs" / f"demo-{datetime.now(UTC):%Y%m%d-%H%M%S}"
    api = ApiSettings()
    url = f"http://{api.host}:{api.port}/"
    key = create_viewer_key()
    try:
        with ExitStack() as running:
            with console.status("starting the services") as status:
                run = running.enter_context(
                    platform_services(
                        KafkaSettings().topic_prefix,
                        log_dir,
                        on_wait=lambda names: status.update(f"waiting for {', '.join(names)} to start"),
                    )
                )
            header = [
                f"[bold]dashboard[/]  {url}   (sign in with the API key below)",
                f"[bold]API key[/]    {key}",
                f"[dim]services log to {log_dir}; skipped: {'; '.join(run.plan.skipped) or 'none'}[/]",
            ]
            shown = {camera: path.name for camera, path in cameras.items()}
            view = demo_live(console, header, shown, quiet=as_json)
            outcome, feed = watch_demo(run, cameras, realtime=realtime, duration=duration, view=view)
    except ServicesLateError as exc:
        console.print(f"[bold red]error:[/] {exc}")
        return ExitCode.INCOMPLETE
    except PlatformError as exc:
        console.print(f"[bold red]error:[/] {exc}")
        return ExitCode.PLATFORM
    return _finish_demo(
        outcome, feed.origins, cameras=cameras, url=url, key=key, duration=duration, as_json=as_json, console=console
    )


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
