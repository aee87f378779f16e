"""`anomaly produce`: camera and audio producers (files, RTSP/HTTP streams, webcams) and the sample media.

Exit codes: 0 done; 2 unusable input (missing file, not media, unreachable stream, bad camera id or config);
3 a dependency stayed down past its timeout (Kafka/registry: --kafka-timeout, object store: --store-timeout).
"""

from __future__ import annotations

import json
import signal
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from producers.cameras import CameraConfig
    from producers.runner import CameraRun, Services

app = typer.Typer(
    help="Capture cameras and audio into the object store and publish their references.", no_args_is_help=True
)

EXIT_BAD_INPUT = 2
EXIT_UNAVAILABLE = 3

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


def _setup_logging() -> None:
    from anomaly_core.logs import configure_logging
    from anomaly_core.settings import MetricsSettings

    settings = MetricsSettings()
    configure_logging(settings.log_level, settings.log_json)


def _error(message: str, code: int) -> typer.Exit:
    from rich.console import Console

    Console(stderr=True).print(f"[bold red]error:[/] {message}", highlight=False)
    return typer.Exit(code)


def _stop_on_signals() -> threading.Event:
    stop = threading.Event()

    def handler(signum: int, _frame: object) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)
    return stop


def _parse_origin(origin: str | None) -> datetime | None:
    if origin is None:
        return None
    try:
        stamp = datetime.fromisoformat(origin)
    except ValueError as exc:
        raise _error(f"--origin {origin!r} is not an ISO 8601 timestamp", EXIT_BAD_INPUT) from exc
    return stamp if stamp.tzinfo else stamp.replace(tzinfo=UTC)


def _services(kafka_timeout: float, store_timeout: float, client_id: str) -> Services:
    from anomaly_core.metrics import start_metrics_server
    from anomaly_core.settings import KafkaSettings, MetricsSettings, ObjectStoreSettings
    from producers.publisher import KafkaUnavailableError
    from producers.runner import build_services

    start_metrics_server(MetricsSettings().port)
    try:
        return build_services(
            KafkaSettings(),
            ObjectStoreSettings(),
            client_id=client_id,
            kafka_timeout_s=kafka_timeout,
            store_timeout_s=store_timeout,
        )
    except KafkaUnavailableError as exc:
        raise _error(str(exc), EXIT_UNAVAILABLE) from exc
    except Exception as exc:
        from producers.pipeline import StoreUnavailableError

        if isinstance(exc, StoreUnavailableError):
            raise _error(str(exc), EXIT_UNAVAILABLE) from exc
        raise


def _camera_run(
    camera: CameraConfig,
    services: Services,
    stop: threading.Event,
    *,
    video: bool,
    origin: datetime | None,
    store_timeout: float,
    register: bool,
) -> CameraRun:
    from anomaly_core.settings import DatabaseSettings, ProcessingSettings
    from producers.pipeline import PipelineOptions
    from producers.runner import CameraRun, make_pipeline, try_register
    from producers.sources import ReadOptions, parse_source

    processing = ProcessingSettings()
    spec = parse_source(camera.source)
    read = ReadOptions(video=video, audio=camera.audio, loop=camera.loop, start_s=camera.start, end_s=camera.end)
    opts = PipelineOptions(
        camera_id=camera.camera_id,
        rate=camera.rate if camera.rate is not None else processing.frame_processing_rate,
        skip=camera.skip if camera.skip is not None else processing.frame_skip_rate,
        pose_rate=processing.pose_frame_rate,
        pose_hold_s=processing.pose_hold_seconds,
        scene_max_interval_s=processing.scene_max_interval_seconds,
        motion_threshold=processing.motion_threshold,
        jpeg_quality=processing.jpeg_quality,
        audio_chunk_seconds=processing.audio_chunk_seconds,
        realtime=camera.realtime,
        max_frames=camera.max_frames,
        origin=origin,
        store_timeout_s=store_timeout,
        upload_workers=processing.max_workers,
    )
    pipeline = make_pipeline(spec, read, opts, services, stop)
    if register:
        try_register(DatabaseSettings().url.get_secret_value(), camera, spec)
    return CameraRun(camera, pipeline)


def _exit_code(error: BaseException | None) -> int:
    from producers.pipeline import StoreUnavailableError
    from producers.publisher import KafkaUnavailableError

    if error is None:
        return 0
    if isinstance(error, KafkaUnavailableError | StoreUnavailableError):
        return EXIT_UNAVAILABLE
    return EXIT_BAD_INPUT


def _report(runs: list[CameraRun], as_json: bool, unusable: dict[str, str] | None = None) -> int:
    """Prints one summary per camera; returns the exit code (the worst of all cameras)."""
    from rich.console import Console

    unusable = unusable or {}
    summaries: list[dict[str, Any]] = [
        {"camera_id": cam, "error": err, "unusable": True} for cam, err in unusable.items()
    ]
    for run in runs:
        summary = run.stats.summary()
        summary["error"] = str(run.error) if run.error else None
        summaries.append(summary)
    if as_json:
        print(json.dumps(summaries[0] if len(summaries) == 1 else summaries, default=str))
    else:
        console = Console(stderr=True)
        for s in summaries:
            if s.get("unusable"):
                console.print(f"{s['camera_id']}: [bold red]unusable:[/] {s['error']}", highlight=False)
                continue
            console.print(
                f"{s['camera_id']}: {s['frames_published']} frames and {s['audio_chunks_published']} audio chunks "
                f"published, {s['frames_dropped']} dropped, {s['corrupt_skipped']} corrupt packets/frames skipped, "
                f"{s['bytes_stored']} bytes stored in {s['elapsed_s']}s"
                + (f" [bold red]error:[/] {s['error']}" if s["error"] else ""),
                highlight=False,
            )
    code = max((_exit_code(run.error) for run in runs), default=0)
    return max(code, EXIT_BAD_INPUT) if unusable else code


def _produce_one(
    camera: CameraConfig,
    *,
    video: bool,
    origin: str | None,
    register: bool,
    kafka_timeout: float,
    store_timeout: float,
    as_json: bool,
) -> None:
    from anomaly_core.errors import ValidationError
    from producers.keys import validate_camera_id
    from producers.runner import run_all
    from producers.sources import SourceError, parse_source

    _setup_logging()
    try:
        validate_camera_id(camera.camera_id)
        parse_source(camera.source)  # fail fast on bad input before connecting anywhere
    except (ValidationError, SourceError) as exc:
        raise _error(str(exc), EXIT_BAD_INPUT) from exc
    stamp = _parse_origin(origin)
    stop = _stop_on_signals()
    services = _services(kafka_timeout, store_timeout, f"producer-{camera.camera_id}")
    run = _camera_run(camera, services, stop, video=video, origin=stamp, store_timeout=store_timeout, register=register)
    run_all([run])
    code = _report([run], as_json)
    if code:
        raise typer.Exit(code)


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
    from producers.cameras import CameraConfig

    cam = CameraConfig(
        camera_id,
        name or camera_id,
        source,
        location,
        realtime,
        loop,
        not no_audio,
        max_frames,
        start,
        end,
        rate,
        skip,
    )
    _produce_one(
        cam,
        video=True,
        origin=origin,
        register=register,
        kafka_timeout=kafka_timeout,
        store_timeout=store_timeout,
        as_json=as_json,
    )


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
    from producers.cameras import CameraConfig

    cam = CameraConfig(camera_id, name or camera_id, source, location, realtime, loop, True, None, start, end)
    _produce_one(
        cam,
        video=False,
        origin=origin,
        register=register,
        kafka_timeout=kafka_timeout,
        store_timeout=store_timeout,
        as_json=as_json,
    )


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
    from producers.cameras import CameraConfigError, load_cameras
    from producers.runner import run_all
    from producers.sources import SourceError

    _setup_logging()
    try:
        declared = load_cameras(config)
    except CameraConfigError as exc:
        raise _error(str(exc), EXIT_BAD_INPUT) from exc
    stop = _stop_on_signals()
    services = _services(kafka_timeout, store_timeout, "producer-cameras")
    runs: list[CameraRun] = []
    unusable: dict[str, str] = {}
    for cam in declared:
        try:
            runs.append(
                _camera_run(
                    cam, services, stop, video=True, origin=None, store_timeout=store_timeout, register=register
                )
            )
        except SourceError as exc:
            # One unusable camera must not keep the others from running; it is reported and fails the exit code.
            unusable[cam.camera_id] = str(exc)
    run_all(runs)
    code = _report(runs, as_json, unusable)
    if code:
        raise typer.Exit(code)


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
