"""Spoken intent by meaning: segmentation, best-margin choice on fixed embeddings, the real encoder on idioms,
the held-out eval set, and the Whisper loop safeguards."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from processors.audio.intent import Intent, IntentIndex, IntentSet, load_intents, segments
from processors.audio.speech_eval import leaked, load_set
from processors.audio.transcribe import Candidate, collapse_repeats, compression_ratio, decode_with_fallback
from processors.settings import ProcessorSettings

INTENTS = ProcessorSettings().intents_file


class TableEmbedder:
    """Fixed 3-d embeddings: axis 0 = danger, axis 1 = harmless, axis 2 = fire."""

    table = {
        "help me": [1, 0, 0],
        "there's a fire": [0, 0, 1],
        "help yourself": [0, 1, 0],
        "we need help": [0.9, 0.1, 0],
        "pass the salt": [0.1, 0.9, 0],
        "fire": [0.2, 0.2, 0.9],
    }

    def embed(self, texts: list[str]) -> np.ndarray:
        rows = np.array([self.table.get(t.lower().strip(" .!"), [0.3, 0.3, 0.3]) for t in texts], np.float32)
        return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def _fixed_index() -> IntentIndex:
    intents = IntentSet(
        "t-1",
        (Intent("help", "distress", ("help me",)), Intent("fire", "fire", ("there's a fire",))),
        ("help yourself",),
    )
    return IntentIndex(intents, TableEmbedder())


def test_segments_are_the_whole_and_its_clauses_without_lone_words() -> None:
    assert segments("He's got a gun, run") == ["He's got a gun, run", "He's got a gun"]
    assert segments("Fire!") == ["Fire!"]
    assert segments("  ...  ") == [] and segments("") == []
    assert len(segments("a b, " * 100)) <= 12


def test_best_margin_segment_wins_on_fixed_embeddings() -> None:
    index = _fixed_index()
    match = index.classify("pass the salt. we need help")
    assert match is not None
    assert (match.intent, match.category, match.segment, match.example) == (
        "help",
        "distress",
        "we need help",
        "help me",
    )
    assert match.margin > 0 and match.benign_example == "help yourself"
    fire = index.classify("fire")
    assert fire is not None and fire.intent == "fire"
    assert index.classify("") is None


def test_intents_file_is_versioned_and_complete() -> None:
    intents = load_intents(INTENTS)
    assert intents.version and len(intents.benign) >= 30
    names = {i.name for i in intents.intents}
    assert {"help", "medical", "fall", "threat", "violence", "fire", "intruder"} <= names


def test_intents_file_refuses_an_intent_without_examples(tmp_path: Path) -> None:
    bad = tmp_path / "i.yaml"
    bad.write_text('version: "x"\nintents: {help: {category: distress, examples: []}}\nbenign: ["hi"]\n')
    with pytest.raises(ValueError):
        load_intents(bad)


def test_eval_sentences_are_held_out_of_the_intents_file() -> None:
    _, utterances = load_set()
    distress = [u for u in utterances if u.intent]
    assert len(utterances) >= 60 and len(distress) * 2 == len(utterances)
    assert leaked(utterances, load_intents(INTENTS)) == []


@pytest.fixture(scope="module")
def real_index() -> IntentIndex:
    from processors.audio.intent import MiniLmEmbedder
    from processors.models import require

    entry = require(ProcessorSettings(), "intent")  # bootstrap pulls it: `anomaly models pull intent`
    assert entry.path is not None
    return IntentIndex(load_intents(INTENTS), MiniLmEmbedder(entry.path, threads=1))


@pytest.mark.slow
@pytest.mark.parametrize(
    ("text", "intent"),
    [("I have fallen and I can't get up", "fall"), ("He's got a gun, run", "threat"), ("can't breathe", "medical")],
)
def test_distress_without_a_lexicon_word_is_near_its_intent(real_index: IntentIndex, text: str, intent: str) -> None:
    match = real_index.classify(text)
    assert match is not None and match.intent == intent and match.margin > 0.1, match


@pytest.mark.slow
@pytest.mark.parametrize(
    "text",
    ["I'm so fired up about the game tonight", "Help yourself to some cookies in the kitchen", "stop the music"],
)
def test_idioms_are_nearer_to_harmless_speech(real_index: IntentIndex, text: str) -> None:
    match = real_index.classify(text)
    assert match is not None and match.margin < 0, match


def test_loops_are_collapsed_and_detected() -> None:
    assert collapse_repeats("Help me, Carmen. " * 6) == "Help me, Carmen. Help me, Carmen."
    assert collapse_repeats("help, help, help, help") == "help, help,"
    assert collapse_repeats("I said no no to him") == "I said no no to him"
    assert compression_ratio("word " * 30) > 2.4 > compression_ratio("he has a knife, put it down")


def test_fallback_stops_at_the_first_readable_decode() -> None:
    calls: list[float] = []
    looping = "again " * 30

    def decode(t: float) -> Candidate:
        calls.append(t)
        return Candidate(looping if t == 0 else "he has a knife", -0.3, 0.1, t)

    assert decode_with_fallback(decode).text == "he has a knife" and len(calls) == 2


def test_fallback_keeps_the_most_probable_non_looping_decode() -> None:
    results = {0.0: ("again " * 30, -0.1), 0.3: ("put it down", -1.5), 0.6: ("but the high", -2.5)}

    def decode(t: float) -> Candidate:
        text, logprob = results[t]
        return Candidate(text, logprob, 0.1, t)

    assert decode_with_fallback(decode).text == "put it down"
