"""The compiled codec writes the same bytes as fastavro and reads them back to the same records."""

from __future__ import annotations

import contextlib
import io
import random
from dataclasses import dataclass
from datetime import UTC, datetime

import fastavro
import pytest

from anomaly_core.avro_codec import CodecError, compile_codec
from schemas.catalog import parsed_schema, schema_json
from schemas.convert import from_avro, to_avro
from schemas.records import TOP_LEVEL, FrameRef, Keypoint, PoseScore, SourceKind
from schemas.samples import sample_record, variants_needed
from tests.avro_poison import with_enum_index


def _fastavro_bytes(record: object) -> bytes:
    buf = io.BytesIO()
    fastavro.schemaless_writer(buf, parsed_schema(type(record).__name__), to_avro(record))
    return buf.getvalue()


def _codec(cls: type):  # type: ignore[no-untyped-def]
    codec = compile_codec(schema_json(cls.__name__), cls)
    assert codec is not None, f"{cls.__name__} should compile"
    return codec


@pytest.mark.parametrize("name", sorted(TOP_LEVEL))
def test_same_bytes_and_records_as_fastavro(name: str) -> None:
    cls = TOP_LEVEL[name]
    codec = _codec(cls)
    for seed in range(3):
        for variant in range(variants_needed(schema_json(name))):
            record = sample_record(cls, variant, seed=seed)
            expected = _fastavro_bytes(record)
            assert codec.encode(record) == expected, f"{name} v{variant} s{seed}"
            assert codec.decode(expected) == record
            reread = fastavro.schemaless_reader(io.BytesIO(expected), parsed_schema(name))
            assert from_avro(cls, reread) == record


def _pose(n_keypoints: int = 33) -> PoseScore:
    base = sample_record(PoseScore, 1)
    keypoints = [Keypoint(i / 64, 1 - i / 64, -i / 128, 0.5) for i in range(n_keypoints)]
    return PoseScore(**{**{f: getattr(base, f) for f in base.__slots__}, "keypoints": keypoints})  # type: ignore[arg-type]


def test_pose_with_33_keypoints() -> None:
    pose = _pose()
    codec = _codec(PoseScore)
    body = codec.encode(pose)
    assert body == _fastavro_bytes(pose)
    assert codec.decode(body) == pose
    assert codec.decode(body).keypoints[5] == Keypoint(5 / 64, 1 - 5 / 64, -5 / 128, 0.5)


def test_every_truncation_is_a_codec_error() -> None:
    codec = _codec(PoseScore)
    body = codec.encode(_pose(3))
    for cut in range(len(body)):
        with pytest.raises(CodecError):
            codec.decode(body[:cut])


def test_trailing_bytes_are_refused() -> None:
    codec = _codec(FrameRef)
    body = codec.encode(sample_record(FrameRef))
    with pytest.raises(CodecError, match="1 trailing bytes"):
        codec.decode(body + b"\x00")


@pytest.mark.parametrize("index_byte", [bytes([6]), bytes([1]), bytes([0x80, 0x01])])
def test_invalid_enum_index(index_byte: bytes) -> None:
    codec = _codec(FrameRef)
    body = with_enum_index(codec.encode, sample_record(FrameRef, 0), index_byte)
    with pytest.raises(CodecError, match="invalid enum index"):
        codec.decode(body)


def _pose_without_features() -> PoseScore:
    """No keypoints, no people, the three optional features null: the body ends 00 | 00 00 00 | mean_visibility | 00."""
    base = _pose(0)
    fields = {f: getattr(base, f) for f in PoseScore.__slots__}
    return PoseScore(**{**fields, "torso_angle_deg": None, "hip_height": None, "bbox_aspect": None, "people": []})  # type: ignore[arg-type]


def test_invalid_union_index() -> None:
    codec = _codec(PoseScore)
    body = codec.encode(_pose_without_features())
    torso_at = len(body) - 1 - 4 - 3  # ... | torso, hip, bbox: 00 00 00 | mean_visibility | people: 00
    assert body[torso_at - 1 : torso_at + 3] == b"\x00" * 4
    with pytest.raises(CodecError, match="invalid union index 2"):
        codec.decode(body[:torso_at] + b"\x04" + body[torso_at + 1 :])


def test_random_bytes_never_raise_anything_but_codec_error() -> None:
    rng = random.Random(7)
    codec = _codec(PoseScore)
    good = codec.encode(_pose(4))
    for _ in range(3000):
        if rng.random() < 0.5:
            blob = rng.randbytes(rng.randint(0, 120))
        else:  # a valid body with a few bytes flipped
            blob = bytearray(good)
            for _ in range(rng.randint(1, 4)):
                blob[rng.randrange(len(blob))] = rng.randrange(256)
            blob = bytes(blob)
        with contextlib.suppress(CodecError):
            codec.decode(blob)


def test_huge_array_count_is_refused_without_looping() -> None:
    codec = _codec(PoseScore)
    body = codec.encode(_pose_without_features())
    keypoints_at = len(body) - 1 - 4 - 3 - 1
    huge = bytes([0x80, 0x80, 0x80, 0x80, 0x80, 0x20])  # 2**39 items
    with pytest.raises(CodecError, match="items in"):
        codec.decode(body[:keypoints_at] + huge + body[keypoints_at + 1 :])


@dataclass(frozen=True, slots=True)
class _Tags:
    tags: list[str]
    at: datetime


def test_reads_blocked_arrays_with_byte_sizes() -> None:
    schema = {
        "type": "record",
        "name": "_Tags",
        "fields": [
            {"name": "tags", "type": {"type": "array", "items": "string"}},
            {"name": "at", "type": {"type": "long", "logicalType": "timestamp-millis"}},
        ],
    }
    codec = compile_codec(schema, _Tags)
    assert codec is not None
    # a block of -2 items (zigzag 3) with its byte size (6 -> zigzag 12), then a block of 1, then the end
    body = b"\x03\x0c\x04ab\x04cd" + b"\x02\x04ef" + b"\x00" + b"\x00"
    assert codec.decode(body) == _Tags(["ab", "cd", "ef"], datetime(1970, 1, 1, tzinfo=UTC))
    assert fastavro.schemaless_reader(io.BytesIO(body), fastavro.parse_schema(schema))["tags"] == ["ab", "cd", "ef"]


def test_values_out_of_range_raise_on_encode() -> None:
    codec = _codec(FrameRef)
    good = sample_record(FrameRef)
    for bad in ({"width": 2**31}, {"seq": 2**63}, {"source_kind": "DRONE"}, {"camera_id": 5}):
        with pytest.raises(Exception):  # noqa: B017 - the serde falls back to fastavro to explain
            codec.encode(FrameRef(**{**{f: getattr(good, f) for f in FrameRef.__slots__}, **bad}))  # type: ignore[arg-type]


def test_naive_datetimes_are_left_to_fastavro() -> None:
    codec = _codec(FrameRef)
    good = sample_record(FrameRef)
    naive = FrameRef(**{**{f: getattr(good, f) for f in FrameRef.__slots__}, "captured_at": datetime(2024, 1, 1)})  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        codec.encode(naive)


def test_unsupported_schemas_are_not_compiled() -> None:
    schema = {
        "type": "record",
        "name": "_Tags",
        "fields": [{"name": "tags", "type": {"type": "map", "values": "string"}}],
    }
    assert compile_codec(schema, _Tags) is None


def test_enum_members_and_symbols_encode_alike() -> None:
    codec = _codec(FrameRef)
    good = sample_record(FrameRef)
    as_member = FrameRef(**{**{f: getattr(good, f) for f in FrameRef.__slots__}, "source_kind": SourceKind.WEBCAM})  # type: ignore[arg-type]
    as_text = FrameRef(**{**{f: getattr(good, f) for f in FrameRef.__slots__}, "source_kind": "WEBCAM"})  # type: ignore[arg-type]
    assert codec.encode(as_member) == codec.encode(as_text)


def test_decoded_records_are_ordinary_frozen_instances() -> None:
    import dataclasses
    import pickle

    pose = _codec(PoseScore).decode(_codec(PoseScore).encode(_pose(2)))
    keypoint = pose.keypoints[0]
    assert type(pose) is PoseScore and type(keypoint) is Keypoint
    with pytest.raises(dataclasses.FrozenInstanceError):
        keypoint.x = 1.0  # type: ignore[misc]
    assert hash(keypoint) == hash(Keypoint(keypoint.x, keypoint.y, keypoint.z, keypoint.visibility))
    assert pickle.loads(pickle.dumps(pose)) == pose
    assert dataclasses.replace(keypoint, x=0.25).x == 0.25


def test_varints_match_fastavro_at_every_length() -> None:
    from anomaly_core.avro_codec import _long, _rlong

    schema = fastavro.parse_schema({"type": "long"})
    values = [0, 1, -1, 63, -64, 64, -65, 8191, -8192, 2**31 - 1, -(2**31), 2**63 - 1, -(2**63)]
    values += [sign * 2**bits + delta for bits in range(7, 63, 7) for sign in (1, -1) for delta in (-1, 0, 1)]
    for value in values:
        buf = io.BytesIO()
        fastavro.schemaless_writer(buf, schema, value)
        assert _long(value) == buf.getvalue(), value
        assert _rlong(buf.getvalue(), 0) == (value, len(buf.getvalue()))
