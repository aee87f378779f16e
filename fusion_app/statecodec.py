"""Per-camera state <-> bytes for the compacted changelog topic.

Compact JSON arrays rather than Avro: the state is internal to the fusion worker (never a contract between
services), it changes with the code, and a ``format`` number lets a new worker refuse a state it cannot read
instead of misreading it. Records are written positionally to keep a checkpoint per batch cheap.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from typing import Any

from fusion_app.camera_state import CameraState
from fusion_app.fuse import Reason
from fusion_app.incidents import Incident, Incidents
from fusion_app.window import AudioObs, IntentHit, Obs, PersonObs, PhraseHit, PoseObs, SceneObs
from schemas.records import AnomalyKind, AnomalyState, LineageEntry, ModelInfo, ObjectRef, Severity

FORMAT = 1


class StateFormatError(ValueError):
    """The checkpoint was written by an incompatible version of the worker."""


def _ref(r: ObjectRef | None) -> list[Any] | None:
    return None if r is None else [r.bucket, r.key, r.sha256, r.size_bytes, r.content_type]


def _unref(v: list[Any] | None) -> ObjectRef | None:
    return None if v is None else ObjectRef(*v)


def _ref_req(v: list[Any]) -> ObjectRef:
    return ObjectRef(*v)


def _src(e: LineageEntry) -> list[Any]:
    return [e.event_id, e.modality, e.topic, e.partition, e.offset, e.model.name, e.model.version]


def _unsrc(v: list[Any]) -> LineageEntry:
    return LineageEntry(v[0], v[1], v[2], v[3], v[4], ModelInfo(v[5], v[6]))


def _obs(o: Obs) -> list[Any]:
    if isinstance(o, PoseObs):
        people = [
            [p.track, p.hip_height, p.torso_deg, p.center and list(p.center), p.height, list(p.limbs)] for p in o.people
        ]
        return ["P", o.t_ms, people, _ref(o.frame), _src(o.source)]
    if isinstance(o, SceneObs):
        labels = [list(x) for x in o.labels]
        return ["s", o.t_ms, o.anomaly_probability, labels, o.top_label, _ref(o.frame), _src(o.source)]
    phrases = [[h.phrase, h.category, h.score] for h in o.phrases]
    intent = None if o.intent is None else list(dataclasses.astuple(o.intent))
    return [
        "a", o.t_ms, o.duration_ms, phrases, o.transcript, o.loudness_dbfs, o.sudden_loudness, _ref(o.audio),
        _src(o.source), intent, o.scream,
    ]  # fmt: skip


def _unperson(v: list[Any]) -> PersonObs:
    return PersonObs(v[0], v[1], v[2], tuple(v[3]) if v[3] is not None else None, v[4], tuple(v[5]))


def _unobs(v: list[Any]) -> Obs:
    tag = v[0]
    if tag == "P":
        return PoseObs(v[1], tuple(_unperson(p) for p in v[2]), _ref_req(v[3]), _unsrc(v[4]))
    if tag == "p":  # written before poses held several people: one person, track 0, no centre
        people = (PersonObs(0, v[3], v[4], None, 0.0, tuple(v[5])),) if v[2] else ()
        return PoseObs(v[1], people, _ref_req(v[6]), _unsrc(v[7]))
    if tag == "s":
        return SceneObs(v[1], v[2], tuple((lb, p) for lb, p in v[3]), v[4], _ref_req(v[5]), _unsrc(v[6]))
    phrases = tuple(PhraseHit(*h) for h in v[3])
    intent = IntentHit(*v[9]) if len(v) > 9 and v[9] is not None else None  # absent in states written before intents
    scream = bool(v[10]) if len(v) > 10 else False  # absent in states written before scream cues
    return AudioObs(v[1], v[2], phrases, v[4], v[5], v[6], _ref_req(v[7]), _unsrc(v[8]), intent, scream)


def _incident(i: Incident) -> dict[str, Any]:
    return {
        "id": i.anomaly_id,
        "cam": i.camera_id,
        "rv": i.rules_version,
        "t": [i.start_ms, i.end_ms, i.window_start_ms, i.window_end_ms],
        "k": [k.value for k in i.kinds],
        "sev": i.severity.value,
        "sc": i.score,
        "why": [[r.key, r.text, r.score] for r in i.reasons],
        "fr": [_ref(r) for r in i.frames],
        "best": [_ref(i.best_frame), i.best_score],
        "au": [_ref(r) for r in i.audio],
        "tx": i.transcript,
        "cap": i.caption,
        "lin": [_src(e) for e in i.lineage],
        "pub": [i.closed, i.revision, i.state.value, i.published, i.published_score],
    }


def _unincident(d: dict[str, Any]) -> Incident:
    closed, revision, state, published, published_score = d["pub"]
    return Incident(
        anomaly_id=d["id"],
        camera_id=d["cam"],
        rules_version=d["rv"],
        start_ms=d["t"][0],
        end_ms=d["t"][1],
        window_start_ms=d["t"][2],
        window_end_ms=d["t"][3],
        kinds=tuple(AnomalyKind(k) for k in d["k"]),
        severity=Severity(d["sev"]),
        score=d["sc"],
        reasons=tuple(Reason(*r) for r in d["why"]),
        frames=tuple(_ref_req(r) for r in d["fr"]),
        best_frame=_unref(d["best"][0]),
        best_score=d["best"][1],
        audio=tuple(_ref_req(r) for r in d["au"]),
        transcript=d["tx"],
        caption=d["cap"],
        lineage=tuple(_unsrc(e) for e in d["lin"]),
        closed=closed,
        revision=revision,
        state=AnomalyState(state),
        published=published,
        published_score=published_score,
    )


Pending = tuple[str, str, bytes]  # (topic, key, encoded value) of an output a checkpoint still owes


class StateEncoder:
    """Encodes checkpoints, reusing the JSON of observations it has encoded before.

    Observations are immutable and stay in a camera's buffer for several seconds, i.e. in several consecutive
    checkpoints; caching their JSON by position (topic, partition, offset) makes a checkpoint cost little more
    than its incidents. One encoder per worker (positions are only unique within one rules set).
    """

    def __init__(self, cache_size: int = 200_000) -> None:
        self.cache_size = cache_size
        self._fragments: dict[tuple[str, int, int], str] = {}

    def encode(self, state: CameraState, outbox: Sequence[Pending] = ()) -> bytes:
        doc = {
            "format": FORMAT,
            "camera": state.camera_id,
            "wm": state.watermark_ms,
            "highs": [list(h) for h in state.highs],
            "active": _incident(state.incidents.active) if state.incidents.active else None,
            "recent": [_incident(i) for i in state.incidents.recent],
            "applied": [list(a) for a in state.applied],
            "wall": state.last_input_wall_ms,
            "outbox": [[topic, key, value.hex()] for topic, key, value in outbox],
        }
        rest = json.dumps(doc, separators=(",", ":"), allow_nan=False)
        buf = ",".join(self._fragment(o) for o in state.buffer)
        return ('{"buf":[' + buf + "]," + rest[1:]).encode()

    def _fragment(self, obs: Obs) -> str:
        key = (obs.source.topic, obs.source.partition, obs.source.offset)
        fragment = self._fragments.get(key)
        if fragment is None:
            fragment = json.dumps(_obs(obs), separators=(",", ":"), allow_nan=False)
            if self.cache_size:
                if len(self._fragments) >= self.cache_size:
                    self._fragments.clear()  # simplest bound: refilled within a few checkpoints
                self._fragments[key] = fragment
        return fragment


def decode_state(data: bytes) -> tuple[CameraState, list[Pending]]:
    """A checkpoint back as the camera state and the outputs it still owed; raises ``StateFormatError``."""
    try:
        doc = json.loads(data)
    except ValueError as exc:
        raise StateFormatError(f"unreadable checkpoint: {exc}") from exc
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        found = doc.get("format") if isinstance(doc, dict) else None
        raise StateFormatError(f"checkpoint format {found!r}, this worker reads {FORMAT}")
    try:
        return _decode_doc(doc)
    except (KeyError, TypeError, ValueError) as exc:
        # A checkpoint written by an older build of the same format: the camera restarts empty, never the worker.
        raise StateFormatError(f"checkpoint lacks or mistypes {exc}") from exc


def _decode_doc(doc: dict[str, Any]) -> tuple[CameraState, list[Pending]]:
    state = CameraState(
        camera_id=doc["camera"],
        watermark_ms=doc["wm"],
        highs=tuple((m, t) for m, t in doc["highs"]),
        buffer=tuple(_unobs(o) for o in doc["buf"]),
        incidents=Incidents(
            active=_unincident(doc["active"]) if doc["active"] else None,
            recent=tuple(_unincident(i) for i in doc["recent"]),
        ),
        applied=tuple((t, p, o) for t, p, o in doc["applied"]),
        last_input_wall_ms=doc["wall"],
    )
    return state, [(topic, key, bytes.fromhex(value)) for topic, key, value in doc["outbox"]]
