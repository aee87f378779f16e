"""Terminal views of a run: the live screen of ``anomaly demo``, the progress bars of ``anomaly analyze``,
and the anomaly table both end with."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager

from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.panel import Panel
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from reports.html import SEVERITY_COLOURS, format_time
from reports.model import StageStatus
from runs.demo import DemoFeed
from runs.rates import CameraRate
from runs.watch import RunState
from schemas.records import AnomalyEvent


def severity_text(severity: str) -> Text:
    return Text(f" {severity} ", style=f"bold white on {SEVERITY_COLOURS.get(severity, '#666666')}")


def anomaly_table(events: Sequence[AnomalyEvent], origins: dict[str, float] | None = None, title: str = "") -> Table:
    """One row per incident (newest revision); times relative to the camera's start when ``origins`` is given."""
    table = Table(title=title or None, expand=True, title_justify="left")
    for col in ("camera", "severity", "kinds", "when", "state", "reasons"):
        table.add_column(col, overflow="fold", ratio=3 if col == "reasons" else None)
    for e in sorted(events, key=lambda e: (e.camera_id, e.incident_start)):
        origin = (origins or {}).get(e.camera_id)
        if origin is not None:
            start, end = e.incident_start.timestamp() - origin, e.incident_end.timestamp() - origin
            when = f"{format_time(start)}-{format_time(end)}"
        else:
            when = f"{e.incident_start:%H:%M:%S}-{e.incident_end:%H:%M:%S}"
        excerpt = f'\n"{e.evidence.transcript_excerpt}"' if e.evidence.transcript_excerpt else ""
        table.add_row(
            e.camera_id,
            severity_text(e.severity.value),
            ", ".join(k.value for k in e.kinds),
            when,
            e.state.value,
            "; ".join(e.reasons[:3]) + excerpt,
        )
    return table


def stage_table(stages: Sequence[StageStatus]) -> Table:
    table = Table(expand=True)
    for col in ("stage", "done", "lag", "progress"):
        table.add_column(col)
    for s in stages:
        lag = max(s.expected - s.processed, 0) if s.stage != "produce" else ""
        table.add_row(s.stage, "[green]yes[/]" if s.done else "[yellow]...[/]", str(lag), s.detail)
    return table


def demo_screen(
    state: RunState, rates: CameraRate, cameras: dict[str, str], header: Sequence[str], origins: dict[str, float]
) -> RenderableType:
    cams = Table(expand=True)
    for col in ("camera", "source", "frames", "frames/s", "audio chunks", "producer"):
        cams.add_column(col)
    children = {c.name: c for c in state.children}
    for camera, source in cameras.items():
        child = children.get(f"producer-{camera}")
        status = "running" if child and child.running else ("done" if child and not child.failed else "failed")
        cams.add_row(
            camera,
            source,
            str(rates.frames.get(camera, 0)),
            f"{rates.fps(camera):.1f}",
            str(rates.chunks.get(camera, 0)),
            status,
        )
    events = list(state.anomalies.values())
    outage: list[RenderableType] = []
    if state.broker_down_s is not None:
        outage.append(
            Text(
                f"Kafka has not answered for {state.broker_down_s:.0f} s ({state.broker_error}); retrying. "
                "The pipeline shows the last numbers seen.",
                style="bold red",
            )
        )
    body: list[RenderableType] = [
        Text.from_markup("\n".join(header)),
        *outage,
        Panel(cams, title="cameras"),
        Panel(stage_table(state.verdict.stages), title=f"pipeline ({state.elapsed_s:.0f} s)"),
        Panel(
            anomaly_table(events, origins) if events else Text("none yet", style="dim"),
            title=f"anomalies ({len(events)})",
        ),
        Text("Ctrl-C stops the demo cleanly.", style="dim"),
    ]
    return Group(*body)


class StageProgress:
    """Progress bars of ``anomaly analyze``: one per stage, processed out of what has arrived so far."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        self.tasks: dict[str, TaskID] = {}

    @staticmethod
    def make(console: object) -> Progress:
        return Progress(
            TextColumn("{task.description:<11}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[detail]}", style="dim"),
            TimeElapsedColumn(),
            console=console,  # type: ignore[arg-type]
            transient=False,
        )

    def update(self, state: RunState) -> None:
        for s in state.verdict.stages:
            if s.stage not in self.tasks:
                self.tasks[s.stage] = self.progress.add_task(s.stage, total=max(s.expected, 1), detail="")
            self.progress.update(
                self.tasks[s.stage],
                total=max(s.expected, 1),
                completed=s.processed if s.expected else (1 if s.done else 0),
                detail="done" if s.done else s.detail,
            )


@contextmanager
def stage_bars(console: Console) -> Iterator[Callable[[RunState], None]]:
    """The progress bars of ``anomaly analyze`` while the block lasts; the callable updates them."""
    with StageProgress.make(console) as progress:
        yield StageProgress(progress).update


@contextmanager
def demo_live(
    console: Console, header: Sequence[str], cameras: dict[str, str], *, quiet: bool
) -> Iterator[Callable[[RunState, DemoFeed], None]]:
    """The live screen of ``anomaly demo`` while the block lasts (nothing when ``quiet``)."""
    if quiet:
        yield lambda _state, _feed: None
        return
    with Live(console=console, refresh_per_second=4, transient=False) as live:
        yield lambda state, feed: live.update(demo_screen(state, feed.rates, cameras, header, feed.origins))
