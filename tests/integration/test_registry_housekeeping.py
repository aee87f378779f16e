"""Registry housekeeping against the real Kafka and registry: subjects go with their topics, and `anomaly stack
status` names the subjects whose topics are gone."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest

from anomaly_core.admin import admin_client, delete_topic_subjects, delete_topics
from anomaly_core.registry import RegistryClient, subject_for
from anomaly_core.settings import KafkaSettings

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
SCHEMA = {"type": "record", "name": "Probe", "namespace": "t", "fields": [{"name": "a", "type": "string"}]}


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "anomaly_cli.main", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env=dict(os.environ),
        check=False,
    )


def test_status_warns_about_subjects_of_deleted_topics_and_prune_removes_them(
    kafka_settings: KafkaSettings, unique_prefix: str, make_topics: Callable[[list[str]], dict[str, str]]
) -> None:
    kept, dropped = f"{unique_prefix}kept.v1", f"{unique_prefix}dropped.v1"
    make_topics([kept, dropped])
    with RegistryClient(kafka_settings.schema_registry_url) as registry:
        for topic in (kept, dropped):
            registry.register(subject_for(topic), SCHEMA)
        delete_topics(admin_client(kafka_settings), [dropped])

        result = _cli("stack", "status", "--json")
        assert result.returncode in (0, 3), result.stderr
        stale = json.loads(result.stdout)["stale_subjects"]
        assert subject_for(dropped) in stale and subject_for(kept) not in stale
        table = _cli("stack", "status")
        assert "subject(s) of topics that no longer exist" in table.stderr, table.stderr

        pruned = _cli("topics", "prune-subjects", "--yes", "--json")
        assert pruned.returncode == 0, pruned.stderr
        deleted = json.loads(pruned.stdout)["deleted"]
        assert subject_for(dropped) in deleted and subject_for(kept) not in deleted
        assert delete_topic_subjects(registry, [kept]) == [subject_for(kept)]
        left = set(registry.subjects())
    assert not {subject_for(kept), subject_for(dropped)} & left


def test_a_finished_run_leaves_neither_topics_nor_subjects(kafka_settings: KafkaSettings) -> None:
    from anomaly_core.topics import ANOMALIES, MEDIA_FRAMES
    from runs.topics import create_run_topics, delete_run

    prefix = f"run-t{uuid.uuid4().hex[:8]}."
    create_run_topics(kafka_settings, prefix)
    with RegistryClient(kafka_settings.schema_registry_url) as registry:
        for base in (MEDIA_FRAMES, ANOMALIES):
            registry.register(subject_for(prefix + base), SCHEMA)
        delete_run(kafka_settings, prefix, [])
        assert [s for s in registry.subjects() if s.startswith(prefix)] == []
    assert [t for t in admin_client(kafka_settings).list_topics(timeout=10).topics if t.startswith(prefix)] == []
