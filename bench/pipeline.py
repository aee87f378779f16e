"""``anomaly bench pipeline``: the whole platform under N cameras on the embedded stack, as a user runs it.

One run starts the services once (each a separate process under a private topic prefix), then plays one or more
steps: ``produce cameras`` with N looping cameras in one process, for S seconds in real time, while every second
the CPU and memory of each process (services, producer, and the stack's Kafka, registry, PostgreSQL and MinIO)
and the lag of each consumer group are sampled. After a step the producer stops, the pipeline drains, and the
step's records are read back: scores from their topics, anomaly rows from PostgreSQL (``bench.pipeline_stats``
turns them into figures). ``--find-max`` raises N step by step until a step does not hold.
Afterwards the run's topics, groups and rows are removed; the services' logs stay in the output folder.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from anomaly_core.settings import KafkaSettings, StackSettings
from anomaly_core.supervisor import ChildSpec, Supervisor, anomaly_command
from bench import pipeline_profile
from bench.pipeline_load import RANDOM_CLIP_ID, write_cameras
from bench.pipeline_probe import StepProbe, read_back
from bench.pipeline_stats import StepResult, StepWindow
from producers.samples import SampleSet
from reports.plan import RunPlan, ServicePlan, plan_run

Say = Callable[[str], None]
PRODUCER = "producer"
#: Seconds into a step before the profiler attaches (the pipeline is in its steady state by then).
PROFILE_AFTER_S = 8.0
#: How long a step's pipeline may take to catch up once its producer stopped.
DRAIN_TIMEOUT_S = 90.0


@dataclass
class PipelineBenchResult:
    steps: list[StepResult]
    run_dir: Path
    replicas: int = 1
    plot: Path | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def max_cameras_held(self) -> int | None:
        held = [s.cameras for s in self.steps if s.held()]
        return max(held) if held else None

    def as_dict(self) -> dict[str, Any]:
        return {
            "max_cameras_held": self.max_cameras_held,
            "replicas": self.replicas,
            "steps": [s.as_dict() for s in self.steps],
            "run_dir": str(self.run_dir),
            "plot": str(self.plot) if self.plot else None,
            "notes": self.notes,
        }


def bench_cache() -> Path:
    return StackSettings().cache_dir / "bench" / "pipeline"


def prepare_scene_model(cache: Path, say: Say) -> Path:
    """A full-size CLIP ViT-B/32 with random weights, exported to ONNX once (the scene processor's own export)."""
    from bench.random_checkpoints import save_random_clip
    from processors.clip_loader import load_clip
    from processors.settings import ProcessorSettings

    root = cache / "models"
    if not (root / RANDOM_CLIP_ID / "config.json").is_file():
        say("saving a full-size CLIP ViT-B/32 with random weights (once)")
        save_random_clip(root / RANDOM_CLIP_ID, tiny=False)
    say("exporting it to ONNX if not done yet")
    load_clip(ProcessorSettings(model_cache_dir=root, clip_model=RANDOM_CLIP_ID, clip_backend="onnx"))
    return root


def bench_plan() -> RunPlan:
    """Every processor whose weights are here, plus scene on the random CLIP, fusion, projection and the API."""
    from runs.platform import available_models

    plan = plan_run(available_models() | {"clip"}, with_api=True)
    return RunPlan([s for s in plan.services if s.name != "caption"], plan.skipped)


#: Services that may run as several replicas of one consumer group (the rest are one process each).
SCALABLE = frozenset({"pose", "scene", "audio", "fusion"})


def children(plan: RunPlan, replicas: int) -> dict[str, ServicePlan]:
    """Child process name -> service: ``pose``, ``pose-2``, ... for ``replicas`` > 1."""
    out: dict[str, ServicePlan] = {}
    for s in plan.services:
        count = replicas if s.name in SCALABLE else 1
        out |= {s.name if i == 1 else f"{s.name}-{i}": s for i in range(1, count + 1)}
    return out


_PORTS_TAKEN: set[int] = set()


def _unique_port() -> int:
    """A free port not handed out before in this process (the OS may offer a just-released one again)."""
    from devstack.ports import free_port

    port = free_port()
    while port in _PORTS_TAKEN:
        port = free_port()
    _PORTS_TAKEN.add(port)
    return port


def _child_env(procs: dict[str, ServicePlan], scene_models: Path) -> dict[str, dict[str, str]]:
    env: dict[str, dict[str, str]] = {name: {"METRICS_PORT": str(_unique_port())} for name in procs}
    for name, s in procs.items():
        if s.name == "scene":
            env[name] |= {"MODEL_CACHE_DIR": str(scene_models), "CLIP_MODEL": RANDOM_CLIP_ID, "CLIP_BACKEND": "onnx"}
        if s.name == "api":
            env[name] |= {"API_PORT": str(_unique_port())}
    return env


def _stack_pids() -> dict[str, int]:
    from devstack.manager import Stack

    found = {s.name: s.pid for s in Stack().status() if s.pid is not None and s.running}
    missing = {"kafka", "schema_registry", "postgres", "minio"} - set(found)
    if missing:
        raise RuntimeError(f"the stack is not running ({', '.join(sorted(missing))}): run `anomaly stack up` first")
    return found


def run_pipeline_bench(
    counts: list[int],
    duration_s: float,
    say: Say,
    *,
    replicas: int = 1,
    churn: bool = False,
    profile: bool = False,
    out_dir: Path | None = None,
    stop_when_missed: bool = False,
) -> PipelineBenchResult:
    """Plays one step per camera count; with ``stop_when_missed`` the first step that does not hold ends it.
    ``replicas`` runs that many processes of each processor and of the fusion worker in their groups; ``churn``
    adds one more of each a third into every step and stops it (SIGTERM) at two thirds: a replica joining and
    leaving its group while the cameras play."""
    from producers.samples import generate_samples
    from runs.platform import open_run
    from runs.topics import delete_run

    kafka = KafkaSettings()
    stack = _stack_pids()
    cache = bench_cache()
    samples = generate_samples(cache / "samples")
    scene_models = prepare_scene_model(cache, say)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    run_dir = out_dir or cache / "runs" / stamp
    run_dir.mkdir(parents=True, exist_ok=True)
    prefix = f"bench-pipeline-{stamp.lower()}."
    plan = bench_plan()
    procs = children(plan, replicas)
    child_env = _child_env(procs, scene_models)
    result = PipelineBenchResult([], run_dir, replicas)
    ports = {name: int(child_env[name]["METRICS_PORT"]) for name in procs}
    # The platform's own run: topics under the prefix, one process per service of the plan; more replicas and
    # the producer are added to its supervisor.
    run = open_run(prefix, run_dir / "logs", with_api=True, service_env=child_env, kafka=kafka, plan=plan)
    # Each consumer service's group under the run's prefix, and the catalog topics it reads.
    groups = {s.name: (group, s.inputs) for s in plan.services if (group := run.group_of(s.name)) is not None}
    sup = run.supervisor
    probe = StepProbe(kafka, prefix, groups, ports)
    try:
        run.start_services()
        for name, s in procs.items():
            if name != s.name:
                sup.start(ChildSpec(name, anomaly_command(*s.args), env=child_env[name]))
        extra = _churn_specs(plan, scene_models) if churn else []
        steps = _Steps(sup, probe, stack, run_dir, samples, say, profile, extra)
        _wait_joined(probe, sup, say)
        for n in counts:
            step = steps.play(n, duration_s)
            result.steps.append(step)
            say(_step_line(step))
            if stop_when_missed and not step.held():
                break
    finally:
        probe.close()
        run.stop()
        delete_run(kafka, prefix, [g for g, _ in groups.values()])
        _delete_rows()
    result.notes.append(
        "scene: full-size CLIP ViT-B/32 on ONNX Runtime with random weights (the real ones are not on this machine)"
    )
    return result


def _churn_specs(plan: RunPlan, scene_models: Path) -> list[ChildSpec]:
    extra = {f"{s.name}-churn": s for s in plan.services if s.name in SCALABLE}
    env = _child_env(extra, scene_models)
    return [ChildSpec(name, anomaly_command(*s.args), env=env[name]) for name, s in extra.items()]


def _wait_joined(probe: StepProbe, sup: Supervisor, say: Say, timeout_s: float = 240.0) -> None:
    say("starting the services (loading models)")
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        dead = sup.failures()
        if dead:
            raise RuntimeError(f"{dead[0].name} exited while starting: {sup.log_tail(dead[0].name, 5)}")
        if not probe.not_joined():
            return
        time.sleep(2.0)
    raise RuntimeError(f"services did not join their groups in {timeout_s:.0f} s: {', '.join(probe.not_joined())}")


@dataclass
class _Steps:
    """Plays steps against services that are already running."""

    sup: Supervisor
    probe: StepProbe
    stack: dict[str, int]
    run_dir: Path
    samples: SampleSet
    say: Say
    profile: bool = False
    churn: list[ChildSpec] = field(default_factory=list)
    _joined: set[str] = field(default_factory=set)

    def play(self, n: int, duration_s: float) -> StepResult:
        cameras = self.run_dir / f"cameras-{n}.yaml"
        load = write_cameras(cameras, n, self.samples)
        self.say(f"{n} cameras for {duration_s:.0f} s")
        argv = anomaly_command("produce", "cameras", "--config", str(cameras), "--no-register", "--json")
        before = self.probe.frames_published()
        self.sup.start(ChildSpec(PRODUCER, argv))
        self._await_first_frame(before)
        self.probe.begin(n)
        window = StepWindow(started=time.time())
        profiles: dict[str, Any] = {}
        while time.time() - window.started < duration_s:
            self._sample(window)
            if self.profile and not profiles and time.time() - window.started >= PROFILE_AFTER_S:
                profiles = self._start_profiles(n, duration_s)
            self._churn(time.time() - window.started, duration_s)
            time.sleep(1.0)
        window.stopped = time.time()
        self._sample(window)
        self.probe.end_usage()
        self.sup.stop([PRODUCER])
        produced = _producer_summary(self.sup.state(PRODUCER).log_path)
        window.drained_s = self.probe.drain(lambda: self._sample(window, usage=False), DRAIN_TIMEOUT_S)
        drained = "not within 90 s" if window.drained_s is None else f"in {window.drained_s} s"
        self.say(f"reading back the step's scores and anomalies (drained {drained})")
        step = read_back(self.probe, load, produced, window, stack_names=set(self.stack))
        if profiles:
            pipeline_profile.finish(profiles)
            step.profile = pipeline_profile.summarize(self.run_dir / f"profiles-{n}")
        return step

    def _churn(self, t: float, duration_s: float) -> None:
        """A third into the step one more replica joins each group; at two thirds it leaves."""
        if not self.churn or t < duration_s / 3:
            return
        names = [spec.name for spec in self.churn]
        if t < 2 * duration_s / 3:
            if not self._joined:
                for spec in self.churn:
                    self.sup.start(spec)
                self._joined = set(names)
        elif self._joined:
            self.sup.stop(names)
            self._joined = set()

    def _start_profiles(self, n: int, duration_s: float) -> dict[str, Any]:
        seconds = int(max(5.0, min(30.0, duration_s - PROFILE_AFTER_S - 2)))
        pids = {s.name: s.pid for s in self.sup.states() if s.running}
        return pipeline_profile.start(pids, self.run_dir / f"profiles-{n}", seconds)

    def _await_first_frame(self, before: int, timeout_s: float = 90.0) -> None:
        """The clock starts at the first published frame, not while the producer process is starting."""
        deadline = time.monotonic() + timeout_s
        while self.probe.frames_published() <= before:
            state = self.sup.state(PRODUCER)
            if not state.running or time.monotonic() > deadline:
                tail = self.sup.log_tail(PRODUCER, 5)
                raise RuntimeError(f"the producer published no frame (exit code {state.returncode}): {tail}")
            time.sleep(0.2)

    def _sample(self, window: StepWindow, *, usage: bool = True) -> None:
        pids = {s.name: s.pid for s in self.sup.states() if s.running} | self.stack
        self.probe.sample(pids, time.time() - window.started, usage=usage)


def _producer_summary(log_path: Path) -> list[dict[str, Any]]:
    """The per-camera summary ``produce cameras --json`` prints last."""
    import json

    text = log_path.read_text(errors="replace")
    found = re.findall(r"^\[\{.*\}\]$", text, flags=re.MULTILINE)
    return list(json.loads(found[-1])) if found else []


def _step_line(step: StepResult) -> str:
    p99 = step.capture_to_row_s.p99
    return (
        f"{step.cameras} cameras: {step.frames_per_second} frames/s, capture->row p99 "
        f"{'-' if p99 is None else f'{p99:.2f} s'}, falls {step.falls_detected}/{step.falls_played}, "
        f"infrastructure {100 * step.cpu.infrastructure_share:.0f} % of CPU, "
        f"{'held' if step.held() else 'did not hold'}"
    )


def _delete_rows() -> None:
    """The benchmark's anomalies are not alerts: their rows leave the projection with the run's topics."""
    from anomaly_core.db import connect
    from anomaly_core.settings import DatabaseSettings
    from bench.pipeline_load import CAMERA_PREFIX

    with connect(DatabaseSettings().url.get_secret_value()) as conn:
        conn.execute("delete from anomalies where camera_id like %s", (CAMERA_PREFIX + "%",))
