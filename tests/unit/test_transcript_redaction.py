"""Transcript redaction (pure): phone numbers, e-mail addresses and listed names, written or spoken."""

from __future__ import annotations

from pathlib import Path

import pytest

from processors.audio import loudness
from processors.audio.redact import EMAIL, NAME, PHONE, Redactor, load_names, parse_names, redactor_for
from processors.audio.score import AudioAnalysis
from processors.settings import ProcessorSettings
from schemas.records import IntentMatch, PhraseMatch

PLAIN = Redactor()


@pytest.mark.parametrize(
    ("said", "marker"),
    [
        ("555-123-4567", PHONE),
        ("(555) 123 4567", PHONE),
        ("+44 20 7946 0958", PHONE),
        ("0170.1234567", PHONE),
        ("555-120-34,567", PHONE),
        ("five five five one two three four five six seven", PHONE),
        ("plus four four, two zero, seven nine four six", PHONE),
        ("anna.berg@example.com", EMAIL),
        ("Anna.Berg @ mail.example.co.uk", EMAIL),
        ("anna dot berg at example dot com", EMAIL),
        ("anna at example.com", EMAIL),
        ("there-at-email.com", EMAIL),
    ],
)
def test_numbers_and_addresses_written_or_spoken(said: str, marker: str) -> None:
    assert PLAIN.text(f"call {said} now") == f"call {marker} now"


@pytest.mark.parametrize(
    "said",
    [
        "help, call the police",
        "it was 2024 at 10:30 in room 1204",
        "call 911",
        "meet me at noon. Then go home",
        "I'm at the station",
        "one two three, go",
    ],
)
def test_ordinary_speech_is_left_alone(said: str) -> None:
    assert PLAIN.text(said) == said


def test_listed_names_whole_words_any_case_and_spacing() -> None:
    redactor = Redactor.with_names(["Anna Berg", "Tom", "  "])
    assert redactor.text("anna  BERG and Tom fell") == f"{NAME} and {NAME} fell"
    assert redactor.text("Tommy and Anna are fine") == "Tommy and Anna are fine"
    assert Redactor.with_names([]).names is None


def test_names_file_skips_blanks_and_comments(tmp_path: Path) -> None:
    assert parse_names(["# residents", "", " Anna Berg ", "Tom"]) == ("Anna Berg", "Tom")
    names = tmp_path / "names.txt"
    names.write_text("Anna Berg\n# staff\nTom\n")
    assert load_names(names) == ("Anna Berg", "Tom")
    with pytest.raises(ValueError, match="cannot be read"):
        load_names(tmp_path / "missing.txt")


def test_every_published_text_field_is_redacted() -> None:
    heard = "help, Tom fell, call 555 123 4567"
    analysis = AudioAnalysis(
        transcript=heard,
        language="en",
        language_probability=0.9,
        matched_phrases=[PhraseMatch("help", "distress", heard, 1.0, "en")],
        loudness=loudness.Loudness(rms_dbfs=-20.0, peak_dbfs=-3.0, sudden=False, max_window_dbfs=-10.0),
        speech_ratio=0.8,
        vad_skipped=False,
        intent=IntentMatch("fall", "medical", 0.8, 0.2, "he fell", "the price fell", heard),
    )
    out = Redactor.with_names(["Tom"]).analysis(analysis)
    expected = f"help, {NAME} fell, call {PHONE}"
    assert out.transcript == expected
    assert out.matched_phrases[0].matched_text == expected and out.matched_phrases[0].phrase == "help"
    assert out.intent is not None and out.intent.segment == expected and out.intent.intent == "fall"
    assert analysis.transcript == heard  # the original is untouched (it stays inside the processor)


def test_settings_turn_redaction_on_and_check_the_names_file(tmp_path: Path) -> None:
    assert redactor_for("off", None) is None
    assert redactor_for("on", None) == Redactor()
    names = tmp_path / "names.txt"
    names.write_text("Tom\n")
    on = ProcessorSettings(TRANSCRIPT_REDACTION="on", REDACT_NAMES_FILE=names)
    redactor = redactor_for(on.transcript_redaction, on.redact_names_file)
    assert redactor is not None and redactor.text("Tom") == NAME
    with pytest.raises(ValueError, match="TRANSCRIPT_REDACTION is off"):
        ProcessorSettings(REDACT_NAMES_FILE=names)
    with pytest.raises(ValueError, match="is not a file"):
        ProcessorSettings(TRANSCRIPT_REDACTION="on", REDACT_NAMES_FILE=tmp_path / "nope.txt")
