"""Start the platform's services for one run and stop them.

``platform_services`` is the whole job in one call, for ``anomaly demo`` and the pipeline benchmark::

    with platform_services("bench.", Path(".stack/runs/bench"), env={"FRAME_PROCESSING_RATE": "2"}) as run:
        for camera, source in cameras.items():
            run.start_producer(camera, source, realtime=True)
        ...  # measure; the services stop when the block ends, whatever happens in it

``open_run`` does the preparation only (plan, topics), for callers that start the services in their own order
(``anomaly analyze`` holds the fusion back until every score is in). Neither starts the stack: ``ensure_stack``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Collection, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from anomaly_core.registry import RegistryClient
from anomaly_core.serde import AvroSerde
from anomaly_core.settings import KafkaSettings
from devstack.errors import StackError
from devstack.manager import Stack
from devstack.progress import Reporter
from fusion_app.settings import FusionSettings, ProjectionSettings
from notify.settings import NotifySettings
from processors.models import catalog
from processors.settings import ProcessorSettings
from reports.collect import Decoder
from reports.plan import RunPlan, plan_run
from runs.errors import PlatformError, ServicesLateError
from runs.pipeline import PipelineRun
from runs.topics import create_run_topics

#: How long the consumers of a run may take to join their groups (models load first).
SERVICE_START_TIMEOUT_S = 180.0


@contextmanager
def platform_services(
    prefix: str,
    log_dir: Path,
    *,
    env: Mapping[str, str] | None = None,
    with_api: bool = True,
    ready_timeout_s: float = SERVICE_START_TIMEOUT_S,
    on_wait: Callable[[list[str]], None] | None = None,
) -> Iterator[PipelineRun]:
    """Runs the platform's services for one run while the block lasts.

    Creates the catalog topics under ``prefix``, starts the processors whose models are on this machine, the
    fusion worker, the projection sink and (``with_api``) the API as child processes logging to ``log_dir``,
    with ``env`` over this process's environment, and waits until every consumer has joined its group
    (``on_wait`` gets the names still awaited). Sources are added with ``run.start_producer``. On leaving the
    block every service gets SIGTERM (finish the batch, commit) and is waited for.

    Raises ``PlatformError`` when the topics cannot be created, ``ServicesLateError`` (a ``PlatformError``) when a
    service does not join within ``ready_timeout_s`` (it names them and the log folder).
    """
    run = open_run(prefix, log_dir, with_api=with_api, env=env)
    try:
        run.start_services()
        late = run.wait_ready(ready_timeout_s, on_wait)
        if late:
            raise ServicesLateError(f"{', '.join(late)} did not start; see the logs in {log_dir}")
        yield run
    finally:
        run.stop()


def open_run(
    prefix: str,
    log_dir: Path,
    *,
    with_api: bool,
    with_projection: bool = True,
    env: Mapping[str, str] | None = None,
    service_env: Mapping[str, Mapping[str, str]] | None = None,
    deferred: Collection[str] = (),
    kafka: KafkaSettings | None = None,
    plan: RunPlan | None = None,
) -> PipelineRun:
    """The services of a run, planned for the models on this machine (or ``plan``, e.g. a benchmark's), with their
    topics created; none started.

    ``service_env`` adds variables for one service by name; ``deferred`` services start only once every stage
    upstream of them is done (``PipelineRun.start_ready``).
    """
    kafka = kafka or KafkaSettings()
    plan = plan or plan_services(with_api=with_api, with_projection=with_projection)
    create_run_topics(kafka, prefix)
    return PipelineRun(
        plan=plan,
        kafka=kafka,
        prefix=prefix,
        log_dir=log_dir,
        env={**run_env(), **(env or {})},
        service_groups=service_groups(),
        service_env=service_env,
        deferred=deferred,
    )


def ensure_stack(reporter: Reporter | None = None) -> None:
    """Starts the embedded stack (Kafka, registry, PostgreSQL, MinIO) unless it is running."""
    try:
        stack = Stack()
        with reporter or Reporter() as shown:
            stack.up(None, shown)
    except StackError as exc:
        raise PlatformError(f"the stack is not available: {exc}") from exc


def available_models() -> set[str]:
    """Names of the model catalog entries whose weights are on this machine."""
    return {entry.name for entry in catalog(ProcessorSettings()) if entry.present}


def plan_services(*, with_api: bool, with_projection: bool = True) -> RunPlan:
    """The services a run starts, given the models present on this machine; a run with the API (the demo) also
    runs the notify worker when NOTIFY_CONFIG names a routing file."""
    notify = with_api and NotifySettings().config_path is not None
    return plan_run(available_models(), with_api=with_api, with_notify=notify, with_projection=with_projection)


def run_env() -> dict[str, str]:
    """What every service of a run gets on top of the caller's environment."""
    # No private sampling: runs see the deployment defaults (FRAME_PROCESSING_RATE, POSE_FRAME_RATE, ...) or
    # whatever the caller's environment sets, which the services inherit.
    # Services log to files; their own progress bars would only fill the logs. The run's topics are its own and
    # its services may join after the first records were published: they read them from the start.
    return {"LOG_LEVEL": os.environ.get("LOG_LEVEL", "INFO"), "CONSUMER_START": "earliest"}


def service_groups() -> dict[str, str]:
    """Group ids of the fusion worker and the projection sink, which the environment may rename."""
    return {"fusion": FusionSettings().group_id, "projection": ProjectionSettings().group_id}


def decoder(kafka: KafkaSettings) -> Decoder:
    """Reads the run's records (Avro through the schema registry)."""
    return AvroSerde(RegistryClient(kafka.schema_registry_url))
