"""1,000 poison records interleaved with good ones: each lands in the DLQ with its reason, the good ones flow."""

from __future__ import annotations

import random
from functools import partial

import pytest
from _streaming import produce_raw, read_all, service_thread

from anomaly_core.registry import RegistryClient
from anomaly_core.runtime import Output, ServiceSpec, per_message
from anomaly_core.serde import AvroSerde
from anomaly_core.settings import KafkaSettings
from schemas.records import DeadLetter, DeadLetterStage, FrameRef, PoseScore
from schemas.samples import sample_record
from tests.avro_poison import poison_value

pytestmark = pytest.mark.integration

POISON = 1000
GOOD = 500


def test_poison_goes_to_the_dlq_and_good_records_flow(
    kafka_settings: KafkaSettings, streaming_topics: dict[str, str]
) -> None:
    rng = random.Random(1234)
    topic, out, dlq = streaming_topics["in"], streaming_topics["out"], streaming_topics["dlq"]
    serde = AvroSerde(RegistryClient(kafka_settings.schema_registry_url))
    pose_id = serde.schema_id(f"{topic}.pose", PoseScore)
    base = sample_record(FrameRef, 0)
    fields = {f: getattr(base, f) for f in FrameRef.__slots__}
    records: list[tuple[bytes | None, bytes | None]] = []
    expected_reason: dict[bytes, str] = {}  # key -> reason words
    goods = []
    for i in range(POISON + GOOD):
        if i % 3 == 2:
            good = FrameRef(**{**fields, "camera_id": f"cam-{i % 7}", "seq": i})
            goods.append(good)
            records.append((f"cam-{i % 7}|{i}".encode(), serde.encode(topic, good)))
        else:
            encode = partial(serde.encode, topic)
            value, reason = poison_value(rng, encode, FrameRef(**{**fields, "seq": i}), pose_id)
            key = f"cam-{i % 7}|{i}".encode()
            expected_reason[key] = reason
            records.append((key, value))
    assert len(expected_reason) == POISON and len(goods) == GOOD
    produce_raw(kafka_settings, topic, records)

    spec = ServiceSpec(
        name="poison-test",
        group_id=f"{topic}.poison",
        input_topics=[topic],
        input_record=FrameRef,
        handler=per_message(lambda m: [Output(out, m.key, m.value)]),
        max_batch=200,
        dlq_topic=dlq,
    )
    with service_thread(spec, kafka_settings):
        letters = [serde.decode(dlq, m.value(), DeadLetter) for m in read_all(kafka_settings, dlq, expect=POISON)]
        outputs = read_all(kafka_settings, out, expect=GOOD)

    assert sorted(serde.decode(out, m.value(), FrameRef).seq for m in outputs) == sorted(g.seq for g in goods)
    assert len(letters) == POISON
    by_key = {letter.key: letter for letter in letters}
    assert set(by_key) == set(expected_reason)
    sent = dict(records)
    for key, letter in by_key.items():
        assert letter.stage is DeadLetterStage.DECODE
        assert letter.error_class == "anomaly_core.errors.DecodeError"
        assert expected_reason[key] in letter.reason, (expected_reason[key], letter.reason)
        assert letter.value == sent[key] and letter.original_topic == topic and letter.service == "poison-test"
