"""Transcript redaction (TRANSCRIPT_REDACTION=on): phone numbers, e-mail addresses and listed names are replaced by
``[phone]``, ``[email]`` and ``[name]`` before a transcript leaves the audio processor.

Pure functions. The lexicon and the intent encoder still read the words as spoken (they run before this, inside
the processor); only what is published is redacted: the transcript, each phrase match's ``matched_text`` and the
intent's ``segment``. Speech recognisers write numbers as digits ("555-123-4567", "+44 20 7946 0958") or as words
("five five five one two three ..."), and addresses as written or as spoken ("anna dot berg at example dot com");
both forms are caught.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from processors.audio.score import AudioAnalysis

PHONE = "[phone]"
EMAIL = "[email]"
NAME = "[name]"

_LOCAL = r"[A-Za-z0-9][A-Za-z0-9._%+-]*"
_DOMAIN = r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
_WRITTEN_EMAIL = re.compile(rf"{_LOCAL}\s*@\s*{_DOMAIN}(?:\s*\.\s*{_DOMAIN})+")
# "anna dot berg at example dot com", "anna at example.com": words joined by a spoken "dot" or a written "." (not
# a full stop: no space after it), "at", then a domain with at least one dot.
_W = r"[A-Za-z0-9][A-Za-z0-9_-]*"
_DOT = r"(?:\.(?=\w)|\s+dot\s+)"
_AT = r"(?:\s+|-)at(?:\s+|-)"  # "anna at example.com", "there-at-email.com"
_SPOKEN_EMAIL = re.compile(rf"\b{_W}(?:{_DOT}{_W})*{_AT}{_W}(?:{_DOT}{_W})*{_DOT}[A-Za-z]{{2,}}\b", re.I)

# Digits with the separators people (and speech recognisers: "555-120-34,567") write between them; seven digits
# or more is a phone number (a year, a room number or a time stays: they are shorter).
_PHONE_DIGITS = re.compile(r"(?<![\w+])\+?\(?\d(?:[\s().,-]{0,3}\d){6,}(?!\w)")
_SPOKEN_DIGIT = r"(?:zero|oh|one|two|three|four|five|six|seven|eight|nine|double|triple|\d)"
_PHONE_WORDS = re.compile(rf"\b(?:plus\s+)?{_SPOKEN_DIGIT}(?:[\s,.-]+{_SPOKEN_DIGIT}){{6,}}\b", re.I)


@dataclass(frozen=True)
class Redactor:
    """What to redact besides phone numbers and e-mail addresses: ``names`` (built by ``with_names``)."""

    names: re.Pattern[str] | None = None

    @classmethod
    def with_names(cls, names: Iterable[str]) -> Redactor:
        """Names match whole words, case-insensitively, any spacing between their words; the longest first."""
        unique = sorted({" ".join(n.split()) for n in names if n.strip()}, key=len, reverse=True)
        if not unique:
            return cls()
        alternatives = "|".join(r"\s+".join(re.escape(word) for word in name.split()) for name in unique)
        return cls(re.compile(rf"(?<!\w)(?:{alternatives})(?!\w)", re.I))

    def text(self, text: str) -> str:
        """``text`` with e-mail addresses, phone numbers and listed names replaced."""
        if not text:
            return text
        out = _WRITTEN_EMAIL.sub(EMAIL, text)
        out = _SPOKEN_EMAIL.sub(EMAIL, out)
        out = _PHONE_DIGITS.sub(PHONE, out)
        out = _PHONE_WORDS.sub(PHONE, out)
        return self.names.sub(NAME, out) if self.names is not None else out

    def analysis(self, analysis: AudioAnalysis) -> AudioAnalysis:
        """The analysis as it may be published: every field holding words as heard is redacted."""
        phrases = [dataclasses.replace(m, matched_text=self.text(m.matched_text)) for m in analysis.matched_phrases]
        intent = analysis.intent
        if intent is not None:
            intent = dataclasses.replace(intent, segment=self.text(intent.segment))
        return dataclasses.replace(
            analysis, transcript=self.text(analysis.transcript), matched_phrases=phrases, intent=intent
        )


def parse_names(lines: Iterable[str]) -> tuple[str, ...]:
    """One name per line; blank lines and ``#`` comments are skipped."""
    return tuple(line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#"))


def load_names(path: Path) -> tuple[str, ...]:
    try:
        return parse_names(path.read_text(encoding="utf-8").splitlines())
    except (OSError, UnicodeDecodeError) as exc:
        raise ValueError(f"REDACT_NAMES_FILE {path} cannot be read: {exc}") from exc


def redactor_for(redaction: str, names_file: Path | None) -> Redactor | None:
    """The processor's redactor for TRANSCRIPT_REDACTION and REDACT_NAMES_FILE; None when redaction is off."""
    if redaction != "on":
        return None
    return Redactor.with_names(load_names(names_file) if names_file is not None else ())
