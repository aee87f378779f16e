"""Each processor through real Kafka, the schema registry and MinIO: good inputs become score events, bad ones
(corrupt JPEG, expired object, decompression-bomb header, lying WAV header) become dead letters with a reason."""

from __future__ import annotations

import struct
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import cv2
import numpy as np
import pytest
from _streaming import committed_offsets, end_offsets, produce_raw, read_until, service_thread, wait_until
from prometheus_client import REGISTRY

from anomaly_core.objectstore import ObjectStore
from anomaly_core.registry import RegistryClient
from anomaly_core.serde import AvroSerde
from anomaly_core.settings import KafkaSettings, ObjectStoreSettings
from anomaly_core.topics import ANOMALY_CANDIDATES, DLQ, MEDIA_AUDIO, MEDIA_FRAMES
from processors.media import decode_wav
from processors.registry import get
from processors.service import build_spec
from producers.figure import person_frame
from schemas.records import (
    AnomalyEvent,
    AnomalyKind,
    AnomalyState,
    AudioChunkRef,
    AudioScore,
    CaptionScore,
    DeadLetter,
    DeadLetterStage,
    Evidence,
    FrameRef,
    FrameStage,
    ObjectRef,
    PoseScore,
    SceneScore,
    Severity,
)
from tests import model_fixtures
from tests.model_fixtures import speech_wav, wav_bytes

# Fixtures shared with other test modules (pytest finds them as module attributes).
tiny_model_cache = model_fixtures.tiny_model_cache
tiny_settings = model_fixtures.tiny_settings

pytestmark = [pytest.mark.integration, pytest.mark.slow]
T0 = datetime(2025, 3, 1, 9, 30, tzinfo=UTC)


class Harness:
    """Private topics and bucket for one test, plus helpers to publish inputs and read outputs back."""

    def __init__(self, kafka: KafkaSettings, store: ObjectStore, bucket: str) -> None:
        self.kafka, self.store, self.bucket = kafka, store, bucket
        self.serde = AvroSerde(RegistryClient(kafka.schema_registry_url))

    def topic(self, base: str) -> str:
        return self.kafka.topic_prefix + base

    def put(self, key: str, data: bytes, content_type: str) -> ObjectRef:
        return self.store.put(self.bucket, key, data, content_type)

    def publish(self, base: str, records: list[Any]) -> None:
        topic = self.topic(base)
        produce_raw(self.kafka, topic, [(r.camera_id.encode(), self.serde.encode(topic, r)) for r in records])

    def run(self, name: str, model: Any, settings: Any, until: Callable[[], bool]) -> None:
        spec = build_spec(name, model, settings, self.kafka, self.store)
        spec.backoff_initial_s = 0.05
        with service_thread(spec, self.kafka):
            until()

    def read(self, base: str, cls: type, n: int, timeout_s: float = 90.0) -> list[Any]:
        topic = self.topic(base)
        msgs = read_until(self.kafka, topic, lambda rs: len(rs) >= n, timeout_s=timeout_s)
        return [self.serde.decode(topic, m.value(), cls) for m in msgs]


@pytest.fixture
def harness(
    kafka_settings: KafkaSettings,
    make_topics: Any,
    unique_prefix: str,
    bucket: str,
    object_store_settings: ObjectStoreSettings,
) -> Harness:
    make_topics(
        [
            MEDIA_FRAMES,
            MEDIA_AUDIO,
            ANOMALY_CANDIDATES,
            DLQ,
            "scores.pose.v1",
            "scores.scene.v1",
            "scores.audio.v1",
            "scores.caption.v1",
        ]
    )
    kafka = kafka_settings.model_copy(update={"topic_prefix": unique_prefix})
    return Harness(kafka, ObjectStore.from_settings(object_store_settings), bucket)


def _jpeg(bgr: np.ndarray) -> bytes:
    return bytes(cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, 90])[1])


def _frame_ref(ref: ObjectRef, camera: str, seq: int, w: int = 640, h: int = 480) -> FrameRef:
    return FrameRef(
        event_id=str(uuid.uuid4()),
        camera_id=camera,
        seq=seq,
        captured_at=T0,
        media_offset_ms=seq * 1000,
        object=ref,
        width=w,
        height=h,
    )


def _bad_frames(h: Harness) -> list[FrameRef]:
    """A truncated JPEG, an object that expired from the store, and a 50k x 50k header."""
    good = _jpeg(person_frame(320, 240))
    sof = good.index(b"\xff\xc0")
    bomb = good[: sof + 5] + struct.pack(">HH", 50_000, 50_000) + good[sof + 9 :]
    gone = ObjectRef(h.bucket, "expired.jpg", "00" * 32, 1234, "image/jpeg")
    return [
        _frame_ref(h.put("truncated.jpg", good[: len(good) // 2], "image/jpeg"), "cam-bad", 1),
        _frame_ref(gone, "cam-bad", 2),
        _frame_ref(h.put("bomb.jpg", bomb, "image/jpeg"), "cam-bad", 3, 50_000, 50_000),
    ]


def _check_dead_letters(letters: list[DeadLetter], service: str) -> None:
    by_stage = {dl.stage for dl in letters}
    assert DeadLetterStage.FETCH in by_stage  # the expired object
    assert all(dl.service == service and dl.reason for dl in letters)
    reasons = " ".join(dl.reason for dl in letters)
    assert "truncated" in reasons
    assert "decompression bomb" in reasons


@pytest.fixture(scope="module")
def pose_model():  # type: ignore[no-untyped-def]
    from processors.settings import ProcessorSettings

    model = get("pose").load_model(ProcessorSettings())
    yield model
    model.close()


def _two_people() -> Any:
    from producers.figure import render_person, room_background

    bgr = room_background(640, 480)
    render_person(bgr, (180, 300), 280, 0.0)
    render_person(bgr, (450, 320), 320, 0.0, phase=0.5)
    return bgr


def test_pose_processor(harness: Harness, pose_model: Any) -> None:
    from processors.settings import ProcessorSettings

    upright = harness.put("upright.jpg", _jpeg(person_frame(640, 480)), "image/jpeg")
    lying = harness.put(
        "lying.jpg", _jpeg(person_frame(640, 480, angle_deg=90, center=(0.5, 0.75), scale=0.6)), "image/jpeg"
    )
    pair = harness.put("pair.jpg", _jpeg(_two_people()), "image/jpeg")
    two = [_frame_ref(pair, "cam-3", seq) for seq in (0, 1)]
    harness.publish(
        MEDIA_FRAMES, [_frame_ref(upright, "cam-1", 0), _frame_ref(lying, "cam-2", 0), *two, *_bad_frames(harness)]
    )
    out: dict[str, list[Any]] = {}

    def done() -> bool:
        out["scores"] = harness.read("scores.pose.v1", PoseScore, 4)
        out["dlq"] = harness.read(DLQ, DeadLetter, 3)
        return True

    harness.run("pose", pose_model, ProcessorSettings(), done)
    scores = {s.camera_id: s for s in out["scores"]}
    assert set(scores) == {"cam-1", "cam-2", "cam-3"}
    assert scores["cam-1"].person_present and scores["cam-1"].torso_angle_deg < 20
    assert scores["cam-2"].person_present and scores["cam-2"].torso_angle_deg > 60
    (one,) = scores["cam-1"].people
    assert len(one.keypoints) == 33 and one.track_id == 1 and len(one.box) == 4
    assert scores["cam-1"].model.name == "mediapipe-blazepose-lite"
    # Two people, the same two track ids on both frames of the camera.
    first, second = (s for s in out["scores"] if s.camera_id == "cam-3")
    assert len(first.people) == 2
    assert [p.track_id for p in second.people] == [p.track_id for p in first.people]
    assert sorted(p.track_id for p in first.people) == [1, 2]
    assert scores["cam-1"].source.topic == harness.topic(MEDIA_FRAMES) and scores["cam-1"].latency_ms > 0
    _check_dead_letters(out["dlq"], "processor-pose")


def test_scene_processor_batches_across_cameras(harness: Harness, tiny_settings: Any) -> None:
    model = get("scene").load_model(tiny_settings)
    refs = [harness.put(f"scene{i}.jpg", _jpeg(person_frame(320, 240, seed=i)), "image/jpeg") for i in range(4)]
    harness.publish(
        MEDIA_FRAMES, [_frame_ref(r, f"cam-{i}", 0, 320, 240) for i, r in enumerate(refs)] + _bad_frames(harness)
    )
    out: dict[str, list[Any]] = {}

    def done() -> bool:
        out["scores"] = harness.read("scores.scene.v1", SceneScore, 4)
        out["dlq"] = harness.read(DLQ, DeadLetter, 3)
        return True

    harness.run("scene", model, tiny_settings, done)
    assert {s.camera_id for s in out["scores"]} == {"cam-0", "cam-1", "cam-2", "cam-3"}
    for s in out["scores"]:
        assert len(s.labels) == len(model.prompt_set.labels) and s.prompt_set_version == model.prompt_set.version
        assert abs(sum(lp.probability for lp in s.labels) - 1.0) < 1e-3
        assert 0.0 <= s.anomaly_probability <= 1.0 and s.top_label in model.prompt_set.names
        assert s.model.name == "tiny/clip" and s.model.version == model.info.version
    _check_dead_letters(out["dlq"], "processor-scene")


def test_scene_processor_skips_pose_only_frames_without_fetching(harness: Harness, tiny_settings: Any) -> None:
    """A FrameRef the motion gate published for pose only is committed unscored and never fetched: it points at
    an object that does not exist, which a fetch would dead-letter (as it does for the frame for every stage)."""
    import dataclasses

    model = get("scene").load_model(tiny_settings)
    scene_frame = harness.put("scene.jpg", _jpeg(person_frame(320, 240)), "image/jpeg")
    missing = ObjectRef(harness.bucket, "never-stored.jpg", "11" * 32, 999, "image/jpeg")
    pose_only = [
        dataclasses.replace(_frame_ref(missing, "cam-g", seq, 320, 240), stages=[FrameStage.POSE], motion=0.2)
        for seq in range(3)
    ]
    for_scene = dataclasses.replace(_frame_ref(scene_frame, "cam-g", 3, 320, 240), motion=0.2)
    gone_for_scene = _frame_ref(missing, "cam-g", 4, 320, 240)  # stages default: every stage (an old record)
    harness.publish(MEDIA_FRAMES, [*pose_only, for_scene, gone_for_scene])
    topic = harness.topic(MEDIA_FRAMES)
    group = f"{harness.kafka.topic_prefix}processor-scene"
    skipped_before = REGISTRY.get_sample_value("anomaly_processor_skipped_total", {"modality": "scene"}) or 0.0
    out: dict[str, list[Any]] = {}

    def done() -> bool:
        out["scores"] = harness.read("scores.scene.v1", SceneScore, 1)
        out["dlq"] = harness.read(DLQ, DeadLetter, 1)
        ends = {p: end for p, end in end_offsets(harness.kafka, topic).items() if end > 0}

        def all_committed() -> bool:
            committed = committed_offsets(harness.kafka, group, topic)
            return all(committed.get(p) == end for p, end in ends.items())

        wait_until(all_committed, timeout_s=60, what="the skipped frames' offsets to be committed")
        return True

    harness.run("scene", model, tiny_settings, done)
    assert {s.source.event_id for s in out["scores"]} == {for_scene.event_id}
    letters = [harness.serde.decode(topic, dl.value, FrameRef) for dl in out["dlq"]]
    assert {ref.event_id for ref in letters} == {gone_for_scene.event_id}  # only the frame that was fetched
    assert {dl.stage for dl in out["dlq"]} == {DeadLetterStage.FETCH}
    skipped = REGISTRY.get_sample_value("anomaly_processor_skipped_total", {"modality": "scene"}) or 0.0
    assert skipped - skipped_before == len(pose_only)


def _candidate(frame: ObjectRef | None, state: AnomalyState = AnomalyState.CANDIDATE) -> AnomalyEvent:
    return AnomalyEvent(
        anomaly_id=str(uuid.uuid4()),
        camera_id="cam-7",
        revision=1,
        state=state,
        incident_start=T0,
        incident_end=T0,
        window_start=T0,
        window_end=T0,
        severity=Severity.HIGH,
        kinds=[AnomalyKind.FALL],
        score=0.8,
        reasons=["torso horizontal"],
        evidence=Evidence(frames=[], best_frame=frame),
        lineage=[],
        rules_version="r1",
        fusion_version="f1",
        decided_at=T0,
    )


def test_caption_processor_captions_candidates_only(harness: Harness, tiny_settings: Any) -> None:
    model = get("caption").load_model(tiny_settings)
    frame = harness.put(
        "best.jpg", _jpeg(person_frame(320, 240, angle_deg=90, center=(0.5, 0.7), scale=0.5)), "image/jpeg"
    )
    wanted = _candidate(frame)
    harness.publish(ANOMALY_CANDIDATES, [_candidate(frame, AnomalyState.OPEN), _candidate(None), wanted])
    out: dict[str, list[Any]] = {}

    def done() -> bool:
        out["scores"] = harness.read("scores.caption.v1", CaptionScore, 1)
        return True

    harness.run("caption", model, tiny_settings, done)
    assert len(out["scores"]) == 1
    caption = out["scores"][0]
    assert caption.anomaly_id == wanted.anomaly_id and caption.frame == frame and isinstance(caption.caption, str)
    assert caption.source.event_id == wanted.anomaly_id and caption.model.name == "tiny/blip"


def test_audio_processor(harness: Harness) -> None:
    from processors.settings import ProcessorSettings

    settings = ProcessorSettings(torch_num_threads=2)
    model = get("audio").load_model(settings)
    # The sentence runs past the end of the camera's first 2 s chunk: carried, and scored once, whole, with the
    # second chunk.
    spoken = np.zeros(64_000, np.float32)
    said = decode_wav(speech_wav("help, somebody call the police"), max_seconds=30).samples
    spoken[: len(said)] = said[:64_000]
    assert len(said) > 32_000
    first, second = wav_bytes(spoken[:32_000]), wav_bytes(spoken[32_000:])
    silent = wav_bytes(np.zeros(32_000))
    lying = bytearray(silent)
    lying[40:44] = struct.pack("<I", 20 * 32_000)

    def chunk(key: str, data: bytes, seq: int, camera: str | None = None) -> AudioChunkRef:
        ref = harness.put(key, data, "audio/wav")
        return AudioChunkRef(
            event_id=str(uuid.uuid4()),
            camera_id=camera or f"cam-{key}",
            seq=seq,
            start_at=T0 + timedelta(seconds=2 * seq),
            media_offset_ms=2000 * seq,
            duration_ms=2000,
            sample_rate=16_000,
            channels=1,
            object=ref,
        )

    harness.publish(
        MEDIA_AUDIO,
        [
            chunk("speech-0", first, 0, "cam-speech"),
            chunk("silent", silent, 1),
            chunk("speech-1", second, 1, "cam-speech"),
            chunk("lying", bytes(lying), 2),
        ],
    )
    out: dict[str, list[Any]] = {}

    def done() -> bool:
        out["scores"] = harness.read("scores.audio.v1", AudioScore, 2)
        out["dlq"] = harness.read(DLQ, DeadLetter, 1)
        return True

    harness.run("audio", model, settings, done)
    assert len(out["scores"]) == 2, out["scores"]  # one per utterance: the carried chunk has none of its own
    scores = {s.camera_id: s for s in out["scores"]}
    assert not scores["cam-speech"].vad_skipped and "police" in scores["cam-speech"].transcript.lower()
    assert scores["cam-speech"].event_time == T0 and scores["cam-speech"].duration_ms == 4000
    assert "distress" in {m.category for m in scores["cam-speech"].matched_phrases}
    spoken = scores["cam-speech"].intent
    assert spoken is not None and spoken.intent == "help" and spoken.margin > 0, spoken
    assert scores["cam-silent"].intent is None
    assert scores["cam-silent"].vad_skipped and scores["cam-silent"].transcript == ""
    assert scores["cam-silent"].loudness_dbfs < -100
    assert len(out["dlq"]) == 1 and "claims" in out["dlq"][0].reason
