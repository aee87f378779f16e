"""schemas.convert: records <-> the dicts fastavro reads and writes."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from schemas.convert import decoder, encoder, from_avro, to_avro
from schemas.records import (
    AnomalyKind,
    DeadLetter,
    DeadLetterStage,
    Evidence,
    FrameRef,
    Keypoint,
    ObjectRef,
    SourceKind,
)

T0 = datetime(2024, 5, 17, 8, 30, 0, 123000, tzinfo=UTC)
OBJ = ObjectRef("anomaly-frames", "cam/ab.jpg", "ab" * 32, 1234, "image/jpeg")


def _frame(**changes: object) -> FrameRef:
    base = {
        "event_id": "0b0f3d6e-2c54-4a3f-9d8e-5f1a2b3c4d5e",
        "camera_id": "cam-1",
        "seq": 7,
        "captured_at": T0,
        "media_offset_ms": 700,
        "object": OBJ,
        "width": 640,
        "height": 480,
        "source_kind": SourceKind.STREAM,
    }
    base.update(changes)
    return FrameRef(**base)  # type: ignore[arg-type]


def test_to_avro_flattens_nested_records_and_enums() -> None:
    data = to_avro(_frame())
    assert data["object"] == {
        "bucket": "anomaly-frames",
        "key": "cam/ab.jpg",
        "sha256": "ab" * 32,
        "size_bytes": 1234,
        "content_type": "image/jpeg",
    }
    assert data["source_kind"] == "STREAM" and type(data["source_kind"]) is str
    assert data["captured_at"] == T0
    assert list(data) == [
        "event_id",
        "camera_id",
        "seq",
        "captured_at",
        "media_offset_ms",
        "object",
        "width",
        "height",
        "source_kind",
        "stages",
        "motion",
    ]


def test_from_avro_inverts_to_avro() -> None:
    frame = _frame()
    assert from_avro(FrameRef, to_avro(frame)) == frame


def test_from_avro_converts_uuid_objects_and_epoch_millis() -> None:
    data = to_avro(_frame())
    data["event_id"] = uuid.UUID(data["event_id"])  # what fastavro returns for logicalType uuid
    data["captured_at"] = 1715934600123  # an int that did not pass through the logical type
    frame = from_avro(FrameRef, data)
    assert frame.event_id == "0b0f3d6e-2c54-4a3f-9d8e-5f1a2b3c4d5e"
    assert frame.captured_at == T0 and frame.captured_at.tzinfo is not None


def test_missing_fields_take_the_record_default() -> None:
    data = to_avro(_frame())
    del data["source_kind"]  # written by a producer before the field existed
    assert from_avro(FrameRef, data).source_kind is SourceKind.FILE


def test_optional_and_lists_of_records_and_enums() -> None:
    evidence = Evidence(frames=[OBJ, OBJ], best_frame=None, audio=[], transcript_excerpt="help", caption=None)
    data = to_avro(evidence)
    assert data["frames"] == [to_avro(OBJ)] * 2 and data["best_frame"] is None
    assert from_avro(Evidence, data) == evidence
    assert to_avro([AnomalyKind.FALL, AnomalyKind.WEAPON]) == ["FALL", "WEAPON"]


def test_bytes_and_enum_fields_of_a_dead_letter() -> None:
    letter = DeadLetter(
        event_id="0b0f3d6e-2c54-4a3f-9d8e-5f1a2b3c4d5e",
        service="pose",
        stage=DeadLetterStage.DECODE,
        error_class="anomaly_core.errors.DecodeError",
        reason="unknown magic byte 0x01",
        original_topic="media.frames.v1",
        original_partition=3,
        original_offset=42,
        key=b"cam-1",
        value=b"\x01\x02",
        failed_at=T0,
    )
    data = to_avro(letter)
    assert data["stage"] == "DECODE" and data["value"] == b"\x01\x02"
    assert from_avro(DeadLetter, data) == letter


def test_converters_are_built_once_per_class() -> None:
    assert encoder(Keypoint) is encoder(Keypoint)
    assert decoder(Keypoint) is decoder(Keypoint)
    assert decoder(Keypoint)({"x": 0.5, "y": 0.25, "z": 0.0, "visibility": 1.0}) == Keypoint(0.5, 0.25, 0.0, 1.0)


def test_scalars_pass_through() -> None:
    assert to_avro(3) == 3 and to_avro("x") == "x" and to_avro(None) is None
