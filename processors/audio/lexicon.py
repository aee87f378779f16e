"""A versioned multilingual lexicon of distress/danger phrases with fuzzy matching over transcripts."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import yaml
from rapidfuzz import fuzz

from schemas.records import PhraseMatch

_NON_WORD = re.compile(r"[^0-9a-z]+")
MAX_MATCHES = 10


def normalize(text: str) -> str:
    """Lowercase ASCII words: accents, apostrophes and punctuation removed ("Ayúdame!" -> "ayudame")."""
    decomposed = unicodedata.normalize("NFKD", text.lower().replace("'", "").replace("\u2019", ""))
    ascii_text = "".join(c for c in decomposed if not unicodedata.combining(c))
    return _NON_WORD.sub(" ", ascii_text).strip()


@dataclass(frozen=True, slots=True)
class Phrase:
    text: str  # as written in the lexicon
    key: str  # normalised
    category: str
    language: str
    min_score: float


@dataclass(frozen=True, slots=True)
class Lexicon:
    version: str
    phrases: tuple[Phrase, ...]


def load_lexicon(path: Path) -> Lexicon:
    doc = yaml.safe_load(path.read_text())
    default, short, short_chars = float(doc["min_score"]), float(doc["min_score_short"]), int(doc["short_chars"])
    phrases: list[Phrase] = []
    for category, by_language in doc["categories"].items():
        for language, entries in by_language.items():
            for item in entries:
                text = item["phrase"] if isinstance(item, dict) else str(item)
                key = normalize(text)
                threshold = short if len(key) <= short_chars else default
                if isinstance(item, dict) and "min_score" in item:
                    threshold = float(item["min_score"])
                phrases.append(Phrase(text, key, str(category), str(language), threshold))
    return Lexicon(version=str(doc["version"]), phrases=tuple(phrases))


def _best_window(tokens: list[str], phrase: Phrase) -> tuple[float, str]:
    """Best similarity of the phrase against token windows one word shorter to one word longer than it."""
    n = len(phrase.key.split())
    best, best_text = 0.0, ""
    for size in range(max(1, n - 1), n + 2):
        for start in range(max(1, len(tokens) - size + 1)):
            window = " ".join(tokens[start : start + size])
            similarity = fuzz.ratio(window, phrase.key)
            if similarity > best:
                best, best_text = similarity, window
    return best, best_text


def match(transcript: str, lexicon: Lexicon) -> list[PhraseMatch]:
    """Lexicon phrases found in a transcript, best first (all languages: detection can be wrong)."""
    tokens = normalize(transcript).split()
    if not tokens:
        return []
    found: list[PhraseMatch] = []
    for phrase in lexicon.phrases:
        similarity, text = _best_window(tokens, phrase)
        if similarity >= phrase.min_score:
            found.append(
                PhraseMatch(
                    phrase=phrase.text,
                    category=phrase.category,
                    matched_text=text,
                    score=round(similarity / 100.0, 4),
                    language=phrase.language,
                )
            )
    found.sort(key=lambda m: (-m.score, -len(m.phrase)))
    return found[:MAX_MATCHES]
