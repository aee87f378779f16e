"""Utterances, not chunks: speech that runs past a chunk's end is carried into the camera's next chunk and
transcribed whole, bounded by a maximum utterance length.

The producer cuts each camera's audio into fixed chunks (AUDIO_CHUNK_SECONDS) that tile the track, and the audio
topic is keyed by camera, so one processor sees a camera's chunks in order. For each chunk the ``Assembler``
runs the VAD (per 32 ms window); when speech is still going on at the chunk's end (less than ``pause_s`` of
non-speech after the last speech window) the chunk is *carried*: no score yet. The chunk where the speech ends
(a pause, a non-speech chunk, a chunk of another length than the producer's, i.e. the stream's last one, or the
``max_utterance_s`` bound) gets one score for the whole utterance: its transcript, intent and phrases, the
loudness of all its chunks, and an event time and duration that cover them.

Carried audio lives in this process only (at most ``max_utterance_s`` per camera). A restart loses the carried
part of an unfinished utterance: its chunks were already committed without a score, so the rest of the sentence is
scored alone, as before utterances. A chunk that does not follow the carried ones (a gap in event time, a
redelivered older chunk) ends the carried utterance first; a redelivered chunk that is already carried is carried
once, not twice.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

import numpy as np

from processors.audio import loudness, scream, vad
from processors.audio.lexicon import Lexicon, match
from processors.audio.score import AudioAnalysis, IntentClassifier, Transcriber, VadConfig
from processors.media import Pcm, resample

T = TypeVar("T")  # what the caller attaches to a chunk (its message, its subject)

_WORDS = re.compile(r"[^\W\d_]{2,}")  # a word: two letters or more ("Aaah" is one, "(screaming)" is one)
WINDOW_MS = vad.SILERO_WINDOW * 1000 / vad.SILERO_RATE  # 32 ms
LEAD_S = 0.3  # non-speech kept before the first speech window: Whisper hears the onset


@dataclass(frozen=True, slots=True)
class UtteranceRules:
    max_utterance_s: float = 8.0  # an utterance never grows past this: long talk is cut (bounded time per score)
    pause_s: float = 0.4  # speech followed by at least this much non-speech has ended
    chunk_s: float | None = 2.0  # the producer's chunk length; a chunk of another length ends its stream
    gap_ms: int = 250  # a chunk that starts further than this from the carried audio's end does not continue it


@dataclass(frozen=True, slots=True)
class Part(Generic[T]):
    """One chunk, as the VAD saw it."""

    chunk_id: str
    start_ms: int
    duration_ms: int
    samples16k: np.ndarray
    speech: np.ndarray  # per 32 ms window
    speech_chunk: bool  # the chunk alone passed the VAD
    level: loudness.Loudness
    voice: scream.VoiceCue
    tag: T

    @property
    def end_ms(self) -> int:
        return self.start_ms + self.duration_ms


@dataclass(frozen=True, slots=True)
class Utterance(Generic[T]):
    """A score to publish: one chunk, or the chunks of one utterance (the last one is the chunk it ends in)."""

    analysis: AudioAnalysis
    start_ms: int
    duration_ms: int
    tags: tuple[T, ...]

    @property
    def last(self) -> T:
        return self.tags[-1]


@dataclass
class _Carry(Generic[T]):
    parts: list[Part[T]] = field(default_factory=list)


class Assembler(Generic[T]):
    """Per-camera carry-over of speech across chunk boundaries; ``push`` each chunk of a camera in order."""

    def __init__(
        self,
        transcriber: Transcriber,
        lexicon: Lexicon,
        config: VadConfig,
        intents: IntentClassifier | None = None,
        rules: UtteranceRules | None = None,
    ) -> None:
        self.transcriber = transcriber
        self.lexicon = lexicon
        self.config = config
        self.intents = intents
        self.rules = rules or UtteranceRules()
        self._carry: dict[str, _Carry[T]] = {}

    def carried_ms(self, camera: str) -> int:
        parts = self._carry.get(camera, _Carry()).parts
        return parts[-1].end_ms - parts[0].start_ms if parts else 0

    def push(self, camera: str, chunk_id: str, start_ms: int, pcm: Pcm, tag: T) -> list[Utterance[T]]:
        """The scores this chunk completes: none while its speech goes on into the next chunk; one normally; two
        when it does not continue the carried audio (that one is published first)."""
        try:
            return self._push(camera, chunk_id, start_ms, pcm, tag)
        except Exception:
            self._carry.pop(camera, None)  # the carried audio went with the failed chunk
            raise

    def flush(self, camera: str) -> Utterance[T] | None:
        """The carried utterance of ``camera`` scored as it is (end of a stream)."""
        carry = self._carry.pop(camera, None)
        return self._score(carry.parts) if carry and carry.parts else None

    def _push(self, camera: str, chunk_id: str, start_ms: int, pcm: Pcm, tag: T) -> list[Utterance[T]]:
        out: list[Utterance[T]] = []
        carry = self._carry.setdefault(camera, _Carry())
        ids = [p.chunk_id for p in carry.parts]
        if chunk_id in ids:  # redelivered: carried once
            del carry.parts[ids.index(chunk_id) :]
        part = self._part(chunk_id, start_ms, pcm, tag)
        if carry.parts and abs(part.start_ms - carry.parts[-1].end_ms) > self.rules.gap_ms:
            if part.start_ms < carry.parts[-1].end_ms:  # an older chunk (retried late): scored alone
                return [self._score([part])]
            out.append(self._score(carry.parts))  # the stream jumped: what was carried ended before the gap
            carry.parts = []
        parts = [*carry.parts, part]
        if self._runs_on(parts):
            total_ms = parts[-1].end_ms - parts[0].start_ms
            if total_ms + part.duration_ms <= self.rules.max_utterance_s * 1000:
                carry.parts = parts
                return out
            if len(parts) > 1 and not part.speech[: self._pause_windows()].any():
                # Too long to take another chunk, and new speech began in this one: the carried part is an
                # utterance of its own; this chunk starts the next.
                out.append(self._score(parts[:-1]))
                carry.parts = [part]
                return out
        carry.parts = []
        out.append(self._score(parts))
        return out

    def _pause_windows(self) -> int:
        return max(1, round(self.rules.pause_s * 1000 / WINDOW_MS))

    def _runs_on(self, parts: list[Part[T]]) -> bool:
        """Speech is going on at the end of the last chunk, and that chunk may have a successor."""
        last = parts[-1]
        if self.rules.chunk_s is not None and abs(last.duration_ms - self.rules.chunk_s * 1000) > 0.05 * (
            self.rules.chunk_s * 1000
        ):
            return False  # not the producer's length: the last chunk of its stream (or not from the producer)
        if not (last.speech_chunk or len(parts) > 1):
            return False
        return bool(last.speech[-self._pause_windows() :].any())

    def _part(self, chunk_id: str, start_ms: int, pcm: Pcm, tag: T) -> Part[T]:
        level = loudness.measure(pcm.samples, pcm.sample_rate)
        samples16k = resample(pcm, vad.SILERO_RATE).samples
        found, flags = vad.frames(
            samples16k, energy_dbfs=self.config.energy_dbfs, use_silero=self.config.use_silero,
            threshold=self.config.threshold,
        )  # fmt: skip
        duration_ms = round(pcm.duration_s * 1000)
        voice = scream.detect(samples16k)
        return Part(chunk_id, start_ms, duration_ms, samples16k, flags, found.speech, level, voice, tag)

    def _score(self, parts: list[Part[T]]) -> Utterance[T]:
        level = combined_loudness(parts)
        flags = np.concatenate([p.speech for p in parts])
        ratio = float(flags.mean()) if len(flags) else 0.0
        start_ms, duration_ms = parts[0].start_ms, parts[-1].end_ms - parts[0].start_ms
        tags = tuple(p.tag for p in parts)
        screamed = any(p.voice.scream for p in parts)
        if not any(p.speech_chunk for p in parts):
            analysis = AudioAnalysis("", None, 0.0, [], level, ratio, vad_skipped=True, scream=screamed)
            return Utterance(analysis, start_ms, duration_ms, tags)
        audio = np.concatenate([p.samples16k for p in parts])
        first = int(np.argmax(flags)) if flags.any() else 0
        lead = max(0, first * vad.SILERO_WINDOW - round(LEAD_S * vad.SILERO_RATE))
        text = self.transcriber.transcribe(audio[lead:])
        analysis = AudioAnalysis(
            transcript=text.text,
            language=text.language,
            language_probability=text.language_probability,
            matched_phrases=match(text.text, self.lexicon),
            intent=self.intents.classify(text.text) if self.intents is not None else None,
            loudness=level,
            speech_ratio=ratio,
            vad_skipped=False,
            # Without words: shouted words are judged by their meaning, a scream ("Aaah!") by its sound.
            scream=screamed and len(_WORDS.findall(text.text)) <= 1,
        )
        return Utterance(analysis, start_ms, duration_ms, tags)


def combined_loudness(parts: Iterable[Part[T]]) -> loudness.Loudness:
    """Loudness of consecutive chunks: power-mean level, highest peak, sudden when any chunk was."""
    levels = list(parts)
    if len(levels) == 1:
        return levels[0].level
    weights = np.array([max(1, p.duration_ms) for p in levels], np.float64)
    power = np.array([10 ** (p.level.rms_dbfs / 10) for p in levels])
    rms = float(loudness.to_dbfs(np.sqrt(float((power * weights).sum() / weights.sum()))))
    return loudness.Loudness(
        rms_dbfs=round(rms, 2),
        peak_dbfs=max(p.level.peak_dbfs for p in levels),
        sudden=any(p.level.sudden for p in levels),
        max_window_dbfs=max(p.level.max_window_dbfs for p in levels),
    )
