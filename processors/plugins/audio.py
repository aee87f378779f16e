"""Audio modality: media.audio.v1 (AudioChunkRef) -> scores.audio.v1 (AudioScore), one score per utterance.

Chunks arrive in order per camera (the topic is keyed by camera). Speech that runs past a chunk's end is carried
into the camera's next chunk (processors/audio/utterance.py): the carried chunk is committed without a score, and
the chunk where the utterance ends gets one score whose event time and duration cover the whole utterance (its
``audio`` and ``source`` are that last chunk's). A chunk without speech running on gets its own score, as before.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime
from typing import TYPE_CHECKING, Any

from anomaly_core.runtime import BatchHandler, Message, Output
from anomaly_core.topics import MEDIA_AUDIO, SCORES_AUDIO
from processors.audio.redact import Redactor, redactor_for
from processors.audio.utterance import Assembler, Utterance, UtteranceRules
from processors.handling import Subject, model_cpu_counter, score_meta
from processors.media import decode_wav
from processors.registry import HandlerContext, Modality
from processors.settings import ProcessorSettings
from schemas.records import AudioChunkRef, AudioScore, ModelInfo

if TYPE_CHECKING:
    from processors.loaders import AudioModel

log = logging.getLogger(__name__)


def chunk_subject(ref: AudioChunkRef) -> Subject:
    return Subject(event_id=ref.event_id, camera_id=ref.camera_id, event_time=ref.start_at, media=ref.object)


def _epoch_ms(at: datetime) -> int:
    return round(at.timestamp() * 1000)


def build_score(
    utterance: Utterance[tuple[Message[Any], Subject]],
    model: ModelInfo,
    started: float,
    redactor: Redactor | None = None,
) -> AudioScore:
    """The AudioScore of an utterance: id, source and media of the chunk it ends in; time of the first chunk.
    With a ``redactor`` its words are redacted (phrases and intent were found in the words as heard)."""
    message, subject = utterance.last
    first = utterance.tags[0][1]
    meta = score_meta("audio", model, message, subject, started)
    analysis = utterance.analysis if redactor is None else redactor.analysis(utterance.analysis)
    fields = meta.fields()
    fields["event_time"] = first.event_time
    return AudioScore(
        **fields,
        audio=subject.media,
        duration_ms=utterance.duration_ms,
        transcript=analysis.transcript,
        language=analysis.language,
        language_probability=analysis.language_probability,
        matched_phrases=analysis.matched_phrases,
        loudness_dbfs=analysis.loudness.rms_dbfs,
        peak_dbfs=analysis.loudness.peak_dbfs,
        sudden_loudness=analysis.loudness.sudden,
        speech_ratio=round(analysis.speech_ratio, 4),
        vad_skipped=analysis.vad_skipped,
        intent=analysis.intent,
        scream=analysis.scream,
    )


def utterance_rules(settings: ProcessorSettings) -> UtteranceRules:
    return UtteranceRules(
        max_utterance_s=settings.max_utterance_s,
        pause_s=settings.utterance_pause_s,
        chunk_s=settings.audio_chunk_seconds,
    )


def make_handler(model: AudioModel, ctx: HandlerContext) -> BatchHandler:
    settings = ctx.settings
    assembler: Assembler[tuple[Message[Any], Subject]] = Assembler(
        model.transcriber, model.lexicon, model.vad, model.intents, utterance_rules(settings)
    )
    redactor = redactor_for(settings.transcript_redaction, settings.redact_names_file)
    model_cpu = model_cpu_counter("audio")

    def handle(batch: list[Message[Any]]) -> list[list[Output] | Exception]:
        """Chunk by chunk, in order (a camera's carry-over needs its chunks in sequence); errors as data."""
        started = time.perf_counter()
        results: list[list[Output] | Exception] = []
        for message in batch:
            ref: AudioChunkRef = message.value
            try:
                subject = chunk_subject(ref)
                data = ctx.store.get(subject.media, max_bytes=settings.max_audio_bytes)
                pcm = decode_wav(data, max_seconds=settings.max_audio_seconds)
                cpu_before = time.process_time()  # VAD, Whisper and the intent encoder run inside push
                done = assembler.push(ref.camera_id, ref.event_id, _epoch_ms(ref.start_at), pcm, (message, subject))
                model_cpu.inc(time.process_time() - cpu_before)
            except Exception as exc:  # the runtime retries transient ones, dead-letters the rest
                results.append(exc)
                continue
            if not done:
                log.debug("audio: %s carried (speech runs on, %d ms so far)", ref.event_id,
                          assembler.carried_ms(ref.camera_id))  # fmt: skip
            scores = [build_score(u, model.info, started, redactor) for u in done]
            results.append([Output(topic=ctx.output_topic, key=ref.camera_id, value=score) for score in scores])
        return results

    handle.__name__ = "handle_audio"
    return handle


def _load(settings: ProcessorSettings) -> AudioModel:
    from processors.loaders import load_audio

    return load_audio(settings)


MODALITY = Modality(
    name="audio",
    input_topic=MEDIA_AUDIO,
    output_topic=SCORES_AUDIO,
    input_record=AudioChunkRef,
    output_record=AudioScore,
    model="whisper",
    load_model=_load,
    make_handler=make_handler,
)
