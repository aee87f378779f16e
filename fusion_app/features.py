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
    # Plain lists and locals: this runs for every window evaluation of every camera.
    times = [p.t_ms for p in poses]
    hips = [p.hip_height if p.person else None for p in poses]
    longest, shortest, gap = rules.drop_span_ms, rules.drop_min_span_ms, rules.max_gap_ms
    best_speed, best_at = 0.0, (0, 0)
    for end in range(1, len(poses)):
        low = hips[end]
        if low is None:
            continue
        t_end = times[end]
        for start in range(end - 1, -1, -1):
            span = t_end - times[start]
            if span > longest or times[start + 1] - times[start] > gap:
                break
            high = hips[start]
            if high is None or span < shortest or high <= low:
                continue
            speed = (high - low) * 1000.0 / span
            # Equal speeds (a steady fall): keep the earliest start, so the incident start does not depend on
            # where a window happens to cut the drop.
            if speed > best_speed * (1 + 1e-9) or (speed >= best_speed * (1 - 1e-9) and start < best_at[0]):
                best_speed, best_at = speed, (start, end)
    return Drop(speed=best_speed, start=best_at[0], end=best_at[1]) if best_speed > 0 else None


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
    gap = rules.max_gap_ms
    for i in range(1, len(poses)):
        a, b = poses[i - 1], poses[i]
        dt = b.t_ms - a.t_ms
        if dt <= 0 or dt > gap or not (a.person and b.person):
            continue
        fastest = 0.0  # squared displacement, one square root per pair
        la, lb = a.limbs, b.limbs
        for j in range(0, min(len(la), len(lb)) - 1, 2):
            ax, ay, bx, by = la[j], la[j + 1], lb[j], lb[j + 1]
            if ax is None or ay is None or bx is None or by is None:
                continue
            d2 = (bx - ax) ** 2 + (by - ay) ** 2
            fastest = max(fastest, d2)
        speeds.append((math.sqrt(fastest) * 1000.0 / dt, i))
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
