"""1,000 poison inputs through the real pose and audio processors, among good ones: random bytes, truncated and
lying Avro, wrong and unknown schema ids, truncated JPEGs, FrameRefs whose object was deleted, WAVs whose header
lies about their length.

Oracle: the inputs themselves. Every poison input is in ``dlq.v1`` exactly as it was sent, with a reason (and the
expected words for the kinds whose reason is known); every good input is scored; both processors are alive and
stop cleanly.
"""

from __future__ import annotations

import random
import struct
from collections import Counter
from functools import partial
from typing import Any

import numpy as np
import pytest

from anomaly_core.objectstore import ObjectStore
from anomaly_core.registry import RegistryClient
from anomaly_core.serde import AvroSerde
from anomaly_core.settings import KafkaSettings, ObjectStoreSettings
from anomaly_core.topics import DLQ, MEDIA_AUDIO, MEDIA_FRAMES, SCORES_AUDIO, SCORES_POSE, topic_name
from producers.figure import person_frame
from schemas.records import AudioScore, DeadLetter, ObjectRef, PoseScore
from tests.avro_poison import poison_value
from tests.chaos.feed import chunk_ref, frame_ref, jpeg
from tests.chaos.services import Services
from tests.integration._streaming import produce_raw, read_until
from tests.model_fixtures import wav_bytes

pytestmark = [pytest.mark.chaos, pytest.mark.integration, pytest.mark.slow]

POISON = 1000
GOOD = 100  # of each topic
SEED = 1000

Sent = tuple[str, bytes, bytes | None]  # topic, key, value


class Objects:
    """The few stored objects every input points at: good and poisoned media, and one deleted from the store."""

    def __init__(self, store: ObjectStore, bucket: str) -> None:
        image = jpeg(person_frame(320, 240))
        silence = wav_bytes(np.zeros(32_000))
        lying = bytearray(silence)
        lying[40:44] = struct.pack("<I", 20 * 32_000)  # the data chunk claims 20x the bytes it holds
        self.good_jpeg = store.put(bucket, "good.jpg", image, "image/jpeg")
        self.good_wav = store.put(bucket, "good.wav", silence, "audio/wav")
        self.truncated_jpeg = store.put(bucket, "truncated.jpg", image[: len(image) // 2], "image/jpeg")
        self.noise_jpeg = store.put(bucket, "noise.jpg", random.Random(1).randbytes(4000), "image/jpeg")
        self.lying_wav = store.put(bucket, "lying.wav", bytes(lying), "audio/wav")
        self.deleted: ObjectRef = store.put(bucket, "deleted.jpg", image, "image/jpeg")
        store.client.remove_object(bucket, "deleted.jpg")


def _inputs(kafka: KafkaSettings, serde: AvroSerde, objects: Objects) -> tuple[list[Sent], dict[bytes, str]]:
    """Good and poison inputs interleaved, and the words each poison input's reason must hold (by key)."""
    rng = random.Random(SEED)
    frames, audio = topic_name(MEDIA_FRAMES, kafka.topic_prefix), topic_name(MEDIA_AUDIO, kafka.topic_prefix)
    wrong_id = serde.schema_id(f"{frames}.pose", PoseScore)
    media_poison = [
        (frames, lambda cam, i: frame_ref(objects.truncated_jpeg, cam, i), "truncated"),
        (frames, lambda cam, i: frame_ref(objects.noise_jpeg, cam, i), ""),
        (frames, lambda cam, i: frame_ref(objects.deleted, cam, i), ""),
        (audio, lambda cam, i: chunk_ref(objects.lying_wav, cam, i), "claims"),
    ]
    sent: list[Sent] = []
    words: dict[bytes, str] = {}
    for i in range(POISON):
        key = f"poison-{i}".encode()
        if i % 2:  # a FrameRef or AudioChunkRef that decodes, pointing at bad media
            topic, make, reason = media_poison[rng.randrange(len(media_poison))]
            sent.append((topic, key, serde.encode(topic, make(key.decode(), i))))
        else:  # a value that does not decode at all
            record = frame_ref(objects.good_jpeg, "x", i)
            value, reason = poison_value(rng, partial(serde.encode, frames), record, wrong_id)
            sent.append((frames, key, value))
        words[key] = reason
        if i % (POISON // GOOD) == 0:
            cam = f"good-{i}"
            sent.append((frames, cam.encode(), serde.encode(frames, frame_ref(objects.good_jpeg, cam, 0))))
            sent.append((audio, cam.encode(), serde.encode(audio, chunk_ref(objects.good_wav, cam, 0))))
    return sent, words


def _scored(kafka: KafkaSettings, serde: AvroSerde, base: str, cls: type, expect: int) -> list[Any]:
    topic = topic_name(base, kafka.topic_prefix)
    return [serde.decode(topic, m.value(), cls) for m in read_until(kafka, topic, lambda rs: len(rs) >= expect)]


def test_poison_inputs_are_dead_lettered_with_a_reason_and_the_rest_flows(
    chaos_kafka: KafkaSettings, object_store_settings: ObjectStoreSettings, bucket: str, services: Services
) -> None:
    serde = AvroSerde(RegistryClient(chaos_kafka.schema_registry_url))
    sent, words = _inputs(chaos_kafka, serde, Objects(ObjectStore.from_settings(object_store_settings), bucket))
    for name in ("pose", "audio"):
        services.start(name, ["process", name], {"TORCH_NUM_THREADS": "1"})
    for topic in {t for t, _, _ in sent}:
        produce_raw(chaos_kafka, topic, [(key, value) for t, key, value in sent if t == topic])

    dlq = topic_name(DLQ, chaos_kafka.topic_prefix)
    letters = [
        serde.decode(dlq, m.value(), DeadLetter)
        for m in read_until(chaos_kafka, dlq, lambda rs: len(rs) >= POISON, timeout_s=180)
    ]
    poses = _scored(chaos_kafka, serde, SCORES_POSE, PoseScore, GOOD)
    sounds = _scored(chaos_kafka, serde, SCORES_AUDIO, AudioScore, GOOD)
    assert services.crashes == {}, f"services died by themselves: {services.crashes}\n{services.tails()}"
    assert services.stop() == {"pose": 0, "audio": 0}, services.tails()

    by_key = {letter.key: letter for letter in letters}
    assert Counter(letter.key for letter in letters).most_common(1)[0][1] == 1, "an input dead-lettered twice"
    assert set(by_key) == set(words), f"{len(set(words) - set(by_key))} poison inputs missing from the DLQ"
    sent_value = {key: (topic, value) for topic, key, value in sent}
    for key, letter in by_key.items():
        assert (letter.original_topic, letter.value) == sent_value[key], key
        assert letter.reason and words[key] in letter.reason, (key, words[key], letter.reason)
        assert letter.service in ("processor-pose", "processor-audio")
    assert (
        {s.camera_id for s in poses}
        == {s.camera_id for s in sounds}
        == {key.decode() for t, key, _ in sent if not key.startswith(b"poison-")}
    )
