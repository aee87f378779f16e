"""Temporal pose features over consecutive poses of one camera. Pure functions of time-sorted observations.

Speeds are per second of event time, so the features do not depend on the frame rate; poses farther apart than
``max_gap_ms`` are never compared (a gap is missing data, not motion).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from fusion_app.rules import PoseRules
from fusion_app.window import PoseObs


@dataclass(frozen=True, slots=True)
class Drop:
    speed: float  # hip height lost per second
    start: int  # index of the pose where the drop starts
    end: int  # index of the pose where it ends


@dataclass(frozen=True, slots=True)
class Run:
    """Consecutive lying poses, indices inclusive."""

    first: int
    last: int
    duration_ms: int


@dataclass(frozen=True, slots=True)
class PoseFeatures:
    drop: Drop | None  # fastest hip drop
    lying_after_drop: Run | None  # longest lying run starting soon after that drop
    lying: Run | None  # longest lying run anywhere
    limb_speeds: tuple[tuple[float, int], ...]  # (speed, index of the later pose) per pair, fastest first


def is_lying(obs: PoseObs, rules: PoseRules) -> bool:
    return obs.person and obs.torso_deg is not None and obs.torso_deg >= rules.horizontal_deg


def fastest_drop(poses: tuple[PoseObs, ...], rules: PoseRules) -> Drop | None:
    """The fastest loss of hip height measured over a span between ``drop_min_span_ms`` and ``drop_span_ms``."""
    best: Drop | None = None
    for end, later in enumerate(poses):
        if later.hip_height is None or not later.person:
            continue
        for start in range(end - 1, -1, -1):
            earlier = poses[start]
            span = later.t_ms - earlier.t_ms
            if span > rules.drop_span_ms or poses[start + 1].t_ms - earlier.t_ms > rules.max_gap_ms:
                break
            if span < rules.drop_min_span_ms or earlier.hip_height is None or not earlier.person:
                continue
            speed = (earlier.hip_height - later.hip_height) * 1000.0 / span
            if speed > 0 and (best is None or speed > best.speed):
                best = Drop(speed=speed, start=start, end=end)
    return best


def lying_runs(poses: tuple[PoseObs, ...], rules: PoseRules) -> list[Run]:
    """Maximal runs of consecutive lying poses (a standing pose, no person or a gap ends a run)."""
    runs: list[Run] = []
    first: int | None = None
    for i, obs in enumerate(poses):
        gap = i > 0 and obs.t_ms - poses[i - 1].t_ms > rules.max_gap_ms
        if first is not None and (gap or not is_lying(obs, rules)):
            runs.append(_run(poses, first, i - 1))
            first = None
        if first is None and is_lying(obs, rules):
            first = i
    if first is not None:
        runs.append(_run(poses, first, len(poses) - 1))
    return runs


def limb_speeds(poses: tuple[PoseObs, ...], rules: PoseRules) -> list[tuple[float, int]]:
    """Fastest wrist/knee speed relative to the hips (torso lengths per second) of each consecutive pair."""
    speeds: list[tuple[float, int]] = []
    for i in range(1, len(poses)):
        a, b = poses[i - 1], poses[i]
        dt = b.t_ms - a.t_ms
        if dt <= 0 or dt > rules.max_gap_ms or not (a.person and b.person):
            continue
        best = 0.0
        for j in range(0, min(len(a.limbs), len(b.limbs)) - 1, 2):
            ax, ay, bx, by = a.limbs[j], a.limbs[j + 1], b.limbs[j], b.limbs[j + 1]
            if ax is None or ay is None or bx is None or by is None:
                continue
            best = max(best, math.hypot(bx - ax, by - ay) * 1000.0 / dt)
        speeds.append((best, i))
    speeds.sort(key=lambda item: (-item[0], item[1]))
    return speeds


def pose_features(poses: tuple[PoseObs, ...], rules: PoseRules) -> PoseFeatures:
    drop = fastest_drop(poses, rules)
    runs = lying_runs(poses, rules)
    after: Run | None = None
    if drop is not None:
        drop_end = poses[drop.end].t_ms
        candidates = [
            r for r in runs if r.last >= drop.end and poses[r.first].t_ms - drop_end <= rules.fall_max_delay_ms
        ]
        after = _longest(candidates)
    return PoseFeatures(
        drop=drop,
        lying_after_drop=after,
        lying=_longest(runs),
        limb_speeds=tuple(limb_speeds(poses, rules)),
    )


def _run(poses: tuple[PoseObs, ...], first: int, last: int) -> Run:
    return Run(first=first, last=last, duration_ms=poses[last].t_ms - poses[first].t_ms)


def _longest(runs: list[Run]) -> Run | None:
    return max(runs, key=lambda r: (r.duration_ms, -r.first), default=None)
