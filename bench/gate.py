"""``anomaly bench gate``: what the producer's motion gate costs per decoded frame, and what it publishes.

For each clip (default: the sample clips in ``data/samples`` and the cached 720p producer benchmark clip), every
video frame is decoded as the producer does (PyAV, one thread), and the gate's own work is timed: reading the
luma plane, the 64 px ``INTER_AREA`` thumbnail, the frame difference and the decision. Decoding is not part of
the figure (the producer decodes every frame anyway). The frames the gate publishes per stage are counted at the
settings of the environment (the deployment defaults unless FRAME_PROCESSING_RATE, POSE_FRAME_RATE, ... are set).
No Kafka, no object store: this is the gate alone.
"""

from __future__ import annotations

import json
import os
import platform
import threading
import time
from pathlib import Path
from typing import Annotated, Any

import typer

SAMPLES_DIR = Path("data/samples")


def gate_settings_from_env() -> Any:
    from anomaly_core.settings import ProcessingSettings
    from producers.motion import GateSettings

    return GateSettings.from_settings(ProcessingSettings())


def measure_clip(path: Path, settings: Any) -> dict[str, Any]:
    """Gate cost per decoded frame (µs) and frames published per stage for one clip."""
    from producers.motion import MotionGate, luma, thumbnail
    from producers.sources import Decoded, ReadOptions, SourceCounters, parse_source, read_source
    from schemas.records import FrameStage

    gate = MotionGate(settings)
    spent: list[float] = []
    decoded = pose = scene = moving = 0
    width = height = 0
    last_s = 0.0
    for item in read_source(
        parse_source(str(path)), ReadOptions(audio=False, decode_threads=1), SourceCounters(), threading.Event()
    ):
        if not isinstance(item, Decoded) or item.kind != "video":
            continue
        started = time.perf_counter()
        decision = gate.decide(item.timeline_s, thumbnail(luma(item.frame)))
        spent.append(time.perf_counter() - started)
        decoded += 1
        width, height = item.frame.width, item.frame.height
        last_s = item.timeline_s or last_s
        moving += decision.motion >= settings.motion_threshold
        pose += FrameStage.POSE in decision.stages
        scene += FrameStage.SCENE in decision.stages
    us = sorted(s * 1e6 for s in spent[1:])  # the first frame pays the one-off imports
    return {
        "clip": str(path),
        "size": f"{width}x{height}",
        "seconds": round(last_s, 2),
        "frames_decoded": decoded,
        "frames_with_motion": moving,
        "frames_published": pose,  # every published frame is for pose
        "frames_for_scene": scene,
        "frames_pose_only": pose - scene,
        "gate_us_mean": round(sum(us) / len(us), 1) if us else None,
        "gate_us_p50": round(us[len(us) // 2], 1) if us else None,
        "gate_us_p99": round(us[min(len(us) - 1, int(len(us) * 0.99))], 1) if us else None,
    }


def run_gate_bench(clips: list[Path], *, pin: bool = True) -> dict[str, Any]:
    from bench.common import pin_to_one_cpu

    settings = gate_settings_from_env()
    pinned = pin_to_one_cpu() if pin else None
    return {
        "settings": {
            "FRAME_PROCESSING_RATE": settings.rate,
            "FRAME_SKIP_RATE": settings.skip,
            "POSE_FRAME_RATE": settings.pose_rate,
            "POSE_HOLD_SECONDS": settings.pose_hold_s,
            "SCENE_MAX_INTERVAL_SECONDS": settings.scene_max_interval_s,
            "MOTION_THRESHOLD": settings.motion_threshold,
        },
        "clips": [measure_clip(clip, settings) for clip in clips],
        "cpu": pinned,
        "load_avg_1m": round(os.getloadavg()[0], 2),
        "machine": f"{platform.node()} {platform.machine()} {os.cpu_count()} CPUs, Python {platform.python_version()}",
    }


def _default_clips() -> list[Path]:
    from bench.producer import bench_clip
    from producers.samples import generate_samples

    samples = generate_samples(SAMPLES_DIR)
    return [clip.path for clip in samples.clips] + [bench_clip(10.0, 30)]


def bench_gate(
    clips: Annotated[
        list[Path] | None,
        typer.Argument(help="Video files (default: data/samples clips and the 720p producer benchmark clip)."),
    ] = None,
    pin: Annotated[bool, typer.Option(help="Pin the process to one CPU.")] = True,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as one JSON object.")] = False,
) -> None:
    """Motion gate: µs per decoded frame and frames published for pose / scene per clip, at the env's settings."""
    from rich.console import Console
    from rich.table import Table

    from anomaly_core.logs import configure_logging

    configure_logging("WARNING")
    result = run_gate_bench(clips or _default_clips(), pin=pin)
    if as_json:
        typer.echo(json.dumps(result))
        return
    table = Table(title="motion gate (" + ", ".join(f"{k}={v}" for k, v in result["settings"].items()) + ")")
    for column in ("clip", "size", "s", "decoded", "motion", "pose", "scene", "pose only", "µs mean", "µs p99"):
        table.add_column(column)
    for c in result["clips"]:
        table.add_row(
            Path(c["clip"]).name,
            c["size"],
            str(c["seconds"]),
            str(c["frames_decoded"]),
            str(c["frames_with_motion"]),
            str(c["frames_published"]),
            str(c["frames_for_scene"]),
            str(c["frames_pose_only"]),
            str(c["gate_us_mean"]),
            str(c["gate_us_p99"]),
        )
    out = Console()
    out.print(table)
    out.print(f"  CPU {result['cpu']}, load {result['load_avg_1m']}, {result['machine']}")
