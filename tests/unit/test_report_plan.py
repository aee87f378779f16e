"""Which services a run starts, given the models on the machine."""

from __future__ import annotations

from datetime import UTC, datetime

from reports.plan import plan_run, producer_args


def test_only_processors_with_models_run_and_the_rest_say_how_to_get_them() -> None:
    plan = plan_run({"pose", "whisper", "intent"})
    assert [s.name for s in plan.services] == ["pose", "audio", "fusion", "projection"]
    assert plan.service("fusion").upstream == ("pose", "audio")
    assert plan.service("projection").upstream == ("fusion",)
    assert plan.skipped == [
        "scene: clip weights are not on this machine (`anomaly models pull clip`)",
        "caption: blip weights are not on this machine (`anomaly models pull blip`)",
    ]
    assert [s.name for s in plan.stages()] == ["produce", "pose", "audio", "fusion", "projection"]
    assert plan.service("pose").group == "processor-pose"


def test_every_model_present_adds_scene_caption_and_the_api_when_asked() -> None:
    plan = plan_run({"pose", "clip", "blip", "whisper", "intent"}, with_api=True)
    assert [s.name for s in plan.services] == ["pose", "scene", "audio", "fusion", "caption", "projection", "api"]
    assert plan.service("projection").upstream == ("fusion", "caption")
    assert plan.skipped == []
    # The API serves requests; it has no input topic to catch up on, so it is not a stage.
    assert "api" not in [s.name for s in plan.stages()]


def test_audio_needs_both_its_models() -> None:
    plan = plan_run({"pose", "whisper"})
    assert "audio" not in [s.name for s in plan.services]
    assert "audio: intent weights are not on this machine (`anomaly models pull intent`)" in plan.skipped


def test_producer_arguments() -> None:
    assert producer_args("a.mp4", "cam", realtime=False) == [
        "produce",
        "camera",
        "--source",
        "a.mp4",
        "--camera-id",
        "cam",
        "--no-realtime",
    ]
    assert producer_args("a.wav", "mic", realtime=True, video=False)[:2] == ["produce", "audio"]
    origin = datetime(2025, 3, 1, 12, 0, 7, tzinfo=UTC)
    assert producer_args("a.mp4", "cam", realtime=False, origin=origin)[-2:] == [
        "--origin",
        "2025-03-01T12:00:07+00:00",
    ]


def test_the_notify_worker_runs_only_when_asked_and_is_not_a_stage() -> None:
    assert "notify" not in [s.name for s in plan_run(set(), with_api=True).services]
    plan = plan_run(set(), with_api=True, with_notify=True)
    assert plan.service("notify").args == ("notify", "worker")
    assert "notify" not in [stage.name for stage in plan.stages()]


def test_an_analyze_run_has_no_projection_sink() -> None:
    # Its anomalies reach the projection through anomalies.v1 when it ends (reports.publish).
    plan = plan_run({"pose"}, with_projection=False)
    assert [s.name for s in plan.services] == ["pose", "fusion"]
    assert "projection" not in [s.name for s in plan.stages()]
