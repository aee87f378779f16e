"""Per-camera fusion state and its transitions: hopping event-time windows done by hand, as a pure state machine.

The state is one compact value per camera (buffered observations, watermark, incidents, last applied offsets), so the
worker can checkpoint it to a compacted changelog topic after every batch and restore it exactly after a crash.

Windows are hop-aligned intervals ``[start, start + size)``. A window is (re)evaluated whenever a batch brings an
observation inside it, so an alert does not wait for the window to close; scores up to ``allowed_lateness_ms``
behind the camera's watermark (the newest event time of any modality) still re-evaluate their windows and may
update the incident; older ones are counted as too late. Nothing waits for a modality that is down: each window
is judged on what it holds.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from fusion_app import incidents as inc
from fusion_app.fuse import Decision, fuse
from fusion_app.rules import Rules
from fusion_app.window import AudioObs, CaptionObs, Obs, obs_key, window_of, window_starts


@dataclass(frozen=True, slots=True)
class CameraState:
    camera_id: str
    watermark_ms: int | None = None
    buffer: tuple[Obs, ...] = ()  # sorted by obs_key
    incidents: inc.Incidents = field(default_factory=inc.Incidents)
    # (topic, partition) -> last applied offset: a redelivered record is recognised and skipped.
    applied: tuple[tuple[str, int, int], ...] = ()
    last_input_wall_ms: int = 0


@dataclass(frozen=True, slots=True)
class StepResult:
    state: CameraState
    published: list[inc.Incident] = field(default_factory=list)
    decisions: list[Decision] = field(default_factory=list)
    too_late: list[Obs] = field(default_factory=list)
    duplicates: int = 0
    suppressed: int = 0
    orphan_captions: list[CaptionObs] = field(default_factory=list)


def _end(obs: Obs) -> int:
    return obs.t_ms + (obs.duration_ms if isinstance(obs, AudioObs) else 0)


def _touched_windows(obs: Obs, rules: Rules) -> range:
    size, hop = rules.windows.size_ms, rules.windows.hop_ms
    first = window_starts(obs.t_ms, size, hop)
    last = window_starts(max(obs.t_ms, _end(obs) - 1), size, hop)
    return range(first.start, last.stop, hop)


def step(state: CameraState, batch: Sequence[Obs | CaptionObs], rules: Rules, wall_ms: int) -> StepResult:
    """Applies one batch of a camera's observations (any order) and returns the new state and what to publish."""
    applied = {(t, p): o for t, p, o in state.applied}
    fresh: list[Obs] = []
    captions: list[CaptionObs] = []
    duplicates = 0
    for obs in sorted(batch, key=obs_key):
        pos = (obs.source.topic, obs.source.partition)
        if obs.source.offset <= applied.get(pos, -1):
            duplicates += 1
            continue
        applied[pos] = obs.source.offset
        if isinstance(obs, CaptionObs):
            captions.append(obs)
        else:
            fresh.append(obs)

    lateness = rules.windows.allowed_lateness_ms
    horizon = None if state.watermark_ms is None else state.watermark_ms - lateness
    too_late = [o for o in fresh if horizon is not None and _end(o) < horizon]
    accepted = [o for o in fresh if horizon is None or _end(o) >= horizon]
    previous = [state.watermark_ms] if state.watermark_ms is not None else []
    watermark = max([o.t_ms for o in accepted] + previous, default=None)

    buffer = tuple(sorted((*state.buffer, *accepted), key=obs_key))
    dirty = sorted({s for o in accepted for s in _touched_windows(o, rules)})
    incidents = state.incidents
    decisions: list[Decision] = []
    suppressed = 0
    size = rules.windows.size_ms
    times = [o.t_ms for o in buffer]
    longest_audio = max((o.duration_ms for o in buffer if isinstance(o, AudioObs)), default=0)
    for start in dirty:
        end = start + size
        lo, hi = bisect_left(times, start - longest_audio), bisect_left(times, end)
        if hi > lo:
            # Close an incident whose quiet period ended before this window's newest score, as a live run would
            # have when that score arrived: a long batch (a replay) then splits incidents the same way.
            incidents = inc.on_watermark(incidents, max(times[hi - 1], state.watermark_ms or times[hi - 1]), rules)
        decision = fuse(window_of(state.camera_id, start, end, list(buffer[lo:hi])), rules)
        decisions.append(decision)
        incidents, blocked = inc.on_decision(incidents, decision, rules)
        suppressed += blocked

    orphans: list[CaptionObs] = []
    for caption in captions:
        incidents, known = inc.on_caption(incidents, caption, rules)
        if not known:
            orphans.append(caption)
    if watermark is not None:
        incidents = inc.on_watermark(incidents, watermark, rules)
        keep_from = watermark - lateness - size
        buffer = tuple(o for o in buffer if _end(o) >= keep_from)
    incidents, published = inc.due(incidents, rules)
    new_state = replace(
        state,
        watermark_ms=watermark,
        buffer=buffer,
        incidents=incidents,
        applied=tuple(sorted((t, p, o) for (t, p), o in applied.items())),
        last_input_wall_ms=wall_ms if batch else state.last_input_wall_ms,
    )
    return StepResult(
        state=new_state,
        published=published,
        decisions=decisions,
        too_late=too_late,
        duplicates=duplicates,
        suppressed=suppressed,
        orphan_captions=orphans,
    )


def idle(state: CameraState, rules: Rules, wall_ms: int) -> StepResult:
    """Closes the open incident of a camera that sent nothing for ``idle_timeout_ms`` of wall-clock time."""
    active = state.incidents.active
    if active is None or wall_ms - state.last_input_wall_ms < rules.windows.idle_timeout_ms:
        return StepResult(state=state)
    incidents, published = inc.due(inc.close(state.incidents), rules)
    return StepResult(state=replace(state, incidents=incidents), published=published)
