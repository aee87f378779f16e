"""Audio modality: media.audio.v1 (AudioChunkRef) -> scores.audio.v1 (AudioScore)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from anomaly_core.runtime import BatchHandler
from anomaly_core.topics import MEDIA_AUDIO, SCORES_AUDIO
from processors.audio.score import AudioAnalysis, score
from processors.handling import Pipeline, ScoreMeta, Subject, batch_handler
from processors.media import Pcm, decode_wav
from processors.registry import HandlerContext, Modality
from processors.settings import ProcessorSettings
from schemas.records import AudioChunkRef, AudioScore

if TYPE_CHECKING:
    from processors.loaders import AudioModel


def chunk_subject(ref: AudioChunkRef) -> Subject:
    return Subject(event_id=ref.event_id, camera_id=ref.camera_id, event_time=ref.start_at, media=ref.object)


def _build(subject: Subject, result: tuple[int, AudioAnalysis], meta: ScoreMeta) -> AudioScore:
    duration_ms, analysis = result
    return AudioScore(
        **meta.fields(),
        audio=subject.media,
        duration_ms=duration_ms,
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
    )


def make_handler(model: AudioModel, ctx: HandlerContext) -> BatchHandler:
    settings = ctx.settings

    def analyze(chunks: list[Pcm]) -> list[tuple[int, AudioAnalysis]]:
        return [
            (round(pcm.duration_s * 1000), score(pcm, model.transcriber, model.lexicon, model.vad, model.intents))
            for pcm in chunks
        ]

    pipeline: Pipeline[Pcm, tuple[int, AudioAnalysis]] = Pipeline(
        modality="audio",
        output_topic=ctx.output_topic,
        model=model.info,
        subject=chunk_subject,
        decode=lambda data: decode_wav(data, max_seconds=settings.max_audio_seconds),
        score_batch=analyze,
        build=_build,
        max_bytes=settings.max_audio_bytes,
    )
    return batch_handler(pipeline, ctx.store)


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
