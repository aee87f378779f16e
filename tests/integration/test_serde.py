"""AvroSerde against the real schema registry of the stack: round trips, evolution, refusals, decode errors."""

from __future__ import annotations

import copy
import io
import struct
import threading
from concurrent.futures import ThreadPoolExecutor

import fastavro
import pytest

from anomaly_core.errors import DecodeError, TransientError, ValidationError
from anomaly_core.registry import BACKWARD_TRANSITIVE, IncompatibleSchemaError, RegistryClient, subject_for
from anomaly_core.serde import AvroSerde, frame
from schemas.catalog import schema_json
from schemas.convert import to_avro
from schemas.records import TOP_LEVEL, FrameRef, PoseScore
from schemas.samples import sample_record, variants_needed
from tests.avro_poison import with_enum_index

pytestmark = pytest.mark.integration


@pytest.fixture
def registry(registry_url: str) -> RegistryClient:
    client = RegistryClient(registry_url)
    yield client
    client.close()


@pytest.fixture
def serde(registry: RegistryClient) -> AvroSerde:
    return AvroSerde(registry)


@pytest.mark.parametrize("name", sorted(TOP_LEVEL))
def test_every_record_round_trips_through_the_registry(
    name: str, serde: AvroSerde, registry: RegistryClient, unique_prefix: str
) -> None:
    cls = TOP_LEVEL[name]
    topic = f"{unique_prefix}serde.{name}"
    for variant in range(variants_needed(schema_json(name))):
        record = sample_record(cls, variant)
        data = serde.encode(topic, record)
        assert data[0] == 0
        assert serde.decode(topic, data, cls) == record
    # a fresh client (no cache) resolves the writer schema by id from the registry
    fresh = AvroSerde(RegistryClient(registry.url))
    assert fresh.decode(topic, data, cls) == record
    assert registry.get_compatibility(subject_for(topic)) == BACKWARD_TRANSITIVE


def test_same_schema_same_id(serde: AvroSerde, registry: RegistryClient, unique_prefix: str) -> None:
    topic = f"{unique_prefix}serde.ids"
    first = serde.encode(topic, sample_record(FrameRef, 0))
    again = AvroSerde(RegistryClient(registry.url)).encode(topic, sample_record(FrameRef, 1))
    assert first[1:5] == again[1:5]
    assert registry.versions(subject_for(topic)) == [1]


def test_services_creating_the_same_new_subject_at_once_all_succeed(
    registry: RegistryClient, unique_prefix: str
) -> None:
    # Services start together and register the same schema on a new subject (and its compatibility rule):
    # the registry answers the losers 409 "already exists", which the client sends again.
    topic = f"{unique_prefix}serde.race"
    clients = [RegistryClient(registry.url) for _ in range(8)]
    barrier = threading.Barrier(len(clients))

    def register(client: RegistryClient) -> int:
        barrier.wait()
        return client.register(subject_for(topic), schema_json("FrameRef"))

    with ThreadPoolExecutor(len(clients)) as pool:
        ids = list(pool.map(register, clients))
    for client in clients:
        client.close()
    # One id for everybody. (Apicurio may still record the identical schema twice as versions 1 and 2 when the
    # requests cross: harmless, both carry that id.)
    assert len(set(ids)) == 1
    assert registry.versions(subject_for(topic))
    assert registry.get_compatibility(subject_for(topic)) == BACKWARD_TRANSITIVE


def _older_pose_score() -> dict:
    """PoseScore as it would have been before ``bbox_aspect`` was added (with its null default)."""
    old = copy.deepcopy(schema_json("PoseScore"))
    old["fields"] = [f for f in old["fields"] if f["name"] != "bbox_aspect"]
    return old


def test_new_reader_decodes_an_older_writer_version(
    serde: AvroSerde, registry: RegistryClient, unique_prefix: str
) -> None:
    topic = f"{unique_prefix}serde.evolution"
    old = _older_pose_score()
    old_id = registry.register(subject_for(topic), old)
    datum = to_avro(sample_record(PoseScore, 1))
    del datum["bbox_aspect"]
    buf = io.BytesIO()
    fastavro.schemaless_writer(buf, fastavro.parse_schema(old), datum)
    record = serde.decode(topic, frame(old_id, buf.getvalue()), PoseScore)
    assert record.bbox_aspect is None  # the reader's default fills the missing field
    assert record.camera_id == datum["camera_id"] and record.keypoints == sample_record(PoseScore, 1).keypoints
    # the current schema is an allowed next version, and it gets its own id
    assert registry.is_compatible(subject_for(topic), schema_json("PoseScore"))
    new_data = serde.encode(topic, sample_record(PoseScore, 2))
    assert struct.unpack(">I", new_data[1:5])[0] != old_id
    assert registry.versions(subject_for(topic)) == [1, 2]


def test_registry_refuses_an_incompatible_schema(
    serde: AvroSerde, registry: RegistryClient, unique_prefix: str
) -> None:
    topic = f"{unique_prefix}serde.refused"
    serde.encode(topic, sample_record(FrameRef))
    breaking = copy.deepcopy(schema_json("FrameRef"))
    breaking["fields"].append({"name": "exposure_ms", "type": "int"})  # required field, no default
    assert not registry.is_compatible(subject_for(topic), breaking)
    with pytest.raises(IncompatibleSchemaError):
        registry.register(subject_for(topic), breaking)
    retyped = copy.deepcopy(schema_json("FrameRef"))
    next(f for f in retyped["fields"] if f["name"] == "width")["type"] = "string"
    with pytest.raises(IncompatibleSchemaError):
        registry.register(subject_for(topic), retyped)
    assert registry.versions(subject_for(topic)) == [1]


def test_decode_errors_name_the_reason(serde: AvroSerde, unique_prefix: str) -> None:
    topic = f"{unique_prefix}serde.errors"
    good = serde.encode(topic, sample_record(FrameRef, 0))
    pose_id = serde.schema_id(f"{unique_prefix}serde.errors-pose", PoseScore)
    cases = {
        b"\x01" + good[1:]: "unknown magic byte 0x01",
        good[:3]: "truncated header",
        good[:-3]: "truncated",
        good + b"\x00": "trailing bytes",
        frame(2**31 - 7, good[5:]): "unknown schema id",
        frame(pose_id, good[5:]): "schema mismatch",
        with_enum_index(
            lambda r: serde.encode(topic, r), sample_record(FrameRef, 0), bytes([14])
        ): "invalid enum index 7",
    }
    for data, reason in cases.items():
        with pytest.raises(DecodeError, match=reason):
            serde.decode(topic, data, FrameRef)


def test_encode_refuses_values_that_do_not_fit(serde: AvroSerde, unique_prefix: str) -> None:
    good = sample_record(FrameRef)
    fields = {f: getattr(good, f) for f in FrameRef.__slots__}
    with pytest.raises(ValidationError, match="width"):
        serde.encode(f"{unique_prefix}serde.invalid", FrameRef(**{**fields, "width": "wide"}))
    with pytest.raises(ValidationError, match="source_kind"):
        serde.encode(f"{unique_prefix}serde.invalid", FrameRef(**{**fields, "source_kind": "DRONE"}))


def test_unreachable_registry_is_transient() -> None:
    serde = AvroSerde(RegistryClient("http://127.0.0.1:9", timeout_s=1.0))
    with pytest.raises(TransientError):
        serde.encode("any.topic", sample_record(FrameRef))
    with pytest.raises(TransientError):
        serde.decode("any.topic", frame(12345, b"\x00"), FrameRef)
