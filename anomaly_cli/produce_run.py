"""What the `anomaly produce` commands share: connecting, running cameras until they end, and the summary.

Exit codes: 0 done; 2 unusable input (missing file, not media, unreachable stream, bad camera id or config);
3 a dependency stayed down past its timeout (Kafka/registry: --kafka-timeout, object store: --store-timeout).
"""

from __future__ import annotations

import json
import signal
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import typer

from anomaly_cli.service_logging import configure_service_logging

if TYPE_CHECKING:
    from producers.camera_config import CameraConfig
    from producers.runner import CameraRun, Services

EXIT_BAD_INPUT = 2
EXIT_UNAVAILABLE = 3


@dataclass(frozen=True, slots=True)
class Delivery:
    """Options of every produce command: where the references go and how long outages are waited out."""

    register: bool
    kafka_timeout: float
    store_timeout: float
    as_json: bool
    #: Capture time of a file's first frame (ISO 8601), None for now.
    origin: str | None = None


def produce_one(camera: CameraConfig, *, video: bool, delivery: Delivery) -> None:
    """Runs one camera (or microphone) until its source ends or SIGTERM; exits non-zero on failure."""
    from anomaly_core.errors import ValidationError
    from producers.keys import validate_camera_id
    from producers.sources import SourceError, parse_source

    configure_service_logging()
    try:
        validate_camera_id(camera.camera_id)
        parse_source(camera.source)  # fail fast on bad input before connecting anywhere
    except (ValidationError, SourceError) as exc:
        raise error(str(exc), EXIT_BAD_INPUT) from exc
    origin = _parse_origin(delivery.origin)
    stop = stop_on_signals()
    services = connect(delivery, f"producer-{camera.camera_id}")
    run_cameras([camera], services, stop, delivery, video=video, origin=origin)


def run_cameras(
    cameras: list[CameraConfig],
    services: Services,
    stop: threading.Event,
    delivery: Delivery,
    *,
    video: bool = True,
    origin: datetime | None = None,
) -> None:
    """Runs the cameras side by side until all have ended; one unusable source does not keep the others from
    running, it is reported and fails the exit code."""
    from anomaly_core.settings import DatabaseSettings, ProcessingSettings
    from producers.runner import camera_run, run_all
    from producers.sources import SourceError

    processing = ProcessingSettings()
    dsn = DatabaseSettings().url.get_secret_value() if delivery.register else None
    runs: list[CameraRun] = []
    unusable: dict[str, str] = {}
    for cam in cameras:
        try:
            runs.append(
                camera_run(
                    cam,
                    services,
                    stop,
                    processing,
                    video=video,
                    origin=origin,
                    store_timeout_s=delivery.store_timeout,
                    register_dsn=dsn,
                )
            )
        except SourceError as exc:
            unusable[cam.camera_id] = str(exc)
    run_all(runs)
    code = _report(runs, delivery.as_json, unusable)
    if code:
        raise typer.Exit(code)


def error(message: str, code: int) -> typer.Exit:
    from rich.console import Console

    Console(stderr=True).print(f"[bold red]error:[/] {message}", highlight=False)
    return typer.Exit(code)


def stop_on_signals() -> threading.Event:
    stop = threading.Event()

    def handler(signum: int, _frame: object) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)
    return stop


def connect(delivery: Delivery, client_id: str) -> Services:
    """The object store, the registry and one Kafka producer (waiting out outages up to the timeouts)."""
    from anomaly_core.metrics import start_metrics_server
    from anomaly_core.settings import KafkaSettings, MetricsSettings, ObjectStoreSettings
    from producers.pipeline import StoreUnavailableError
    from producers.publisher import KafkaUnavailableError
    from producers.runner import build_services

    start_metrics_server(MetricsSettings().port)
    try:
        return build_services(
            KafkaSettings(),
            ObjectStoreSettings(),
            client_id=client_id,
            kafka_timeout_s=delivery.kafka_timeout,
            store_timeout_s=delivery.store_timeout,
        )
    except (KafkaUnavailableError, StoreUnavailableError) as exc:
        raise error(str(exc), EXIT_UNAVAILABLE) from exc


def _parse_origin(origin: str | None) -> datetime | None:
    if origin is None:
        return None
    try:
        stamp = datetime.fromisoformat(origin)
    except ValueError as exc:
        raise error(f"--origin {origin!r} is not an ISO 8601 timestamp", EXIT_BAD_INPUT) from exc
    return stamp if stamp.tzinfo else stamp.replace(tzinfo=UTC)


def _exit_code(failure: BaseException | None) -> int:
    from producers.pipeline import StoreUnavailableError
    from producers.publisher import KafkaUnavailableError

    if failure is None:
        return 0
    if isinstance(failure, KafkaUnavailableError | StoreUnavailableError):
        return EXIT_UNAVAILABLE
    return EXIT_BAD_INPUT


def _report(runs: list[CameraRun], as_json: bool, unusable: dict[str, str]) -> int:
    """Prints one summary per camera; returns the exit code (the worst of all cameras)."""
    from rich.console import Console

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
