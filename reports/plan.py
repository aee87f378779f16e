"""Which platform services a run starts, in what order, and how each one's progress is measured. Pure.

A run (``anomaly demo`` or ``anomaly analyze``) starts the processors whose models are on this machine, the
fusion worker and the projection sink, then one producer per source. Each service is a stage: the consumer
group it commits to and the topics it reads tell how far it has got (``reports.progress``).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, replace
from datetime import datetime

from anomaly_core import topics
from reports.progress import StageSpec

PRODUCE = "produce"


@dataclass(frozen=True, slots=True)
class ServicePlan:
    name: str
    #: Arguments of the ``anomaly`` command that runs it.
    args: tuple[str, ...]
    #: Consumer group whose committed offsets measure its progress (before any run prefix).
    group: str | None
    #: Catalog topics it consumes.
    inputs: tuple[str, ...]
    upstream: tuple[str, ...]
    unit: str
    #: Entries of the model catalog (``anomaly models list``) it needs; empty when it needs no weights.
    models: tuple[str, ...] = ()


#: Processors in pipeline order; group ids are the ones each ``anomaly process X`` joins.
PROCESSORS: tuple[ServicePlan, ...] = (
    ServicePlan("pose", ("process", "pose"), "processor-pose", (topics.MEDIA_FRAMES,), (PRODUCE,), "frames", ("pose",)),
    ServicePlan(
        "scene", ("process", "scene"), "processor-scene", (topics.MEDIA_FRAMES,), (PRODUCE,), "frames", ("clip",)
    ),
    ServicePlan(
        "audio",
        ("process", "audio"),
        "processor-audio",
        (topics.MEDIA_AUDIO,),
        (PRODUCE,),
        "audio chunks",
        ("whisper", "intent"),
    ),
)
CAPTION = ServicePlan(
    "caption",
    ("process", "caption"),
    "processor-caption",
    (topics.ANOMALY_CANDIDATES,),
    ("fusion",),
    "candidates",
    ("blip",),
)
FUSION_INPUTS = (topics.SCORES_POSE, topics.SCORES_SCENE, topics.SCORES_AUDIO, topics.SCORES_CAPTION)
PROJECTION = ServicePlan(
    "projection", ("projection", "sink"), "projection", (topics.ANOMALIES,), ("fusion",), "anomaly events"
)
API = ServicePlan("api", ("api",), None, (), (), "requests")
#: Not a stage: it joins at the live end (NOTIFY_CONSUMER_START) and its progress is not the run's.
NOTIFY = ServicePlan("notify", ("notify", "worker"), None, (), (), "notifications")


@dataclass(frozen=True, slots=True)
class RunPlan:
    services: list[ServicePlan]
    #: One line per processor left out, with the command that would make it available.
    skipped: list[str]

    def stages(self) -> list[StageSpec]:
        tracked = [StageSpec(PRODUCE, (), "files")]
        tracked += [StageSpec(s.name, s.upstream, s.unit) for s in self.services if s.group is not None]
        return tracked

    def service(self, name: str) -> ServicePlan:
        return next(s for s in self.services if s.name == name)


def plan_run(
    available_models: Collection[str],
    *,
    with_api: bool = False,
    with_notify: bool = False,
    with_projection: bool = True,
    fusion_group: str = "fusion",
) -> RunPlan:
    """Services for a run given the models present on this machine (names of the model catalog); ``with_notify``:
    the notify worker too (routing targets are configured); ``with_projection=False``: no projection sink (an
    analyze run, whose anomalies reach the projection through anomalies.v1 when it ends, ``reports.publish``)."""
    chosen = [p for p in PROCESSORS if set(p.models) <= set(available_models)]
    skipped = [
        f"{p.name}: {' and '.join(missing)} weights are not on this machine (`anomaly models pull {' '.join(missing)}`)"
        for p in (*PROCESSORS, CAPTION)
        if (missing := [m for m in p.models if m not in available_models])
    ]
    fusion = ServicePlan(
        "fusion", ("fusion", "worker"), fusion_group, FUSION_INPUTS, tuple(p.name for p in chosen), "score events"
    )
    services = [*chosen, fusion]
    if set(CAPTION.models) <= set(available_models):
        services.append(CAPTION)
    upstream = ("fusion", "caption") if CAPTION in services else ("fusion",)
    if with_projection:
        services.append(replace(PROJECTION, upstream=upstream))
    if with_api:
        services.append(API)
    if with_notify:
        services.append(NOTIFY)
    return RunPlan(services=services, skipped=skipped)


def run_topics(plan: ServicePlan, prefix: str) -> list[str]:
    return [topics.topic_name(base, prefix) for base in plan.inputs]


def producer_args(
    source: str, camera_id: str, *, realtime: bool, video: bool = True, origin: datetime | None = None
) -> list[str]:
    """``anomaly produce camera`` for video files (with their sound), ``produce audio`` for sound-only ones.

    ``origin`` is the capture time given to the file's first instant. The fusion's hopping windows are aligned to
    whole seconds of event time, so an origin on a whole second gives every run of a file the same windows, and
    therefore the same anomalies.
    """
    pace = "--realtime" if realtime else "--no-realtime"
    args = ["produce", "camera" if video else "audio", "--source", source, "--camera-id", camera_id, pace]
    if origin is not None:
        args += ["--origin", origin.isoformat()]
    return args
