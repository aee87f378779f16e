"""The audio ``score``: loudness cues always, VAD, and transcript, phrase matches and spoken intent only when
there is speech."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np

from processors.audio import loudness, vad
from processors.audio.lexicon import Lexicon, match
from processors.audio.transcribe import Transcript
from processors.media import Pcm, resample
from schemas.records import IntentMatch, PhraseMatch


class Transcriber(Protocol):
    def transcribe(self, samples16k: np.ndarray) -> Transcript: ...


class IntentClassifier(Protocol):
    def classify(self, transcript: str) -> IntentMatch | None: ...


@dataclass(frozen=True, slots=True)
class VadConfig:
    energy_dbfs: float = -50.0
    use_silero: bool = True
    threshold: float = 0.5


@dataclass(frozen=True, slots=True)
class AudioAnalysis:
    transcript: str
    language: str | None
    language_probability: float
    matched_phrases: list[PhraseMatch]
    loudness: loudness.Loudness
    speech_ratio: float
    vad_skipped: bool
    intent: IntentMatch | None = None
    scream: bool = False  # a loud high-pitched or clipped voice without words (processors/audio/scream.py)


def score(
    pcm: Pcm, transcriber: Transcriber, lexicon: Lexicon, config: VadConfig, intents: IntentClassifier | None = None
) -> AudioAnalysis:
    """Analysis of one chunk; silent or non-speech chunks never reach the speech model."""
    level = loudness.measure(pcm.samples, pcm.sample_rate)
    samples16k = resample(pcm, vad.SILERO_RATE).samples
    voice = vad.detect(
        samples16k, energy_dbfs=config.energy_dbfs, use_silero=config.use_silero, threshold=config.threshold
    )
    if not voice.speech:
        return AudioAnalysis("", None, 0.0, [], level, voice.speech_ratio, vad_skipped=True)
    text = transcriber.transcribe(samples16k)
    return AudioAnalysis(
        transcript=text.text,
        language=text.language,
        language_probability=text.language_probability,
        matched_phrases=match(text.text, lexicon),
        intent=intents.classify(text.text) if intents is not None else None,
        loudness=level,
        speech_ratio=voice.speech_ratio,
        vad_skipped=False,
    )
