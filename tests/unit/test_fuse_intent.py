"""Fusion of spoken intent (AudioScore.intent): the meaning decides, the lexicon only corroborates, and scores
written before intents keep the phrase-alone rule."""

from __future__ import annotations

from dataclasses import replace

from bench.fusion_scenarios import audio, scene
from fusion_app.fuse import fuse
from fusion_app.observe import observe
from fusion_app.offline import with_offsets
from fusion_app.rules import load_rules
from fusion_app.statecodec import _obs, _unobs
from fusion_app.window import AudioObs, Window, window_of
from schemas.records import AnomalyKind, AudioScore, IntentMatch, SceneScore

T0 = 1_700_000_000_000
CAM = "cam-1"
RULES = load_rules()


def _intent(intent: str, category: str, score: float, margin: float, segment: str) -> IntentMatch:
    return IntentMatch(intent, category, score, margin, f"example of {intent}", "a harmless example", segment)


def _window(*records: AudioScore | SceneScore) -> Window:
    observed = [observe(r, w, RULES)[0] for r, w in with_offsets(list(records))]
    return window_of(CAM, T0, T0 + 4000, observed)  # type: ignore[arg-type]


def _said(text: str, match: IntentMatch | None, phrases: tuple[tuple[str, str, float], ...] = ()) -> AudioScore:
    return replace(audio(CAM, T0 + 1000, text, phrases), intent=match)


def test_an_intent_without_any_lexicon_word_alerts_with_its_reason() -> None:
    text = "I have fallen and I can't get up"
    d = fuse(_window(_said(text, _intent("fall", "fall", 0.75, 0.29, text))), RULES)
    assert d.alert and d.kinds == (AnomalyKind.DISTRESS_SPEECH,)
    assert "means fall" in d.reasons[0].text and "margin +0.29" in d.reasons[0].text and text in d.reasons[0].text


def test_a_lexicon_word_in_an_idiom_does_not_alert() -> None:
    text = "I'm so fired up about the game tonight"
    d = fuse(_window(_said(text, _intent("fire", "fire", 0.44, -0.11, text), (("fire", "fire", 0.9),))), RULES)
    assert not d.alert


def test_the_lexicon_lowers_the_margin_an_intent_needs() -> None:
    text = "fire"
    weak = _intent("fire", "fire", 0.7, 0.05, text)
    assert not fuse(_window(_said(text, weak)), RULES).alert
    d = fuse(_window(_said(text, weak, (("fire", "fire", 1.0),))), RULES)
    assert d.alert and d.kinds == (AnomalyKind.FIRE_SMOKE,) and 'lexicon "fire"' in d.reasons[0].text


def test_a_faint_similarity_is_no_intent_whatever_the_margin() -> None:
    d = fuse(_window(_said("hm", _intent("help", "distress", 0.3, 0.2, "hm"))), RULES)
    assert not d.alert and not d.hold


def test_scores_written_before_intents_keep_the_phrase_alone_rule() -> None:
    d = fuse(_window(_said("help me", None, (("help me", "help", 0.93),))), RULES)
    assert d.alert and d.kinds == (AnomalyKind.DISTRESS_SPEECH,)


def test_intent_survives_the_state_checkpoint() -> None:
    text = "he's got a gun"
    obs = _window(_said(text, _intent("threat", "weapon", 0.79, 0.44, text))).audio[0]
    assert isinstance(obs, AudioObs) and obs.intent is not None
    assert _unobs(_obs(obs)) == obs
    legacy = _obs(obs)[:9]  # a checkpoint written before intents
    restored = _unobs(legacy)
    assert isinstance(restored, AudioObs) and restored.intent is None


def test_a_scream_without_words_is_a_cue_never_an_alert() -> None:
    alone = fuse(_window(replace(audio(CAM, T0 + 1000, ""), scream=True)), RULES)
    assert not alone.alert and not alone.hold  # never DISTRESS_SPEECH (or anything) on its own
    quiet = _window(scene(CAM, T0 + 1500, 0.70), scene(CAM, T0 + 2500, 0.70))
    assert not fuse(quiet, RULES).alert  # 0.70 is below the scene's alone threshold (0.80)
    screamed = _window(
        replace(audio(CAM, T0 + 1000, ""), scream=True), scene(CAM, T0 + 1500, 0.70), scene(CAM, T0 + 2500, 0.70)
    )
    d = fuse(screamed, RULES)
    assert d.alert and AnomalyKind.DISTRESS_SPEECH not in d.kinds and AnomalyKind.LOUD_NOISE in d.kinds
    assert any("scream" in r.text for r in d.reasons) and any("lowered" in r.text for r in d.reasons)


def test_scream_survives_the_state_checkpoint() -> None:
    obs = _window(replace(audio(CAM, T0 + 1000, ""), scream=True)).audio[0]
    assert isinstance(obs, AudioObs) and obs.scream and _unobs(_obs(obs)) == obs
    legacy = _unobs(_obs(obs)[:10])  # a checkpoint written before scream cues
    assert isinstance(legacy, AudioObs) and legacy.scream is False
