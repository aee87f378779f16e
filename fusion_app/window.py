"""Typed evidence kept per camera: compact observations of each modality and the window that groups them.

Observations keep only what the rules, the evidence and the lineage need (not the 33 landmarks), so the
per-camera state stays small enough to checkpoint on every batch.
"""

from __future__ import annotations

from dataclasses import dataclass

from schemas.records import LineageEntry, ObjectRef


@dataclass(frozen=True, slots=True)
class PersonObs:
    """One person in a frame, as the pose rules need it."""

    track: int  # track id from the pose processor (0 for records written before tracking existed)
    hip_height: float | None
    torso_deg: float | None
    # Torso centre (mid of shoulders and hips) in normalised image coordinates, y down; None when not visible.
    center: tuple[float, float] | None
    height: float  # landmark box height (image fraction): the body's size in the image
    # Wrists and knees relative to the hip midpoint, in torso lengths: (lw.x, lw.y, rw.x, rw.y, lk.x, lk.y, rk.x, rk.y);
    # None where a landmark is not visible. Relative so a falling body does not read as violent limbs.
    limbs: tuple[float | None, ...]


@dataclass(frozen=True, slots=True)
class PoseObs:
    t_ms: int
    people: tuple[PersonObs, ...]  # largest first
    frame: ObjectRef
    source: LineageEntry

    @property
    def person(self) -> bool:
        return bool(self.people)


@dataclass(frozen=True, slots=True)
class SceneObs:
    t_ms: int
    anomaly_probability: float
    # Anomaly labels only, with their probabilities.
    labels: tuple[tuple[str, float], ...]
    top_label: str
    frame: ObjectRef
    source: LineageEntry


@dataclass(frozen=True, slots=True)
class PhraseHit:
    phrase: str
    category: str
    score: float


@dataclass(frozen=True, slots=True)
class IntentHit:
    """The spoken intent nearest in meaning to the chunk's best transcript segment (see AudioScore.intent)."""

    intent: str
    category: str
    score: float
    margin: float
    example: str
    benign_example: str
    segment: str


@dataclass(frozen=True, slots=True)
class AudioObs:
    t_ms: int
    duration_ms: int
    phrases: tuple[PhraseHit, ...]
    transcript: str
    loudness_dbfs: float
    sudden_loudness: bool
    audio: ObjectRef
    source: LineageEntry
    # None for scores written before intents: the lexicon then judges alone, as it did.
    intent: IntentHit | None = None
    scream: bool = False  # a loud high-pitched or clipped voice without words: a cue, never an alert alone


@dataclass(frozen=True, slots=True)
class CaptionObs:
    """A caption for one anomaly; it does not enter windows, it annotates the incident it names."""

    t_ms: int
    anomaly_id: str
    caption: str
    source: LineageEntry


Obs = PoseObs | SceneObs | AudioObs


@dataclass(frozen=True, slots=True)
class Window:
    """Evidence of one camera in the event-time interval [start_ms, end_ms), each modality sorted by time."""

    camera_id: str
    start_ms: int
    end_ms: int
    pose: tuple[PoseObs, ...] = ()
    scene: tuple[SceneObs, ...] = ()
    audio: tuple[AudioObs, ...] = ()


def obs_key(obs: Obs | CaptionObs) -> tuple[int, str, int, int]:
    """Total order of observations: event time, then where they were read (stable across replays)."""
    return (obs.t_ms, obs.source.topic, obs.source.partition, obs.source.offset)


def window_of(camera_id: str, start_ms: int, end_ms: int, observations: list[Obs]) -> Window:
    """The window [start_ms, end_ms) over observations (any order); audio overlapping the window counts."""
    inside = sorted(
        (o for o in observations if _overlaps(o, start_ms, end_ms)),
        key=obs_key,
    )
    return Window(
        camera_id=camera_id,
        start_ms=start_ms,
        end_ms=end_ms,
        pose=tuple(o for o in inside if isinstance(o, PoseObs)),
        scene=tuple(o for o in inside if isinstance(o, SceneObs)),
        audio=tuple(o for o in inside if isinstance(o, AudioObs)),
    )


def _overlaps(obs: Obs, start_ms: int, end_ms: int) -> bool:
    if isinstance(obs, AudioObs):
        return obs.t_ms < end_ms and obs.t_ms + max(obs.duration_ms, 1) > start_ms
    return start_ms <= obs.t_ms < end_ms


def window_starts(t_ms: int, size_ms: int, hop_ms: int) -> range:
    """Starts of every hopping window containing the instant ``t_ms`` (hop-aligned, ascending)."""
    last = t_ms - t_ms % hop_ms
    return range(last - size_ms + hop_ms, last + 1, hop_ms)
