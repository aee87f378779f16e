"""Pose modality: media.frames.v1 (FrameRef) -> scores.pose.v1 (PoseScore): every person, with track ids."""

from __future__ import annotations

from typing import Any

from anomaly_core.runtime import BatchHandler
from anomaly_core.topics import MEDIA_FRAMES, SCORES_POSE
from processors import pose
from processors.handling import Pipeline, ScoreMeta, Subject, batch_handler
from processors.media import decode_image
from processors.registry import HandlerContext, Modality
from processors.tracking import Tracker, TrackingRules
from schemas.records import FrameRef, FrameStage, PersonPose, PoseScore


def frame_subject(ref: FrameRef) -> Subject:
    return Subject(event_id=ref.event_id, camera_id=ref.camera_id, event_time=ref.captured_at, media=ref.object)


def _person(features: pose.PoseFeatures, track_id: int) -> PersonPose:
    return PersonPose(
        track_id=track_id,
        keypoints=features.keypoints,
        torso_angle_deg=features.torso_angle_deg,
        hip_height=features.hip_height,
        bbox_aspect=features.bbox_aspect,
        mean_visibility=features.mean_visibility,
        box=list(features.box or ()),
    )


def build_score(subject: Subject, people: list[pose.PoseFeatures], meta: ScoreMeta, tracker: Tracker) -> PoseScore:
    """The PoseScore of one frame: every person with a track id; the top-level summary is the main person."""
    boxes = [p.box for p in people if p.box is not None]
    ids = tracker.assign(subject.camera_id, boxes, round(subject.event_time.timestamp() * 1000))
    main = people[0] if people else pose.PoseFeatures(person_present=False)
    return PoseScore(
        **meta.fields(),
        frame=subject.media,
        person_present=main.person_present,
        keypoints=[],
        torso_angle_deg=main.torso_angle_deg,
        hip_height=main.hip_height,
        bbox_aspect=main.bbox_aspect,
        mean_visibility=main.mean_visibility,
        people=[_person(p, track_id) for p, track_id in zip(people, ids, strict=True)],
    )


def make_handler(model: pose.PoseLandmarker, ctx: HandlerContext) -> BatchHandler:
    settings = ctx.settings
    tracker = Tracker(TrackingRules(ttl_ms=round(settings.pose_track_ttl_s * 1000)))
    pipeline: Pipeline[Any, list[pose.PoseFeatures]] = Pipeline(
        modality="pose",
        output_topic=ctx.output_topic,
        model=model.info,
        subject=frame_subject,
        decode=lambda data: decode_image(data, max_pixels=settings.max_image_pixels),
        score_batch=lambda frames: [pose.score(model, rgb) for rgb in frames],
        build=lambda subject, people, meta: build_score(subject, people, meta, tracker),
        wants=lambda ref: ref.is_for(FrameStage.POSE),
        max_bytes=settings.max_frame_bytes,
    )
    return batch_handler(pipeline, ctx.store)


def _load(settings: Any) -> pose.PoseLandmarker:
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
