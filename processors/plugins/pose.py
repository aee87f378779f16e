"""Pose modality: media.frames.v1 (FrameRef) -> scores.pose.v1 (PoseScore), one frame at a time."""

from __future__ import annotations

from typing import Any

from anomaly_core.runtime import BatchHandler
from anomaly_core.topics import MEDIA_FRAMES, SCORES_POSE
from processors import pose
from processors.handling import Pipeline, ScoreMeta, Subject, batch_handler
from processors.media import decode_image
from processors.registry import HandlerContext, Modality
from schemas.records import FrameRef, PoseScore


def frame_subject(ref: FrameRef) -> Subject:
    return Subject(event_id=ref.event_id, camera_id=ref.camera_id, event_time=ref.captured_at, media=ref.object)


def _build(subject: Subject, result: pose.PoseFeatures, meta: ScoreMeta) -> PoseScore:
    return PoseScore(
        **meta.fields(),
        frame=subject.media,
        person_present=result.person_present,
        keypoints=result.keypoints,
        torso_angle_deg=result.torso_angle_deg,
        hip_height=result.hip_height,
        bbox_aspect=result.bbox_aspect,
        mean_visibility=result.mean_visibility,
    )


def make_handler(model: pose.BlazePose, ctx: HandlerContext) -> BatchHandler:
    settings = ctx.settings
    pipeline: Pipeline[Any, pose.PoseFeatures] = Pipeline(
        modality="pose",
        output_topic=ctx.output_topic,
        model=model.info,
        subject=frame_subject,
        decode=lambda data: decode_image(data, max_pixels=settings.max_image_pixels),
        score_batch=lambda frames: [pose.score(model, rgb) for rgb in frames],
        build=_build,
        max_bytes=settings.max_frame_bytes,
    )
    return batch_handler(pipeline, ctx.store)


def _load(settings: Any) -> pose.BlazePose:
    from processors.loaders import load_pose

    return load_pose(settings)


MODALITY = Modality(
    name="pose",
    input_topic=MEDIA_FRAMES,
    output_topic=SCORES_POSE,
    input_record=FrameRef,
    output_record=PoseScore,
    model="pose",
    load_model=_load,
    make_handler=make_handler,
)
