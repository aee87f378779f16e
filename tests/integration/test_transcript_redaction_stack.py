"""Transcript redaction end to end: spoken phone numbers, e-mail addresses and listed names never reach
scores.audio.v1 (read back from Kafka) nor the anomalies projection in PostgreSQL, while the processor still
finds the call for help in the words as heard."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest

from anomaly_core.db import migrate
from anomaly_core.objectstore import ObjectStore
from anomaly_core.registry import RegistryClient
from anomaly_core.serde import AvroSerde
from anomaly_core.settings import KafkaSettings, ObjectStoreSettings
from anomaly_core.topics import MEDIA_AUDIO, SCORES_AUDIO
from fusion_app.events import to_event
from fusion_app.offline import run_offline, with_offsets
from fusion_app.projection import Projection
from fusion_app.rules import load_rules
from processors.audio.redact import EMAIL, NAME, PHONE
from processors.media import decode_wav
from processors.registry import get
from processors.service import build_spec
from processors.settings import ProcessorSettings
from schemas.records import AudioChunkRef, AudioScore
from tests.integration._streaming import produce_raw, read_until, service_thread
from tests.model_fixtures import speech_wav

pytestmark = [pytest.mark.integration, pytest.mark.slow]
T0 = datetime(2026, 4, 1, 9, 0, tzinfo=UTC)
SAID = {
    # What the speech model hears in each (checked by the markers below, so the test cannot pass on deaf ears).
    "cam-phone-mail": ("Help, call the police at 555 123 4567 or email peter at gmail dot com", (PHONE, EMAIL)),
    "cam-name": ("Help! Peter fell. Call 555 123 4567.", (NAME, PHONE)),
}
DIGITS = re.compile(r"\d(?:\D{0,3}\d){6,}")  # seven digits or more, whatever stands between them
PLANTED = (b"gmail", b"email.com", b"Peter", b"peter")


def _texts(score: AudioScore) -> list[str]:
    texts = [score.transcript, *(m.matched_text for m in score.matched_phrases)]
    return texts + ([score.intent.segment] if score.intent else [])


def test_redacted_words_never_reach_kafka_or_postgres(
    tmp_path: Path,
    kafka_settings: KafkaSettings,
    object_store_settings: ObjectStoreSettings,
    bucket: str,
    unique_prefix: str,
    make_topics: Any,
    pg_dsn: str,
) -> None:
    make_topics([MEDIA_AUDIO, SCORES_AUDIO, "dlq.v1"])
    kafka = kafka_settings.model_copy(update={"topic_prefix": unique_prefix})
    store = ObjectStore.from_settings(object_store_settings)
    names = tmp_path / "names.txt"
    names.write_text("# residents\nPeter\n")
    settings = ProcessorSettings(torch_num_threads=2, TRANSCRIPT_REDACTION="on", REDACT_NAMES_FILE=names)
    serde = AvroSerde(RegistryClient(kafka.schema_registry_url))
    audio_topic, scores_topic = unique_prefix + MEDIA_AUDIO, unique_prefix + SCORES_AUDIO
    chunks: list[tuple[bytes | None, bytes | None]] = []
    for camera, (text, _) in SAID.items():
        wav = speech_wav(text)
        ref = store.put(bucket, f"audio/{camera}/{uuid.uuid4().hex}.wav", wav, "audio/wav")
        seconds = len(decode_wav(wav, max_seconds=30).samples) / 16_000
        chunk = AudioChunkRef(
            event_id=str(uuid.uuid4()),
            camera_id=camera,
            seq=0,
            start_at=T0,
            media_offset_ms=0,
            duration_ms=round(seconds * 1000),
            sample_rate=16_000,
            channels=1,
            object=ref,
        )
        chunks.append((camera.encode(), serde.encode(audio_topic, chunk)))
    produce_raw(kafka, audio_topic, chunks)

    spec = build_spec("audio", get("audio").load_model(settings), settings, kafka, store)
    with service_thread(spec, kafka):
        messages = read_until(kafka, scores_topic, lambda rs: len(rs) >= len(SAID), timeout_s=120)
    scores = {s.camera_id: s for s in (serde.decode(scores_topic, m.value(), AudioScore) for m in messages)}

    assert set(scores) == set(SAID)
    for camera, (_, markers) in SAID.items():
        score = scores[camera]
        assert all(marker in score.transcript for marker in markers), score.transcript
        assert not [t for t in _texts(score) if DIGITS.search(t)], _texts(score)
        assert score.intent is not None and score.intent.intent in ("help", "fall"), score.intent  # heard unredacted
    leaked = [(p, m.key()) for m in messages for p in PLANTED if p in m.value()]
    assert leaked == [], f"planted words on {scores_topic}: {leaked}"

    # What fusion makes of these scores, stored by the projection sink as production stores it.
    run = run_offline(with_offsets(scores.values()), load_rules())
    events = [to_event(inc, T0 + timedelta(seconds=10)) for inc in run.latest().values()]
    assert events, "the calls for help raised no anomaly"
    migrate(pg_dsn)
    Projection(pg_dsn).upsert(events)
    with psycopg.connect(pg_dsn) as conn:
        stored = conn.execute("select coalesce(transcript, ''), reasons, a::text from anomalies a").fetchall()
    texts = [text for transcript, reasons, _ in stored for text in (transcript, *reasons)]
    assert any(PHONE in text for text in texts), texts
    assert not [t for t in texts if DIGITS.search(t)], texts
    assert not [(p, row) for *_, row in stored for p in PLANTED if p.decode() in row], stored
