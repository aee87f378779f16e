"""``fuse(window, rules) -> Decision``: the fusion rules as one pure function.

Every rule yields a *signal* whose score is calibrated so that reaching the rule's own threshold scores exactly
``0.5`` (``fusion.alert_score``); below the threshold the score falls linearly to 0, above it rises to 1. That makes
scores of different rules comparable, and lets one hysteresis level (``fusion.hold_score``) apply to all of them.

Rules (from the original deployment, plus temporal pose rules):
* speech whose meaning is near an emergency intent and far enough from harmless speech raises an alert by itself
  (an emergency phrase of the lexicon lowers the bar; scores written before intents keep the phrase-alone rule);
* a high scene anomaly probability on several frames raises an alert by itself;
* a pose cue (lying, a drop, fast limbs) plus a moderate scene probability raises an alert (agreement);
* an audio cue (speech nearer an emergency than harmless speech, sudden loud sound, a scream or shout without
  words) lowers the scene thresholds (a cue alone never alerts); missing audio changes nothing;
* per tracked person (``features``): fall = upright, then lying lower within a moment (or across a detector
  dropout, found near where she was lost) and lying persists; person down = lying that persists;
  violence = fast wrist/knee motion relative to the hips of a person next to someone else.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from fusion_app.features import any_lying, fall_ratio, pose_features
from fusion_app.rules import Rules
from fusion_app.window import AudioObs, IntentHit, Obs, PoseObs, SceneObs, Window, obs_key
from schemas.records import AnomalyKind, ObjectRef, Severity

SEVERITY_ORDER = (Severity.LOW, Severity.MEDIUM, Severity.HIGH, Severity.CRITICAL)
MODALITIES = ("pose", "scene", "audio")


@dataclass(frozen=True, slots=True)
class Signal:
    kind: AnomalyKind
    modalities: tuple[str, ...]
    score: float
    reason: str
    sources: tuple[Obs, ...]
    best_frame: ObjectRef | None = None


@dataclass(frozen=True, slots=True)
class Reason:
    """A human-readable reason; ``key`` names the rule, so an incident keeps one (the strongest) per rule."""

    key: str
    text: str
    score: float


@dataclass(frozen=True, slots=True)
class Decision:
    camera_id: str
    window_start_ms: int
    window_end_ms: int
    rules_version: str
    score: float  # best signal score, alerting or not
    alert: bool
    hold: bool
    severity: Severity
    kinds: tuple[AnomalyKind, ...]  # most severe first
    reasons: tuple[Reason, ...]
    signals: tuple[Signal, ...]  # the signals that count (alerting ones when alerting, else holding ones)
    evidence: tuple[Obs, ...]  # their sources, in time order, without duplicates
    best_frame: ObjectRef | None
    transcript: str | None

    @property
    def first_evidence_ms(self) -> int:
        return self.evidence[0].t_ms if self.evidence else self.window_start_ms

    @property
    def last_evidence_ms(self) -> int:
        return max((o.t_ms for o in self.evidence), default=self.window_start_ms)


def calibrate(level: float, threshold: float) -> float:
    """Maps a probability-like level to [0, 1] with the threshold at 0.5."""
    threshold = min(max(threshold, 1e-6), 1.0)
    if level < threshold:
        return max(0.0, 0.5 * level / threshold)
    if threshold >= 1.0:
        return 1.0
    return min(1.0, 0.5 + 0.5 * (level - threshold) / (1.0 - threshold))


def calibrate_ratio(ratio: float) -> float:
    """Maps measure/threshold to [0, 1] with 1x at 0.5 and 2x or more at 1."""
    return max(0.0, min(1.0, 0.5 * ratio if ratio < 1.0 else 0.5 + 0.5 * (ratio - 1.0)))


def fuse(window: Window, rules: Rules) -> Decision:
    cue = _audio_cue(window.audio, rules)
    discount = rules.audio.visual_discount if cue else 0.0
    pose = _pose_signals(window.pose, rules)
    signals = [
        *_audio_signals(window.audio, rules),
        *_scene_alone(window.scene, rules, discount),
        *pose,
        *_agreement(pose, window.pose, window.scene, rules, discount),
    ]
    alerting = [s for s in signals if s.score >= rules.fusion.alert_score]
    holding = [s for s in signals if s.score >= rules.fusion.hold_score]
    counted = alerting or holding
    kinds = _kinds(counted, rules)
    reasons = [
        Reason(f"{s.kind.value}/{'+'.join(s.modalities)}", s.reason, s.score)
        for s in sorted(counted, key=lambda s: -s.score)
    ]
    if alerting and cue is not None:
        if cue.sudden_loudness and AnomalyKind.LOUD_NOISE not in kinds:
            kinds.append(AnomalyKind.LOUD_NOISE)
            reasons.append(Reason("loud", f"audio: sudden loud sound ({cue.loudness_dbfs:.0f} dBFS)", 0.0))
        elif cue.scream and AnomalyKind.LOUD_NOISE not in kinds:
            kinds.append(AnomalyKind.LOUD_NOISE)
            reasons.append(
                Reason("scream", "audio: a scream or shout without words (loud, high-pitched or clipped)", 0.0)
            )
        if discount and any(set(s.modalities) - {"audio"} for s in alerting):
            reasons.append(Reason("discount", f"audio cue lowered the scene thresholds by {discount:.2f}", 0.0))
    evidence = _unique(o for s in counted for o in s.sources)
    best = max(signals, key=lambda s: s.score, default=None)
    return Decision(
        camera_id=window.camera_id,
        window_start_ms=window.start_ms,
        window_end_ms=window.end_ms,
        rules_version=rules.version,
        score=round(best.score, 4) if best else 0.0,
        alert=bool(alerting),
        hold=bool(holding),
        severity=_severity(counted, kinds, rules),
        kinds=tuple(kinds),
        reasons=tuple(reasons),
        signals=tuple(counted),
        evidence=evidence,
        best_frame=_best_frame(counted, evidence),
        transcript=_transcript(window.audio, rules) if counted else None,
    )


def _audio_cue(audio: tuple[AudioObs, ...], rules: Rules) -> AudioObs | None:
    """The loudest audio chunk that carries a cue (sudden loudness, a scream or shout without words, or speech near
    an emergency), if any."""
    cues = [a for a in audio if a.sudden_loudness or a.scream or _speech_cue(a, rules)]
    return max(cues, key=lambda a: (a.sudden_loudness, a.scream, a.loudness_dbfs), default=None)


def _speech_cue(chunk: AudioObs, rules: Rules) -> bool:
    phrase = any(p.score >= rules.audio.cue_min_score for p in chunk.phrases)
    intent = chunk.intent
    if intent is None:
        return phrase
    if intent.score < rules.audio.intent_min_score:
        return False
    return intent.margin >= (rules.audio.intent_lexicon_margin if phrase else rules.audio.intent_cue_margin)


def _audio_signals(audio: tuple[AudioObs, ...], rules: Rules) -> list[Signal]:
    best: dict[AnomalyKind, Signal] = {}
    for chunk in audio:
        found = _phrase_signals(chunk, rules) if chunk.intent is None else _intent_signals(chunk, chunk.intent, rules)
        for kind, score, reason in found:
            current = best.get(kind)
            if current is None or score > current.score:
                best[kind] = Signal(kind, ("audio",), score, reason, (chunk,))
            elif score == current.score:
                best[kind] = Signal(kind, ("audio",), score, current.reason, (*current.sources, chunk))
    if rules.audio.loud_noise_alone:
        loud = tuple(a for a in audio if a.sudden_loudness)
        if loud:
            best[AnomalyKind.LOUD_NOISE] = Signal(
                AnomalyKind.LOUD_NOISE, ("audio",), rules.fusion.alert_score, "audio: sudden loud sound", loud
            )
    return list(best.values())


def _phrase_signals(chunk: AudioObs, rules: Rules) -> list[tuple[AnomalyKind, float, str]]:
    """Scores written before intents: each lexicon phrase is judged alone, as the original rules did."""
    return [
        (
            rules.audio.categories.get(hit.category.lower(), rules.audio.default_kind),
            calibrate(hit.score, rules.audio.phrase_min_score),
            f'audio: "{hit.phrase}" ({hit.category}, match {hit.score:.2f})',
        )
        for hit in chunk.phrases
    ]


def _intent_signals(chunk: AudioObs, intent: IntentHit, rules: Rules) -> list[tuple[AnomalyKind, float, str]]:
    """The meaning decides: an intent alerts when its margin over the benign examples reaches the threshold, a
    lower one when an emergency phrase of the lexicon agrees; a lexicon word in a harmless sentence stays quiet."""
    if intent.score < rules.audio.intent_min_score:
        return []
    lexicon = max(chunk.phrases, key=lambda p: p.score, default=None)
    agreed = lexicon is not None and lexicon.score >= rules.audio.phrase_min_score
    threshold = rules.audio.intent_lexicon_margin if agreed else rules.audio.intent_min_margin
    # Margin over the threshold -> [0, 1] with the threshold at 0.5 and +0.25 above it at 1.
    score = max(0.0, min(1.0, 0.5 + 2.0 * (intent.margin - threshold)))
    reason = (
        f'audio: "{intent.segment}" means {intent.intent} (like "{intent.example}", similarity {intent.score:.2f},'
        f' margin {intent.margin:+.2f} over "{intent.benign_example}")'
    )
    if agreed and lexicon is not None:
        reason += f'; lexicon "{lexicon.phrase}" ({lexicon.category}, match {lexicon.score:.2f})'
    kind = rules.audio.categories.get(intent.category.lower(), rules.audio.default_kind)
    return [(kind, score, reason)]


def _scene_kind(scene: Iterable[SceneObs], rules: Rules) -> tuple[AnomalyKind, str]:
    weights: dict[str, float] = {}
    for obs in scene:
        for label, p in obs.labels:
            weights[label] = weights.get(label, 0.0) + p
        if not obs.labels and obs.top_label:
            weights[obs.top_label] = weights.get(obs.top_label, 0.0) + obs.anomaly_probability
    if not weights:
        return rules.scene.default_kind, "anomaly"
    label = max(sorted(weights), key=lambda k: weights[k])
    lowered = label.lower()
    for rule in rules.scene.kinds:
        if any(fragment in lowered for fragment in rule.contains):
            return rule.kind, label
    return rules.scene.default_kind, label


def _scene_alone(scene: tuple[SceneObs, ...], rules: Rules, discount: float) -> list[Signal]:
    if not scene:
        return []
    threshold = rules.scene.alone_threshold - discount
    ranked = sorted(scene, key=lambda o: -o.anomaly_probability)
    k = rules.scene.alone_min_frames
    # The k-th best frame must clear the threshold; with fewer frames the level is scaled down accordingly.
    level = ranked[min(k, len(ranked)) - 1].anomaly_probability * min(1.0, len(ranked) / k)
    sources = tuple(o for o in ranked if o.anomaly_probability >= min(level, threshold))
    kind, label = _scene_kind(sources, rules)
    reason = f"scene: {label} p={level:.2f} on {len(sources)} frame(s) (threshold {threshold:.2f})"
    return [Signal(kind, ("scene",), calibrate(level, threshold), reason, sources, ranked[0].frame)]


def _pose_signals(poses: tuple[PoseObs, ...], rules: Rules) -> list[Signal]:
    if len(poses) < 2:
        return []
    pr = rules.pose
    feats = pose_features(poses, pr)
    signals: list[Signal] = []
    if feats.fall is not None:
        fall = feats.fall
        how = "lost for" if fall.dropout else "within"
        reason = (
            f"pose: person {fall.run.track} upright, then lying {fall.drop:.2f} body heights lower "
            f"{how} {fall.after_ms / 1000:.1f}s (needs {pr.fall_min_drop:.2f}), "
            f"lying for {fall.run.duration_ms / 1000:.1f}s (needs {pr.fall_persist_ms / 1000:.1f}s)"
        )
        falling = poses[fall.upright : fall.run.last + 1]
        score = calibrate_ratio(fall_ratio(fall, pr))
        signals.append(Signal(AnomalyKind.FALL, ("pose",), score, reason, falling, poses[fall.run.first].frame))
    if feats.lying is not None:
        run = feats.lying
        reason = (
            f"pose: person {run.track} lying for {run.duration_ms / 1000:.1f}s "
            f"(needs {pr.person_down_persist_ms / 1000:.1f}s)"
        )
        signals.append(
            Signal(
                AnomalyKind.PERSON_DOWN,
                ("pose",),
                calibrate_ratio(run.duration_ms / pr.person_down_persist_ms),
                reason,
                poses[run.first : run.last + 1],
                poses[run.first].frame,
            )
        )
    if feats.limb_speeds:
        k = min(pr.violence_min_pairs, len(feats.limb_speeds))
        level = feats.limb_speeds[k - 1][0] * k / pr.violence_min_pairs
        fast = [i for speed, i in feats.limb_speeds if speed >= min(level, pr.violence_speed)]
        sources = _unique(poses[j] for i in fast for j in (i - 1, i))
        reason = (
            f"pose: wrist/knee speed {level:.1f} torso/s on {len(fast)} pair(s) next to another person "
            f"(threshold {pr.violence_speed:.1f})"
        )
        best = poses[feats.limb_speeds[0][1]].frame
        signals.append(
            Signal(AnomalyKind.VIOLENCE, ("pose",), calibrate_ratio(level / pr.violence_speed), reason, sources, best)
        )
    return signals


def _agreement(
    pose: list[Signal], poses: tuple[PoseObs, ...], scene: tuple[SceneObs, ...], rules: Rules, discount: float
) -> list[Signal]:
    """A pose cue (half a pose threshold, or any lying pose) agreeing with a moderate scene probability."""
    if not scene:
        return []
    cue = max((s for s in pose if s.score >= 0.25), key=lambda s: s.score, default=None)
    if cue is None:
        lying = any_lying(poses, rules.pose)
        if not lying:
            return []
        cue = Signal(AnomalyKind.PERSON_DOWN, ("pose",), 0.25, "pose: lying", lying, lying[0].frame)
    threshold = rules.scene.agreement_threshold - discount
    top = max(scene, key=lambda o: o.anomaly_probability)
    frames = tuple(o for o in scene if o.anomaly_probability >= threshold) or (top,)
    _, label = _scene_kind(frames, rules)
    reason = (
        f"pose {cue.kind.value.lower()} cue agrees with scene {label} p={top.anomaly_probability:.2f} "
        f"(threshold {threshold:.2f})"
    )
    score = calibrate(top.anomaly_probability, threshold)
    return [Signal(cue.kind, ("pose", "scene"), score, reason, (*cue.sources, *frames), top.frame)]


def _kinds(signals: list[Signal], rules: Rules) -> list[AnomalyKind]:
    ranked = sorted(
        signals, key=lambda s: (-SEVERITY_ORDER.index(rules.fusion.severity[s.kind]), -s.score, s.kind.value)
    )
    kinds: list[AnomalyKind] = []
    for s in ranked:
        if s.kind not in kinds:
            kinds.append(s.kind)
    return kinds


def _severity(signals: list[Signal], kinds: list[AnomalyKind], rules: Rules) -> Severity:
    if not kinds:
        return Severity.LOW
    level = max(SEVERITY_ORDER.index(rules.fusion.severity[k]) for k in kinds)
    modalities = {m for s in signals for m in s.modalities}
    if len(modalities) >= 2 or max(s.score for s in signals) >= rules.fusion.critical_score:
        level += 1
    return SEVERITY_ORDER[min(level, len(SEVERITY_ORDER) - 1)]


def _best_frame(signals: list[Signal], evidence: tuple[Obs, ...]) -> ObjectRef | None:
    for s in sorted(signals, key=lambda s: -s.score):
        if s.best_frame is not None:
            return s.best_frame
    return next((o.frame for o in evidence if isinstance(o, PoseObs | SceneObs)), None)


def _transcript(audio: tuple[AudioObs, ...], rules: Rules) -> str | None:
    text = " ".join(a.transcript.strip() for a in audio if a.transcript.strip())
    return text[: rules.audio.transcript_chars] or None


def _unique(observations: Iterable[Obs]) -> tuple[Obs, ...]:
    seen: dict[tuple[int, str, int, int], Obs] = {}
    for o in observations:
        seen.setdefault(obs_key(o), o)
    return tuple(seen[k] for k in sorted(seen))
