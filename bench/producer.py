"""``anomaly bench producer``: frames published per second from a 720p file on one core.

Decodes a cached 720p h264 clip (rendered by ``producers.samples`` on first use), keeps every frame
(``FRAME_SKIP_RATE=1``), encodes JPEG, stores each object in MinIO, and publishes its FrameRef (plus the
AudioChunkRefs of the audio track) through the real registry and Kafka, as fast as possible (``--no-realtime``).
The process and every thread it starts are pinned to one CPU; MinIO and Kafka run on the others.
"""

from __future__ import annotations

import json
import os
import platform
import resource
import threading
import time
import uuid
from pathlib import Path
from typing import Annotated, Any

import typer

TARGET_FPS = 60.0


def _cache_dir() -> Path:
    root = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
    return root / "anomaly" / "bench"


def bench_clip(seconds: float, fps: int, width: int = 1280, height: int = 720) -> Path:
    """The benchmark clip (a person walking in a room, room tone), rendered once and cached."""
    from producers.samples import AUDIO_RATE, render_frames, room_noise, walk_timeline, write_clip

    path = _cache_dir() / f"producer-{width}x{height}-{fps}fps-{seconds:g}s.mp4"
    if path.exists():
        return path
    tmp = path.with_suffix(".part.mp4")
    frames = render_frames(lambda t: walk_timeline(t, seconds), seconds, fps=fps, width=width, height=height, seed=3)
    write_clip(tmp, frames, fps=fps, width=width, height=height, audio=room_noise(seconds, AUDIO_RATE, 3))
    tmp.rename(path)
    return path


def run_producer_bench(
    *, seconds: float = 10.0, fps: int = 30, cpu: int | None = None, pin: bool = True, audio: bool = True
) -> dict[str, Any]:
    from confluent_kafka.admin import NewTopic

    from anomaly_core.admin import admin_client
    from anomaly_core.settings import KafkaSettings, ObjectStoreSettings
    from bench.common import pin_to_one_cpu
    from producers.pipeline import PipelineOptions
    from producers.runner import build_services, destinations, make_pipeline
    from producers.sources import ReadOptions, parse_source

    clip = bench_clip(seconds, fps)  # rendering is not part of the measurement
    pinned = pin_to_one_cpu(cpu) if pin else None
    run_id = uuid.uuid4().hex[:8]
    kafka = KafkaSettings().model_copy(update={"topic_prefix": f"bench.{run_id}."})
    bucket = f"anomaly-bench-{run_id}"
    store_settings = ObjectStoreSettings().model_copy(update={"frames_bucket": bucket, "audio_bucket": bucket})
    admin = admin_client(kafka)
    dest = destinations(kafka, store_settings)
    topics = [dest.frames_topic, dest.audio_topic]
    services = None
    try:
        futures = admin.create_topics([NewTopic(t, num_partitions=1, replication_factor=1) for t in topics])
        for future in futures.values():
            future.result(30)
        services = build_services(
            kafka, store_settings, client_id="bench-producer", kafka_timeout_s=30, store_timeout_s=30
        )
        opts = PipelineOptions(camera_id="bench-720p", skip=1, realtime=False, upload_workers=2, queue_size=32)
        pipeline = make_pipeline(parse_source(str(clip)), ReadOptions(audio=audio), opts, services, threading.Event())
        cpu0 = resource.getrusage(resource.RUSAGE_SELF)
        started = time.monotonic()
        stats = pipeline.run()
        wall = time.monotonic() - started
        cpu1 = resource.getrusage(resource.RUSAGE_SELF)
    finally:
        admin.delete_topics(topics)
        if services is not None:
            _remove_bucket(services.store.client, bucket)
    cpu_s = (cpu1.ru_utime - cpu0.ru_utime) + (cpu1.ru_stime - cpu0.ru_stime)
    fps_out = stats.frames_published / wall
    return {
        "frames_published": stats.frames_published,
        "audio_chunks_published": stats.audio_chunks_published,
        "wall_s": round(wall, 3),
        "frames_per_s": round(fps_out, 1),
        "cpu_s": round(cpu_s, 3),
        "frames_per_cpu_s": round(stats.frames_published / cpu_s, 1) if cpu_s else None,
        "upload_ms_mean": stats.summary()["upload_ms_mean"],
        "jpeg_kb_mean": round(stats.bytes_stored / max(1, stats.frames_published) / 1024, 1),
        "target_fps": TARGET_FPS,
        "meets_target": fps_out >= TARGET_FPS,
        "cpu": pinned,
        # Other processes share the machine (MinIO and Kafka among them): wall figures move with this.
        "load_avg_1m": round(os.getloadavg()[0], 2),
        "clip": {"path": str(clip), "width": 1280, "height": 720, "fps": fps, "seconds": seconds, "audio": audio},
        "machine": f"{platform.node()} {platform.machine()} {os.cpu_count()} CPUs, Python {platform.python_version()}",
    }


def _remove_bucket(client: Any, bucket: str) -> None:
    from minio.deleteobjects import DeleteObject

    try:
        names = [DeleteObject(o.object_name) for o in client.list_objects(bucket, recursive=True)]
        for _error in client.remove_objects(bucket, names):
            pass
        client.remove_bucket(bucket)
    except Exception:  # noqa: S110 - cleanup is best effort; a leftover bench bucket is harmless
        pass


def bench_producer(
    *,
    seconds: Annotated[float, typer.Option(help="Length of the 720p clip, seconds.", min=1)] = 10.0,
    fps: Annotated[int, typer.Option(help="Frame rate of the clip (every frame is published).", min=1)] = 30,
    cpu: Annotated[int | None, typer.Option(help="CPU to pin to (default: the last one).")] = None,
    pin: Annotated[bool, typer.Option(help="Pin the process to one CPU.")] = True,
    audio: Annotated[bool, typer.Option(help="Also chunk and publish the audio track.")] = True,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as one JSON object.")] = False,
) -> None:
    """Producer throughput: a 720p file -> JPEG in MinIO + FrameRef in Kafka, frames per second on one core."""
    from rich.console import Console

    from anomaly_core.logs import configure_logging

    configure_logging("WARNING")
    console = Console(stderr=True)
    with console.status("running the producer benchmark (the 720p clip is rendered once, then cached)"):
        result = run_producer_bench(seconds=seconds, fps=fps, cpu=cpu, pin=pin, audio=audio)
    if as_json:
        typer.echo(json.dumps(result))
        return
    out = Console()
    verdict = "[green]meets[/]" if result["meets_target"] else "[red]below[/]"
    out.print(
        f"[bold]{result['frames_per_s']} frames/s[/bold] published on CPU {result['cpu']} "
        f"({verdict} the {TARGET_FPS:.0f} frames/s target); {result['frames_published']} frames in "
        f"{result['wall_s']} s, {result['frames_per_cpu_s']} frames per CPU-second, "
        f"upload {result['upload_ms_mean']} ms mean, {result['jpeg_kb_mean']} KiB per JPEG"
    )
    out.print(f"  {result['machine']}")
