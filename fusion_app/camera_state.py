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
    # Event-time progress all live modalities agree on (see aligned_watermark); closes incidents, prunes buffers.
    watermark_ms: int | None = None
    highs: tuple[tuple[str, int], ...] = ()  # newest event time per modality
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


def _position(obs: Obs | CaptionObs) -> tuple[str, int, int]:
    """Where a record was read: the order it was written in, within its topic partition."""
    return (obs.source.topic, obs.source.partition, obs.source.offset)


def _end(obs: Obs) -> int:
    return obs.t_ms + (obs.duration_ms if isinstance(obs, AudioObs) else 0)


def _touched_windows(obs: Obs, rules: Rules) -> range:
    size, hop = rules.windows.size_ms, rules.windows.hop_ms
    first = window_starts(obs.t_ms, size, hop)
    last = window_starts(max(obs.t_ms, _end(obs) - 1), size, hop)
    return range(first.start, last.stop, hop)


def aligned_watermark(highs: dict[str, int], max_skew_ms: int) -> int | None:
    """The slowest modality's newest event time, ignoring modalities more than ``max_skew_ms`` behind the fastest
    (those are down: nothing waits for them)."""
    if not highs:
        return None
    lead = max(highs.values())
    return min(t for t in highs.values() if lead - t <= max_skew_ms)


def step(state: CameraState, batch: Sequence[Obs | CaptionObs], rules: Rules, wall_ms: int) -> StepResult:
    """Applies one batch of a camera's observations (any order) and returns the new state and what to publish."""
    applied, fresh, captions, duplicates = _unseen(state, batch)
    highs, accepted, too_late = _admit(dict(state.highs), fresh, rules.windows.allowed_lateness_ms)
    watermark = aligned_watermark(highs, rules.windows.max_skew_ms)
    buffer = tuple(sorted((*state.buffer, *accepted), key=obs_key))
    incidents, decisions, suppressed = _judge(state, buffer, accepted, watermark, rules)
    orphans: list[CaptionObs] = []
    for caption in captions:
        incidents, known = inc.on_caption(incidents, caption, rules)
        if not known:
            orphans.append(caption)
    if watermark is not None:
        incidents = inc.on_watermark(incidents, watermark, rules)
        keep_from = watermark - rules.windows.allowed_lateness_ms - rules.windows.size_ms
        buffer = tuple(o for o in buffer if _end(o) >= keep_from)
    incidents, published = inc.due(incidents, rules)
    new_state = replace(
        state,
        watermark_ms=watermark,
        highs=tuple(sorted(highs.items())),
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


def _unseen(
    state: CameraState, batch: Sequence[Obs | CaptionObs]
) -> tuple[dict[tuple[str, int], int], list[Obs], list[CaptionObs], int]:
    """Drops records this state already applied (redelivered after a restart), recognised by their offsets."""
    applied = {(t, p): o for t, p, o in state.applied}
    fresh: list[Obs] = []
    captions: list[CaptionObs] = []
    duplicates = 0
    for obs in sorted(batch, key=_position):
        pos = (obs.source.topic, obs.source.partition)
        if obs.source.offset <= applied.get(pos, -1):
            duplicates += 1
            continue
        applied[pos] = obs.source.offset
        if isinstance(obs, CaptionObs):
            captions.append(obs)
        else:
            fresh.append(obs)
    return applied, fresh, captions, duplicates


def _admit(highs: dict[str, int], fresh: list[Obs], lateness: int) -> tuple[dict[str, int], list[Obs], list[Obs]]:
    """Splits observations into accepted and too late, advancing each modality's newest event time.

    Lateness is judged within each modality's own stream (in the order it was written), so a modality that is
    consumed behind another (audio is seconds behind video; a backlog is read topic by topic) is not "late".
    """
    accepted: list[Obs] = []
    too_late: list[Obs] = []
    for obs in sorted(fresh, key=_position):
        high = highs.get(obs.source.modality)
        if high is not None and obs.t_ms < high - lateness:
            too_late.append(obs)
            continue
        accepted.append(obs)
        highs[obs.source.modality] = obs.t_ms if high is None else max(high, obs.t_ms)
    return highs, accepted, too_late


def _worth_judging(dirty: set[int], times: list[int], size: int) -> list[int]:
    """The dirty windows whose decision can add anything, oldest first.

    Every window still open (ending after the newest buffered score) holds a subset of what the oldest open one
    holds, so that one alone speaks for them; windows already complete are judged one by one. In a live stream
    this is one window per camera and batch instead of ``size / hop``.
    """
    if not times:
        return sorted(dirty)
    lead = times[-1]
    complete = sorted(s for s in dirty if s + size <= lead)
    still_open = [s for s in dirty if s + size > lead]
    return complete + ([min(still_open)] if still_open else [])


def _judge(
    state: CameraState, buffer: tuple[Obs, ...], accepted: list[Obs], watermark: int | None, rules: Rules
) -> tuple[inc.Incidents, list[Decision], int]:
    """Re-evaluates every window the new observations fall in, oldest first, folding decisions into incidents."""
    incidents = state.incidents
    decisions: list[Decision] = []
    suppressed = 0
    size = rules.windows.size_ms
    times = [o.t_ms for o in buffer]
    longest_audio = max((o.duration_ms for o in buffer if isinstance(o, AudioObs)), default=0)
    for start in _worth_judging({s for o in accepted for s in _touched_windows(o, rules)}, times, size):
        end = start + size
        lo, hi = bisect_left(times, start - longest_audio), bisect_left(times, end)
        if hi > lo and watermark is not None:
            # Close an incident whose quiet period ended before this window's newest score (and that every live
            # modality has passed), as a live run would have by then: a long batch (a replay) splits incidents
            # where a live run would.
            incidents = inc.on_watermark(incidents, min(times[hi - 1], watermark), rules)
        decision = fuse(window_of(state.camera_id, start, end, list(buffer[lo:hi])), rules)
        decisions.append(decision)
        incidents, blocked = inc.on_decision(incidents, decision, rules)
        suppressed += blocked
    return incidents, decisions, suppressed


def idle(state: CameraState, rules: Rules, wall_ms: int) -> StepResult:
    """Closes the open incident of a camera that sent nothing for ``idle_timeout_ms`` of wall-clock time."""
    active = state.incidents.active
    if active is None or wall_ms - state.last_input_wall_ms < rules.windows.idle_timeout_ms:
        return StepResult(state=state)
    incidents, published = inc.due(inc.close(state.incidents), rules)
    return StepResult(state=replace(state, incidents=incidents), published=published)
