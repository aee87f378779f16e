"""Fuzzy distress-phrase matching over transcripts (pure)."""

from __future__ import annotations

from pathlib import Path

import pytest

from processors.audio.lexicon import load_lexicon, match, normalize
from processors.settings import ProcessorSettings

LEXICON = ProcessorSettings().lexicon_file


@pytest.fixture(scope="module")
def lexicon():  # type: ignore[no-untyped-def]
    return load_lexicon(LEXICON)


def _phrases(text: str, lexicon) -> set[str]:  # type: ignore[no-untyped-def]
    return {m.phrase for m in match(text, lexicon)}


def test_lexicon_is_versioned_and_multilingual(lexicon) -> None:  # type: ignore[no-untyped-def]
    assert lexicon.version
    assert {"en", "es", "fr", "de"} <= {p.language for p in lexicon.phrases}
    assert {"distress", "violence", "fire", "medical"} <= {p.category for p in lexicon.phrases}


def test_normalize_strips_accents_and_punctuation() -> None:
    assert normalize("¡Ayúdame! Llamen a la policía.") == "ayudame llamen a la policia"
    assert normalize("There's a FIRE") == "theres a fire"


def test_exact_phrases_match(lexicon) -> None:  # type: ignore[no-untyped-def]
    found = match("Help. Somebody call the police.", lexicon)
    assert {"help", "call the police"} <= {m.phrase for m in found}
    assert all(m.category == "distress" and m.score == 1.0 for m in found if m.phrase == "call the police")


def test_transcription_slips_still_match(lexicon) -> None:  # type: ignore[no-untyped-def]
    found = {m.phrase: m for m in match("Hell, somebody called the police", lexicon)}
    assert "call the police" in found and found["call the police"].matched_text == "called the police"
    assert "help" in found and 0.7 < found["help"].score < 1.0


def test_other_languages_match(lexicon) -> None:  # type: ignore[no-untyped-def]
    assert "llamen a la policía" in _phrases("¡Llamen a la policía!", lexicon)
    assert "au secours" in _phrases("Au secours !", lexicon)
    assert "er hat eine waffe" in _phrases("Vorsicht, er hat eine Waffe", lexicon)


@pytest.mark.parametrize(
    "text",
    ["Nice weather today, we went for a walk in the park.", "It is on top of the table.", "hello there", ""],
)
def test_ordinary_speech_does_not_match(lexicon, text) -> None:  # type: ignore[no-untyped-def]
    assert match(text, lexicon) == []


def test_best_matches_first_and_bounded(lexicon) -> None:  # type: ignore[no-untyped-def]
    found = match("help help me somebody help call the police call an ambulance fire get out stop", lexicon)
    scores = [m.score for m in found]
    assert scores == sorted(scores, reverse=True)
    assert len(found) <= 10


def test_custom_thresholds(tmp_path: Path) -> None:
    path = tmp_path / "lexicon.yaml"
    path.write_text(
        'version: "t1"\nmin_score: 95\nmin_score_short: 95\nshort_chars: 5\n'
        "categories:\n  distress:\n    en: [{phrase: help, min_score: 70}, call the police]\n"
    )
    lex = load_lexicon(path)
    assert {m.phrase for m in match("hell, somebody called the police", lex)} == {"help"}
