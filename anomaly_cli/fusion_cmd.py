"""`anomaly fusion worker` (the live fusion) and `anomaly replay` (a historical range through it again).
Heavy imports stay inside the commands."""

from __future__ import annotations

from typing import Annotated

import typer

from anomaly_cli.service_logging import configure_service_logging
from anomaly_cli.time_range import RulesOpt, epoch_ms

app = typer.Typer(help="Fusion of per-camera score windows into anomaly events.", no_args_is_help=True)


@app.command("worker")
def worker(
    rules_path: RulesOpt = None,
    group: Annotated[str | None, typer.Option(help="Consumer group (default FUSION_GROUP_ID, topic-prefixed).")] = None,
) -> None:
    """The faust-streaming fusion app: consume the score topics, fuse per-camera windows, publish anomalies.v1
    (and candidates). Runs until SIGTERM (last checkpoint, commit, exit 0)."""
    from anomaly_core.settings import DatabaseSettings, KafkaSettings
    from fusion_app.live_driver import build, run
    from fusion_app.registered_cameras import RegisteredCameras
    from fusion_app.rules import load_rules
    from fusion_app.settings import FusionSettings

    configure_service_logging()
    kafka, settings = KafkaSettings(), FusionSettings()
    rules = load_rules(rules_path or settings.rules_path)
    known = None
    if settings.require_registered_cameras:
        known = RegisteredCameras(DatabaseSettings().url.get_secret_value(), settings.camera_refresh_s)
    run(build(kafka, settings, rules, group=group or kafka.topic_prefix + settings.group_id, known_camera=known))


def replay(
    from_: Annotated[
        str | None, typer.Option("--from", help="Start (ISO 8601 or epoch ms; default: beginning).")
    ] = None,
    to: Annotated[str | None, typer.Option(help="End (ISO 8601 or epoch ms; default: the current end).")] = None,
    topics: Annotated[
        list[str] | None,
        typer.Option("--topics", help="Score topics to re-consume (base names; default: all fusion inputs)."),
    ] = None,
    rules_path: RulesOpt = None,
    group: Annotated[str | None, typer.Option(help="Consumer group (default: a fresh replay group).")] = None,
) -> None:
    """Re-consume a historical range of the score topics into the fusion, under a fresh consumer group.

    The replay reads from the first record at --from (offsets_for_times) to --to, with its own state, and
    publishes to anomalies.v1 like the live worker: the same scores under the same rules give the same anomaly
    ids (the projection upsert absorbs them); other rules give new ids.
    """
    import uuid

    from anomaly_core import topics as catalog
    from anomaly_core.settings import KafkaSettings
    from fusion_app.replay_driver import ReplayDriver
    from fusion_app.rules import load_rules
    from fusion_app.settings import FusionSettings

    configure_service_logging()
    kafka, settings = KafkaSettings(), FusionSettings()
    rules = load_rules(rules_path or settings.rules_path)
    inputs = [catalog.topic_name(t, kafka.topic_prefix) for t in topics] if topics else None
    group_id = group or f"{kafka.topic_prefix}fusion-replay-{uuid.uuid4().hex[:8]}"
    replayer = ReplayDriver(
        kafka,
        settings,
        rules,
        group_id=group_id,
        from_ms=epoch_ms(from_),
        to_ms=epoch_ms(to),
        bounded=True,
        inputs=inputs,
    )
    replayer.run()
    typer.echo(f"replayed {replayer.records} records under group {group_id} with rules {rules.version}")
