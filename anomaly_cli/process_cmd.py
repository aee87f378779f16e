"""`anomaly process pose|scene|audio|caption`: run one model processor (a consumer-group member)."""

from __future__ import annotations

import typer

app = typer.Typer(
    help="Model processors: read media references, score them, publish score events.", no_args_is_help=True
)

_PORT = typer.Option(None, "--metrics-port", help="Prometheus port (default: METRICS_PORT, 0 = off).")


def _run(name: str, metrics_port: int | None) -> None:
    from anomaly_core.logs import configure_logging
    from anomaly_core.settings import KafkaSettings, MetricsSettings, ObjectStoreSettings
    from processors.models import ModelMissingError
    from processors.registry import get
    from processors.service import run
    from processors.settings import ProcessorSettings

    metrics = MetricsSettings()
    configure_logging(metrics.log_level, metrics.log_json)
    settings = ProcessorSettings()
    try:
        model = get(name).load_model(settings)
    except ModelMissingError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    run(
        name,
        settings=settings,
        kafka=KafkaSettings(),
        store_settings=ObjectStoreSettings(),
        metrics_port=metrics.port if metrics_port is None else metrics_port,
        model=model,
    )


@app.command("pose")
def pose(metrics_port: int | None = _PORT) -> None:
    """MediaPipe BlazePose on media.frames.v1 -> scores.pose.v1 (33 keypoints + torso angle, hip height, ...)."""
    _run("pose", metrics_port)


@app.command("scene")
def scene(metrics_port: int | None = _PORT) -> None:
    """CLIP zero-shot on media.frames.v1 -> scores.scene.v1 (CLIP_MODEL, CLIP_BACKEND=torch|torch-int8|onnx)."""
    _run("scene", metrics_port)


@app.command("audio")
def audio(metrics_port: int | None = _PORT) -> None:
    """VAD + faster-whisper + distress lexicon + loudness on media.audio.v1 -> scores.audio.v1 (WHISPER_MODEL)."""
    _run("audio", metrics_port)


@app.command("caption")
def caption(metrics_port: int | None = _PORT) -> None:
    """BLIP captions of anomalies.candidates.v1 best frames -> scores.caption.v1 (BLIP_MODEL)."""
    _run("caption", metrics_port)
