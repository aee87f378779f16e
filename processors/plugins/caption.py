"""Caption modality: anomalies.candidates.v1 (AnomalyEvent, state CANDIDATE) -> scores.caption.v1.

Only the fusion app's candidates are captioned (never every frame): the best evidence frame of each.
"""

from __future__ import annotations

import numpy as np

from anomaly_core.runtime import BatchHandler
from anomaly_core.topics import ANOMALY_CANDIDATES, SCORES_CAPTION
from processors.caption import BlipCaptioner
from processors.handling import Pipeline, ScoreMeta, Subject, batch_handler
from processors.media import decode_image
from processors.registry import HandlerContext, Modality
from processors.settings import ProcessorSettings
from schemas.records import AnomalyEvent, AnomalyState, CaptionScore


def candidate_subject(event: AnomalyEvent) -> Subject | None:
    """The frame to caption: the best frame, else the latest one; None for non-candidates or frameless ones."""
    if event.state != AnomalyState.CANDIDATE:
        return None
    frame = event.evidence.best_frame or (event.evidence.frames[-1] if event.evidence.frames else None)
    if frame is None:
        return None
    return Subject(event_id=event.anomaly_id, camera_id=event.camera_id, event_time=event.incident_start, media=frame)


def make_handler(model: BlipCaptioner, ctx: HandlerContext) -> BatchHandler:
    settings = ctx.settings

    def build(subject: Subject, caption: str, meta: ScoreMeta) -> CaptionScore:
        return CaptionScore(**meta.fields(), anomaly_id=subject.event_id, frame=subject.media, caption=caption)

    pipeline: Pipeline[np.ndarray, str] = Pipeline(
        modality="caption",
        output_topic=ctx.output_topic,
        model=model.info,
        subject=candidate_subject,
        decode=lambda data: model.prepare(decode_image(data, max_pixels=settings.max_image_pixels)),
        score_batch=model.caption_pixels,
        build=build,
        max_bytes=settings.max_frame_bytes,
    )
    return batch_handler(pipeline, ctx.store)


def _load(settings: ProcessorSettings) -> BlipCaptioner:
    from processors.loaders import load_blip

    return load_blip(settings)


MODALITY = Modality(
    name="caption",
    input_topic=ANOMALY_CANDIDATES,
    output_topic=SCORES_CAPTION,
    input_record=AnomalyEvent,
    output_record=CaptionScore,
    model="blip",
    load_model=_load,
    make_handler=make_handler,
)
