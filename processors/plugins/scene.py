"""Scene modality: media.frames.v1 (FrameRef) -> scores.scene.v1 (SceneScore), batched across cameras."""

from __future__ import annotations

import numpy as np

from anomaly_core.runtime import BatchHandler
from anomaly_core.topics import MEDIA_FRAMES, SCORES_SCENE
from processors.handling import Pipeline, ScoreMeta, Subject, batch_handler
from processors.media import decode_image
from processors.plugins.pose import frame_subject
from processors.registry import HandlerContext, Modality
from processors.scene import ClipScene, SceneResult
from processors.settings import ProcessorSettings
from schemas.records import FrameRef, FrameStage, SceneScore


def wants_frame(ref: FrameRef) -> bool:
    """Frames the producer's motion gate published for the scene stage (pose-only frames are skipped unfetched)."""
    return ref.is_for(FrameStage.SCENE)


def make_handler(model: ClipScene, ctx: HandlerContext) -> BatchHandler:
    settings = ctx.settings

    def build(subject: Subject, result: SceneResult, meta: ScoreMeta) -> SceneScore:
        return SceneScore(
            **meta.fields(),
            frame=subject.media,
            labels=result.labels,
            anomaly_probability=result.anomaly_probability,
            top_label=result.top_label,
            prompt_set_version=model.prompt_set.version,
        )

    pipeline: Pipeline[np.ndarray, SceneResult] = Pipeline(
        modality="scene",
        output_topic=ctx.output_topic,
        model=model.info,
        subject=frame_subject,
        decode=lambda data: model.prepare(decode_image(data, max_pixels=settings.max_image_pixels)),
        score_batch=model.score_pixels,
        build=build,
        max_bytes=settings.max_frame_bytes,
        wants=wants_frame,
    )
    return batch_handler(pipeline, ctx.store)


def _load(settings: ProcessorSettings) -> ClipScene:
    from processors.clip_loader import load_clip

    return load_clip(settings)


def _batching(settings: ProcessorSettings) -> tuple[int, int]:
    return settings.scene_max_batch, settings.scene_max_wait_ms


MODALITY = Modality(
    name="scene",
    input_topic=MEDIA_FRAMES,
    output_topic=SCORES_SCENE,
    input_record=FrameRef,
    output_record=SceneScore,
    model="clip",
    load_model=_load,
    make_handler=make_handler,
    batching=_batching,
)
