"""Where a consumer group with no committed offsets starts (CONSUMER_START), and who overrides it."""

from __future__ import annotations

import pydantic
import pytest

from anomaly_core.settings import KafkaSettings


def test_a_new_group_starts_at_the_live_end_unless_told_otherwise(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CONSUMER_START", raising=False)  # tests/conftest.py sets earliest for the suite
    assert KafkaSettings().consumer_start == "latest"
    monkeypatch.setenv("CONSUMER_START", "earliest")
    assert KafkaSettings().consumer_start == "earliest"
    monkeypatch.setenv("CONSUMER_START", "beginning")
    with pytest.raises(pydantic.ValidationError):
        KafkaSettings()


@pytest.mark.parametrize("start", ["latest", "earliest"])
def test_the_fusion_worker_follows_the_setting(start: str) -> None:
    from fusion_app.live_driver import app_settings
    from fusion_app.settings import FusionSettings

    kafka = KafkaSettings(CONSUMER_START=start)
    assert app_settings(kafka, "fusion", FusionSettings())["consumer_auto_offset_reset"] == start


def test_analyze_and_demo_read_their_topics_from_the_start() -> None:
    from runs.platform import run_env

    assert run_env()["CONSUMER_START"] == "earliest"
