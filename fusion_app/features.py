"""Temporal pose features per tracked person over one window. Pure functions of time-sorted observations.

Rules are judged on *sightings*: a person (track id) seen in a frame. They hold at whatever rate the pose stage
got (1 fps when nothing moves, up to the motion gate's rate otherwise), because they compare states, not
speeds: a fall is an upright person who is found lying lower within ``fall_max_delay_ms``, or, when the
detector lost her meanwhile, within ``fall_dropout_ms`` and near where she was lost (also under another track
id: a re-found person may get a new one). Limb speeds (violence) are only measured between sightings close in
time, of an upright person (a falling body swings its limbs), and only count for a person close to someone else:
one person moving fast alone is not violence.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import pairwise

from fusion_app.rules import PoseRules
from fusion_app.window import PersonObs, PoseObs

#: (index of the PoseObs in the window, the person seen there)
Sighting = tuple[int, PersonObs]


@dataclass(frozen=True, slots=True)
class Run:
    """Consecutive lying sightings of one track; ``first``/``last`` are PoseObs indices, inclusive."""

    track: int
    first: int
    last: int
    duration_ms: int


@dataclass(frozen=True, slots=True)
class Fall:
    upright: int  # PoseObs index of the last upright sighting
    run: Run  # the lying run that followed
    drop: float  # how much lower the torso centre is, in body heights of the upright sighting
    after_ms: int  # from the upright sighting to the first lying one
    dropout: bool  # the person was not seen in between (or came back under another track id)


@dataclass(frozen=True, slots=True)
class PoseFeatures:
    fall: Fall | None  # the strongest fall
    lying: Run | None  # longest lying run of any person
    # (speed, index of the later pose) per pair of close sightings of a person near someone else, fastest first
    limb_speeds: tuple[tuple[float, int], ...]


def is_lying(person: PersonObs, rules: PoseRules) -> bool:
    """Lying: torso far from vertical; a flipped torso (head down, ~180) is lying too."""
    return person.torso_deg is not None and person.torso_deg >= rules.horizontal_deg


def is_upright(person: PersonObs, rules: PoseRules) -> bool:
    return person.torso_deg is not None and person.torso_deg <= rules.upright_deg


def any_lying(poses: tuple[PoseObs, ...], rules: PoseRules) -> tuple[PoseObs, ...]:
    return tuple(p for p in poses if any(is_lying(person, rules) for person in p.people))


def tracks(poses: tuple[PoseObs, ...]) -> dict[int, list[Sighting]]:
    """Sightings of each track, in time order."""
    found: dict[int, list[Sighting]] = {}
    for i, obs in enumerate(poses):
        for person in obs.people:
            found.setdefault(person.track, []).append((i, person))
    return found


def lying_runs(poses: tuple[PoseObs, ...], seen: list[Sighting], rules: PoseRules) -> list[Run]:
    """Maximal runs of one track's lying sightings (an upright sighting or a gap ends a run)."""
    runs: list[Run] = []
    start: Sighting | None = None
    prev: Sighting | None = None
    for sighting in seen:
        i, person = sighting
        gap = prev is not None and poses[i].t_ms - poses[prev[0]].t_ms > rules.max_gap_ms
        if start is not None and prev is not None and (gap or not is_lying(person, rules)):
            runs.append(_run(poses, person.track, start[0], prev[0]))
            start = None
        if start is None and is_lying(person, rules):
            start = sighting
        prev = sighting
    if start is not None and prev is not None:
        runs.append(_run(poses, start[1].track, start[0], prev[0]))
    return runs


def _run(poses: tuple[PoseObs, ...], track: int, first: int, last: int) -> Run:
    return Run(track=track, first=first, last=last, duration_ms=poses[last].t_ms - poses[first].t_ms)


def _person_at(poses: tuple[PoseObs, ...], index: int, track: int) -> PersonObs:
    return next(p for p in poses[index].people if p.track == track)


def _drop(upright: PersonObs, lying: PersonObs) -> float | None:
    """How much lower the lying torso centre is, in body heights of the upright person; None when unknown."""
    if upright.center is None or lying.center is None or upright.height <= 0:
        return None
    return (lying.center[1] - upright.center[1]) / upright.height


def _near(upright: PersonObs, lying: PersonObs, rules: PoseRules) -> bool:
    if upright.center is None or lying.center is None or upright.height <= 0:
        return False
    moved = math.hypot(lying.center[0] - upright.center[0], lying.center[1] - upright.center[1])
    return moved <= rules.fall_near * upright.height


def _own_predecessor(seen: list[Sighting], first: int, rules: PoseRules) -> tuple[Sighting, int] | None:
    """The track's last upright sighting before its lying run and how many in-between sightings separate them
    (None when she was lying before, or leaned for longer than a fall takes)."""
    position = next(k for k, (i, _) in enumerate(seen) if i == first)
    between: list[Sighting] = []
    for k in range(position - 1, -1, -1):
        _, person = seen[k]
        if is_upright(person, rules):
            return seen[k], len(between)
        if is_lying(person, rules):
            return None
        between.append(seen[k])
    return None


def _lost_elsewhere(
    all_tracks: dict[int, list[Sighting]], track: int, first: int, rules: PoseRules
) -> Iterator[Sighting]:
    """Last sightings of other tracks that ended upright before ``first`` and were never seen again."""
    for other, seen in all_tracks.items():
        if other == track:
            continue
        i, person = seen[-1]
        if i < first and is_upright(person, rules):
            yield seen[-1]


def falls(poses: tuple[PoseObs, ...], rules: PoseRules) -> list[Fall]:
    """Every upright -> lying-lower transition of a person in the window (at most one per lying run)."""
    all_tracks = tracks(poses)
    found: list[Fall] = []
    for track, seen in all_tracks.items():
        for run in lying_runs(poses, seen, rules):
            lying = _person_at(poses, run.first, track)
            candidates: list[tuple[Sighting, int]] = []
            own = _own_predecessor(seen, run.first, rules)
            if own is not None and _quick_enough(poses, seen, own, run.first, rules):
                candidates.append(own)
            candidates.extend((s, 0) for s in _lost_elsewhere(all_tracks, track, run.first, rules))
            best: Fall | None = None
            for (i, upright), between in candidates:
                after = poses[run.first].t_ms - poses[i].t_ms
                drop = _drop(upright, lying)
                # Seen all along under one id, she is the same person wherever she landed (a head-first fall moves
                # the torso far); across a dropout or an id change, only a person found near where she was lost.
                crossed = between == 0 and (after > rules.fall_max_delay_ms or upright.track != track)
                if drop is None or drop <= 0 or (crossed and not _near(upright, lying, rules)):
                    continue
                if after > (rules.fall_dropout_ms if between == 0 else rules.fall_max_delay_ms):
                    continue
                dropout = (between == 0 and after > rules.fall_max_delay_ms) or upright.track != track
                fall = Fall(upright=i, run=run, drop=drop, after_ms=after, dropout=dropout)
                if best is None or fall.drop > best.drop:
                    best = fall
            if best is not None:
                found.append(best)
    return found


def _quick_enough(
    poses: tuple[PoseObs, ...], seen: list[Sighting], own: tuple[Sighting, int], first: int, rules: PoseRules
) -> bool:
    """In-between (leaning) sightings span at most ``fall_transition_ms``: a fall is over in a moment, while
    someone lying down on purpose leans for longer. At 1 fps one in-between sighting spans nothing, so a fall
    caught mid-way still counts."""
    (upright_index, _), between = own
    if between < 2:
        return True
    leaning = [poses[i].t_ms for i, _ in seen if upright_index < i < first]
    return max(leaning) - min(leaning) <= rules.fall_transition_ms


def limb_speeds(poses: tuple[PoseObs, ...], rules: PoseRules) -> list[tuple[float, int]]:
    """Fastest wrist/knee speed relative to the hips (torso lengths per second) of each pair of close sightings
    of one person, counted only while someone else is near that person."""
    speeds: list[tuple[float, int]] = []
    for seen in tracks(poses).values():
        for (ia, a), (ib, b) in pairwise(seen):
            dt = poses[ib].t_ms - poses[ia].t_ms
            if dt <= 0 or dt > rules.violence_max_gap_ms or not _has_company(poses[ib], b, rules):
                continue
            if not (is_upright(a, rules) and is_upright(b, rules)):
                continue  # a body toppling (a fall next to someone) swings its limbs: that is not a blow
            speeds.append((_limb_speed(a, b) * 1000.0 / dt, ib))
    speeds.sort(key=lambda item: (-item[0], item[1]))
    return speeds


def _has_company(obs: PoseObs, person: PersonObs, rules: PoseRules) -> bool:
    if person.center is None:
        return False
    for other in obs.people:
        if other.track == person.track or other.center is None:
            continue
        reach = rules.violence_near * max(person.height, other.height)
        if math.hypot(other.center[0] - person.center[0], other.center[1] - person.center[1]) <= reach:
            return True
    return False


def _limb_speed(a: PersonObs, b: PersonObs) -> float:
    fastest = 0.0  # squared displacement, one square root per pair
    la, lb = a.limbs, b.limbs
    for j in range(0, min(len(la), len(lb)) - 1, 2):
        ax, ay, bx, by = la[j], la[j + 1], lb[j], lb[j + 1]
        if ax is None or ay is None or bx is None or by is None:
            continue
        fastest = max(fastest, (bx - ax) ** 2 + (by - ay) ** 2)
    return math.sqrt(fastest)


def pose_features(poses: tuple[PoseObs, ...], rules: PoseRules) -> PoseFeatures:
    found = falls(poses, rules)
    runs = [run for seen in tracks(poses).values() for run in lying_runs(poses, seen, rules)]
    return PoseFeatures(
        fall=max(found, key=lambda f: (fall_ratio(f, rules), -f.upright), default=None),
        lying=max(runs, key=lambda r: (r.duration_ms, -r.first), default=None),
        limb_speeds=tuple(limb_speeds(poses, rules)),
    )


def fall_ratio(fall: Fall, rules: PoseRules) -> float:
    """How far a fall is past both of its thresholds (1.0: exactly at them)."""
    return min(fall.drop / rules.fall_min_drop, fall.run.duration_ms / rules.fall_persist_ms)
