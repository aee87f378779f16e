"""``anomaly bench pipeline``: the command, its terminal table and its plot (lag and latency over time)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from bench.pipeline_stats import FIND_MAX_LIMIT_P99_S, TARGET_P99_S, StepResult


def plot_steps(steps: list[StepResult], path: Path) -> Path:
    """One column of panels per step: consumer lag per group, and capture -> row latency of each anomaly."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, len(steps), figsize=(4.2 * len(steps) + 1, 6.5), squeeze=False)
    top = max([1.0, 1.2 * TARGET_P99_S] + [v for s in steps for _, v in s.revision_series + s.row_series])
    for col, step in enumerate(steps):
        lag_ax, lat_ax = axes[0][col], axes[1][col]
        for group, series in sorted(step.lag_series.items()):
            if series:
                lag_ax.plot([t for t, _ in series], [v for _, v in series], label=group, linewidth=1.2)
        lag_ax.axvline(step.duration_s, color="grey", linestyle=":", linewidth=1)
        lag_ax.set_title(f"{step.cameras} cameras ({'held' if step.held() else 'did not hold'})", fontsize=10)
        if step.revision_series:
            xs, ys = [t for t, _ in step.revision_series], [v for _, v in step.revision_series]
            lat_ax.scatter(xs, ys, s=10, color="tab:blue", label="revision published")
        if step.row_series:
            xs, ys = [t for t, _ in step.row_series], [v for _, v in step.row_series]
            lat_ax.scatter(xs, ys, s=22, color="tab:red", marker="D", label="first row committed")
        lat_ax.set_xlim(0, step.duration_s)
        lat_ax.set_ylim(0, top)
        lat_ax.axhline(TARGET_P99_S, color="tab:green", linestyle="--", linewidth=1, label="target p99")
        lat_ax.set_xlabel("seconds into the step")
    axes[0][0].set_ylabel("consumer lag (records)")
    axes[1][0].set_ylabel("capture -> alert (s)")
    axes[0][0].legend(fontsize=7, loc="upper left")
    axes[1][0].legend(fontsize=7, loc="upper left")
    fig.suptitle("anomaly bench pipeline: lag per consumer group and alert latency", fontsize=11)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _table(steps: list[StepResult]) -> object:
    from rich.table import Table

    table = Table(title="whole pipeline on the embedded stack")
    for column in (
        "cameras",
        "frames/s",
        "row p50/p95/p99 s",
        "revision p99 s (n)",
        "pose p99 s",
        "falls",
        "infra CPU",
        "CPU %",
        "RSS MB",
        "producer/cam",
        "drained",
        "held",
    ):
        table.add_column(column)
    for s in steps:
        row, pose = s.capture_to_row_s, s.capture_to_score_s.get("pose")
        table.add_row(
            str(s.cameras),
            str(s.frames_per_second),
            f"{row.p50}/{row.p95}/{row.p99}",
            f"{s.capture_to_revision_s.p99} ({s.capture_to_revision_s.count})",
            str(pose.p99 if pose else "-"),
            f"{s.falls_detected}/{s.falls_played}",
            f"{100 * s.cpu.infrastructure_share:.0f} %",
            f"{100 * s.cpu.total_s / s.duration_s:.0f}",
            f"{s.total_peak_rss_mb:.0f}",
            f"{100 * s.producer_cpu_per_camera:.1f} %",
            "-" if s.drained_s is None else f"{s.drained_s} s",
            "yes" if s.held() else "no",
        )
    return table


def bench_pipeline(
    *,
    cameras: Annotated[int, typer.Option("--cameras", min=1, help="Cameras (with --find-max: the first step).")] = 4,
    duration: Annotated[float, typer.Option("--duration", min=15, help="Seconds each step plays.")] = 60.0,
    find_max: Annotated[
        bool,
        typer.Option("--find-max", help=f"Raise the camera count until p99 > {FIND_MAX_LIMIT_P99_S} s or lag grows."),
    ] = False,
    step: Annotated[int, typer.Option("--step", min=1, help="Cameras added per --find-max step.")] = 2,
    max_cameras: Annotated[int, typer.Option("--max-cameras", min=1, help="Where --find-max stops at most.")] = 16,
    replicas: Annotated[
        int, typer.Option("--replicas", min=1, max=4, help="Processes per processor and fusion worker group.")
    ] = 1,
    churn: Annotated[
        bool, typer.Option("--churn", help="One more replica per group joins a third into each step, leaves at two.")
    ] = False,
    profile: Annotated[
        bool, typer.Option("--profile", help="Sample each service with py-spy during each step (areas, hot spots).")
    ] = False,
    plot: Annotated[Path | None, typer.Option("--plot", help="Write the PNG here (default: the run folder).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as one JSON object.")] = False,
) -> None:
    """Whole pipeline under N cameras at the deployment defaults: frames/s, capture -> anomaly row p50/p95/p99,
    capture -> score per modality, lag per group, CPU and peak RSS per process, infrastructure share of CPU.

    Needs the embedded stack (`anomaly stack up`). Each step plays looping synthetic cameras (half of them fall)
    through `produce cameras` into the real processors, fusion, projection and API, each its own process.
    """
    from rich.console import Console

    from anomaly_core.logs import configure_logging
    from bench.pipeline import run_pipeline_bench

    configure_logging("WARNING")
    console = Console(stderr=True)
    counts = list(range(cameras, max_cameras + 1, step)) if find_max else [cameras]
    try:
        with console.status("pipeline benchmark") as status:
            result = run_pipeline_bench(
                counts,
                duration,
                lambda line: status.update(line) if as_json else console.log(line),
                replicas=replicas,
                churn=churn,
                profile=profile,
                stop_when_missed=find_max,
            )
    except RuntimeError as exc:
        console.print(f"[bold red]error:[/] {exc}")
        raise typer.Exit(2) from exc
    if result.steps:
        result.plot = plot_steps(result.steps, plot or result.run_dir / "pipeline.png")
    (result.run_dir / "result.json").write_text(json.dumps(result.as_dict(), default=str, indent=1))
    if as_json:
        typer.echo(json.dumps(result.as_dict(), default=str))
        return
    out = Console()
    out.print(_table(result.steps))
    for s in result.steps:
        for service, prof in s.profile.items():
            areas = ", ".join(f"{a} {100 * share:.0f} %" for a, share in prof["areas"].items())
            out.print(f"  {s.cameras} cameras, {service}: {areas}")
    best = result.max_cameras_held
    out.print(f"largest camera count that held: {best if best is not None else 'none'}")
    for note in result.notes:
        out.print(f"  note: {note}")
    out.print(f"  plot {result.plot}, logs {result.run_dir / 'logs'}")
