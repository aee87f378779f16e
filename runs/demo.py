"""The use case of ``anomaly demo``: the whole platform on the live topics, fed by sample media (or given files)
paced like cameras, watched until the samples have been analysed (or for a given time).

Steps: start the stack; choose the cameras; create a viewer API key; start the services and wait until they have
joined (``platform_services``); follow the media topics for frame rates; start one producer per camera; watch.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console

from anomaly_core import topics
from producers.samples import generate_samples
from reports.collect import TopicTail
from reports.inputs import MediaInfo, camera_id_from_name, probe_media
from reports.model import InputProblem
from runs.pipeline import PipelineRun
from runs.platform import decoder
from runs.rates import CameraRate
from runs.watch import RunState, WaitOutcome, close_grace_s, safe_poll, wait_until_done
from schemas.records import AudioChunkRef, FrameRef

SAMPLES_DIR = Path("data/samples")
#: A demo without --duration ends this long after its longest source at the latest.
_DRAIN_S = 600.0


@dataclass
class DemoFeed:
    """What the demo shows besides the run's state: rates per camera, and when each camera's media started."""

    rates: CameraRate = field(default_factory=CameraRate)
    #: Camera id -> epoch seconds of the media's first instant, for times relative to the file.
    origins: dict[str, float] = field(default_factory=dict)


#: Shows the demo while it is watched: entered once the producers run, called on every tick.
DemoView = AbstractContextManager[Callable[[RunState, DemoFeed], None]]


def demo_cameras(files: list[Path], console: Console) -> dict[str, Path]:
    """Camera id -> file: the given sources, or the generated samples (made once, then reused)."""
    if not files:
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


def watch_demo(
    run: PipelineRun, cameras: dict[str, Path], *, realtime: bool, duration: float | None, view: DemoView
) -> tuple[WaitOutcome, DemoFeed]:
    """Starts a producer per camera and watches the run until the pipeline is done (or ``duration`` is up)."""
    serde = decoder(run.kafka)
    frames = TopicTail(run.kafka, serde, topics.topic_name(topics.MEDIA_FRAMES, run.prefix), FrameRef, False)
    chunks = TopicTail(run.kafka, serde, topics.topic_name(topics.MEDIA_AUDIO, run.prefix), AudioChunkRef, False)
    safe_poll(frames, timeout_s=0.5)  # pins the start at the current end before the producers publish
    safe_poll(chunks, timeout_s=0.5)
    feed = DemoFeed()
    run.mark_baseline()
    for camera, path in cameras.items():
        run.start_producer(camera, str(path), realtime=realtime, shown_as=path.name)
    longest = max((_media_seconds(p) for p in cameras.values()), default=60.0)
    try:
        with view as show:

            def tick(state: RunState) -> None:
                new_frames = [f for f in safe_poll(frames, timeout_s=0.01) if f.camera_id in cameras]
                for f in new_frames:
                    feed.origins.setdefault(f.camera_id, f.captured_at.timestamp() - f.media_offset_ms / 1000)
                feed.rates.add_frames(f.camera_id for f in new_frames)
                feed.rates.add_chunks(c.camera_id for c in safe_poll(chunks, timeout_s=0.01) if c.camera_id in cameras)
                show(state, feed)

            outcome = wait_until_done(
                run,
                serde,
                timeout_s=duration if duration is not None else longest + _DRAIN_S,
                stall_s=180.0,
                close_grace_s=close_grace_s(),
                on_tick=tick,
                anomalies_from_beginning=False,
            )
    finally:
        frames.close()
        chunks.close()
    return outcome, feed


def _media_seconds(path: Path) -> float:
    found = probe_media(path)
    return found.duration_s or 60.0 if isinstance(found, MediaInfo) else 0.0
