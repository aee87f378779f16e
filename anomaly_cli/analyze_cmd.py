"""`anomaly analyze FILE...`: recorded files -> report.json + report.html. The run itself is ``runs.analysis``.

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
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from runs.outcome import ExitCode

if TYPE_CHECKING:
    from rich.console import Console

    from reports.model import Report
    from schemas.records import Severity


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

    from anomaly_cli.live_view import stage_bars
    from anomaly_core.supervisor import terminate_as_interrupt
    from reports.json_out import report_to_json
    from runs.analysis import Limits, probe_inputs, run_analysis
    from runs.report import empty_report

    threshold = _severity(fail_on)
    if camera_id and len(camera_id) != len(files):
        raise typer.BadParameter(f"{len(camera_id)} camera ids for {len(files)} files", param_hint="--camera-id")
    console = Console(stderr=True)
    t0 = time.monotonic()
    sources, problems = probe_inputs(files, camera_id or [], console)
    run_id = f"analyze-{datetime.now(UTC):%Y%m%d-%H%M%S}-{secrets.token_hex(2)}"
    if not sources:
        result, code = empty_report(run_id, problems, t0), ExitCode.BAD_INPUT
    else:
        limits = Limits(timeout_s=timeout, stall_s=stall, keep_topics=keep_topics)
        with terminate_as_interrupt():
            result, code = run_analysis(
                run_id, sources, problems, limits=limits, console=console, view=stage_bars(console), t0=t0
            )
    _write(result, report, console)
    code = _exit_code(result, code, threshold)
    if as_json:
        sys.stdout.write(json.dumps(report_to_json(result), indent=2) + "\n")
    else:
        _print_summary(result, console, report)
    raise typer.Exit(int(code))


def _severity(value: str | None) -> Severity | None:
    from schemas.records import Severity

    if value is None:
        return None
    try:
        return Severity(value.upper())
    except ValueError as exc:
        choices = ", ".join(s.value for s in Severity)
        raise typer.BadParameter(f"{value!r} is not one of {choices}", param_hint="--fail-on") from exc


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
