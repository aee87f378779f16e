"""`anomaly produce`: camera and audio producers (files, RTSP/HTTP streams, webcams) and the sample media.

Exit codes: 0 done; 2 unusable input (missing file, not media, unreachable stream, bad camera id or config);
3 a dependency stayed down past its timeout (Kafka/registry: --kafka-timeout, object store: --store-timeout).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from anomaly_cli.produce_run import (
    EXIT_BAD_INPUT,
    Delivery,
    connect,
    error,
    produce_one,
    run_cameras,
    stop_on_signals,
)
from anomaly_cli.service_logging import configure_service_logging

app = typer.Typer(
    help="Capture cameras and audio into the object store and publish their references.", no_args_is_help=True
)

SourceOpt = Annotated[str, typer.Option("--source", help="File path, rtsp:// or http(s):// URL, or webcam:N.")]
CameraOpt = Annotated[str, typer.Option("--camera-id", help="Camera id: letters, digits, '-', '_', '.'.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print the run summary as JSON on stdout.")]
RealtimeOpt = Annotated[
    bool,
    typer.Option("--realtime/--no-realtime", help="Pace a file like a live camera, or read it as fast as possible."),
]
LoopOpt = Annotated[bool, typer.Option("--loop", help="Replay a file forever (until SIGTERM).")]
MaxFramesOpt = Annotated[int | None, typer.Option("--max-frames", min=1, help="Stop after N sampled frames.")]
StartOpt = Annotated[float | None, typer.Option("--start", min=0, help="Start offset in the file, seconds.")]
EndOpt = Annotated[float | None, typer.Option("--end", min=0, help="End offset in the file, seconds.")]
RateOpt = Annotated[float | None, typer.Option("--rate", help="Frames per second to keep (FRAME_PROCESSING_RATE).")]
SkipOpt = Annotated[int | None, typer.Option("--skip", help="Keep every Nth frame instead (FRAME_SKIP_RATE).")]
OriginOpt = Annotated[
    str | None, typer.Option("--origin", help="Capture time of the file's first frame (ISO 8601, default: now).")
]
RegisterOpt = Annotated[bool, typer.Option("--register/--no-register", help="Upsert the camera row in Postgres.")]
KafkaTimeoutOpt = Annotated[
    float, typer.Option("--kafka-timeout", help="Seconds to keep references while Kafka is down before exiting.")
]
StoreTimeoutOpt = Annotated[
    float, typer.Option("--store-timeout", help="Seconds to retry the object store before exiting.")
]


@app.command()
def camera(
    *,
    source: SourceOpt,
    camera_id: CameraOpt,
    name: Annotated[str | None, typer.Option(help="Display name (default: the id).")] = None,
    location: Annotated[str, typer.Option(help="Where the camera is.")] = "",
    realtime: RealtimeOpt = False,
    loop: LoopOpt = False,
    max_frames: MaxFramesOpt = None,
    start: StartOpt = None,
    end: EndOpt = None,
    no_audio: Annotated[bool, typer.Option("--no-audio", help="Ignore the source's audio track.")] = False,
    rate: RateOpt = None,
    skip: SkipOpt = None,
    origin: OriginOpt = None,
    register: RegisterOpt = True,
    kafka_timeout: KafkaTimeoutOpt = 120.0,
    store_timeout: StoreTimeoutOpt = 300.0,
    as_json: JsonOpt = False,
) -> None:
    """Sample frames (and the audio track) of a source, store them, publish FrameRef/AudioChunkRef."""
    from producers.camera_config import CameraConfig

    cam = CameraConfig(
        camera_id, name or camera_id, source, location, realtime, loop, not no_audio, max_frames, start, end, rate, skip
    )
    produce_one(cam, video=True, delivery=Delivery(register, kafka_timeout, store_timeout, as_json, origin))


@app.command()
def audio(
    *,
    source: SourceOpt,
    camera_id: CameraOpt,
    name: Annotated[str | None, typer.Option(help="Display name (default: the id).")] = None,
    location: Annotated[str, typer.Option(help="Where the microphone is.")] = "",
    realtime: RealtimeOpt = False,
    loop: LoopOpt = False,
    start: StartOpt = None,
    end: EndOpt = None,
    origin: OriginOpt = None,
    register: RegisterOpt = True,
    kafka_timeout: KafkaTimeoutOpt = 120.0,
    store_timeout: StoreTimeoutOpt = 300.0,
    as_json: JsonOpt = False,
) -> None:
    """Audio-only sources (WAV/MP3/... files, streams): 16 kHz mono chunks of AUDIO_CHUNK_SECONDS."""
    from producers.camera_config import CameraConfig

    cam = CameraConfig(camera_id, name or camera_id, source, location, realtime, loop, True, None, start, end)
    produce_one(cam, video=False, delivery=Delivery(register, kafka_timeout, store_timeout, as_json, origin))


@app.command()
def cameras(
    *,
    config: Annotated[Path, typer.Option("--config", help="YAML file declaring the cameras.")],
    register: RegisterOpt = True,
    kafka_timeout: KafkaTimeoutOpt = 120.0,
    store_timeout: StoreTimeoutOpt = 300.0,
    as_json: JsonOpt = False,
) -> None:
    """Run every camera of a YAML file in one process (one thread per camera, one Kafka producer)."""
    from producers.camera_config import CameraConfigError, load_cameras

    configure_service_logging()
    try:
        declared = load_cameras(config)
    except CameraConfigError as exc:
        raise error(str(exc), EXIT_BAD_INPUT) from exc
    stop = stop_on_signals()
    delivery = Delivery(register, kafka_timeout, store_timeout, as_json)
    run_cameras(declared, connect(delivery, "producer-cameras"), stop, delivery)


@app.command()
def samples(
    *,
    out: Annotated[Path, typer.Option("--out", help="Directory for the clips and samples.json.")] = Path("samples"),
    force: Annotated[bool, typer.Option("--force", help="Regenerate even when the clips are up to date.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Write the deterministic sample clips (fall with a call for help, benign walk, no audio) and their truth."""
    from rich.console import Console

    from producers.samples import generate_samples

    console = Console(stderr=True)
    with console.status("rendering sample clips"):
        sample_set = generate_samples(out, force=force)
    data = {
        "out_dir": str(sample_set.out_dir),
        "fall_at_s": sample_set.fall_at_s,
        "speech_at_s": sample_set.speech_at_s,
        "clips": {
            c.name: {"path": str(c.path), "duration_s": c.duration_s, "has_audio": c.has_audio, "sha256": c.sha256}
            for c in sample_set.clips
        },
    }
    if as_json:
        print(json.dumps(data))
        return
    for clip in sample_set.clips:
        console.print(f"{clip.path}  {clip.duration_s:.0f}s  {'audio' if clip.has_audio else 'no audio'}")
    console.print(f"fall at t={sample_set.fall_at_s}s, speech at t={sample_set.speech_at_s}s")
