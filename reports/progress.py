"""Pure tracking of how far each pipeline stage has got, and which stage is missing when a run stalls.

A run is a chain of stages (producers -> processors -> fusion -> projection). A stage is done when every
stage upstream of it is done and it has consumed everything on its input topics (committed offset at the
end offset of every partition). When a run stops moving, the earliest stage that is not done is the one
to name: everything after it is only waiting.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from reports.model import StageStatus

PartitionKey = tuple[str, int]


@dataclass(frozen=True, slots=True)
class StageSpec:
    name: str
    upstream: tuple[str, ...] = ()
    #: What one unit of work is called in messages ("frames", "files", "score events").
    unit: str = "records"


@dataclass(frozen=True, slots=True)
class Observation:
    """One look at a stage: how much it has consumed, how much there is, and whether its process lives."""

    processed: int
    expected: int
    caught_up: bool
    alive: bool = True
    exit_detail: str = ""


@dataclass(frozen=True, slots=True)
class Verdict:
    stages: list[StageStatus]
    done: bool
    #: Set when the run cannot finish: which stage is missing and why.
    failure: str | None = None


def lag_observation(
    committed: Mapping[PartitionKey, int],
    end: Mapping[PartitionKey, int],
    *,
    alive: bool = True,
    exit_detail: str = "",
) -> Observation:
    """A consumer stage seen through its group's committed offsets against the topics' end offsets."""
    processed = sum(min(max(committed.get(tp, 0), 0), high) for tp, high in end.items())
    expected = sum(end.values())
    caught_up = all(max(committed.get(tp, 0), 0) >= high for tp, high in end.items())
    return Observation(
        processed=processed, expected=expected, caught_up=caught_up, alive=alive, exit_detail=exit_detail
    )


def assess(specs: Sequence[StageSpec], seen: Mapping[str, Observation]) -> Verdict:
    """Stage statuses in pipeline order; ``failure`` names the first stage whose process is gone."""
    done: dict[str, bool] = {}
    statuses: list[StageStatus] = []
    failure: str | None = None
    for spec in specs:
        obs = seen.get(spec.name, Observation(0, 0, caught_up=False, alive=False, exit_detail="not started"))
        waiting_on = [u for u in spec.upstream if not done.get(u, False)]
        stage_done = obs.caught_up and not waiting_on
        done[spec.name] = stage_done
        if stage_done:
            detail = f"{obs.processed} {spec.unit}"
        elif not obs.alive:
            detail = (
                f"process is not running ({obs.exit_detail or 'exited'}); {obs.processed}/{obs.expected} {spec.unit}"
            )
            failure = failure or f"stage '{spec.name}' is missing: {detail}"
        elif waiting_on:
            detail = f"{obs.processed}/{obs.expected} {spec.unit}, waiting for {', '.join(waiting_on)}"
        else:
            detail = f"{obs.processed}/{obs.expected} {spec.unit}"
        statuses.append(StageStatus(spec.name, stage_done, obs.processed, obs.expected, detail))
    return Verdict(stages=statuses, done=all(done.values()), failure=failure)


def first_unfinished(verdict: Verdict) -> StageStatus | None:
    return next((s for s in verdict.stages if not s.done), None)


@dataclass
class StallClock:
    """Remembers when each stage last made progress, to tell a slow stage from a stuck one."""

    last_change: dict[str, tuple[int, int, float]] = field(default_factory=dict)

    def update(self, verdict: Verdict, now: float) -> None:
        for s in verdict.stages:
            kept = self.last_change.get(s.stage)
            if kept is None or (kept[0], kept[1]) != (s.processed, s.expected):
                self.last_change[s.stage] = (s.processed, s.expected, now)

    def idle_s(self, stage: str, now: float) -> float:
        kept = self.last_change.get(stage)
        return now - kept[2] if kept else 0.0


def timeout_message(verdict: Verdict, waited_s: float) -> str:
    stuck = first_unfinished(verdict)
    if stuck is None:
        return f"gave up after {waited_s:.0f} s although every stage reports done"
    return f"timed out after {waited_s:.0f} s waiting for stage '{stuck.stage}' ({stuck.detail})"
