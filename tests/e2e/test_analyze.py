"""`anomaly analyze` on the generated clips: the expected anomalies at the right times, nothing on benign clips,
a clear message per unusable file, and a named stage when a processor is missing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from producers.samples import SampleSet
from tests.e2e.analyze_helpers import Analysis, run_analyze

pytestmark = [pytest.mark.slow, pytest.mark.e2e, pytest.mark.integration]

TOLERANCE_S = 1.0


def _truth(samples: SampleSet, kind: str) -> tuple[float, float]:
    event = samples.fall.first(kind)
    assert event is not None, kind
    return event.start_s, event.end_s


def _with_kind(camera: dict[str, Any], *kinds: str) -> list[dict[str, Any]]:
    return [a for a in camera["anomalies"] if set(a["kinds"]) & set(kinds)]


def test_fall_clip_gives_a_fall_and_a_call_for_help_at_the_right_times(analysis: Analysis, samples: SampleSet) -> None:
    fall = analysis.camera("fall")
    fall_start, fall_end = _truth(samples, "fall")
    lying_start, _ = _truth(samples, "lying")
    speech_start, speech_end = _truth(samples, "speech")
    # When several kinds share one incident, it starts with the earliest of them.
    starts = {"FALL": fall_start, "PERSON_DOWN": lying_start, "DISTRESS_SPEECH": speech_start}

    [down, *_] = _with_kind(fall, "FALL", "PERSON_DOWN") or [None]
    assert down is not None, f"no FALL/PERSON_DOWN anomaly in {fall['anomalies']}\n{analysis.output}"
    expected = min(starts[k] for k in down["kinds"] if k in starts)
    assert abs(down["start_s"] - expected) <= TOLERANCE_S, down
    assert down["end_s"] >= fall_end - TOLERANCE_S, down

    [help_call, *_] = _with_kind(fall, "DISTRESS_SPEECH") or [None]
    assert help_call is not None, f"no DISTRESS_SPEECH anomaly in {fall['anomalies']}\n{analysis.output}"
    expected = min(starts[k] for k in help_call["kinds"] if k in starts)
    assert abs(help_call["start_s"] - expected) <= TOLERANCE_S, help_call
    assert help_call["end_s"] >= speech_start - TOLERANCE_S, help_call
    assert help_call["end_s"] <= samples.fall.duration_s + TOLERANCE_S, help_call
    assert help_call["severity"] in {"HIGH", "CRITICAL"}
    assert "police" in (help_call["transcript_excerpt"] or "").lower() or any(
        "police" in line["text"].lower() for line in fall["transcript"]
    )
    # Every decision can be traced back to the score events it was made from.
    assert all(a["lineage"] and a["reasons"] for a in fall["anomalies"])
    assert speech_end <= samples.fall.duration_s


def test_benign_and_silent_clips_give_no_anomaly(analysis: Analysis) -> None:
    assert analysis.camera("benign")["anomalies"] == []
    silent = analysis.camera("silent")
    assert silent["anomalies"] == []
    assert any("no audio track" in note for note in silent["notes"])
    assert silent["audio_chunks"] == 0 and silent["frames"] > 0


def test_unusable_inputs_are_named_and_the_others_still_analysed(analysis: Analysis) -> None:
    reasons = {Path(p["path"]).name: p["reason"] for p in analysis.report["problems"]}
    assert reasons["notes.mp4"].startswith("not a media file")
    assert reasons["missing.mp4"] == "file does not exist"
    assert "notes.mp4" in analysis.output and "missing.mp4" in analysis.output
    assert {c["camera_id"] for c in analysis.report["cameras"]} == {"fall", "benign", "silent"}
    # When the run is not complete, say why: the problems it reports and the end of what it printed.
    assert analysis.report["complete"], (analysis.report["problems"], analysis.output[-1500:])


def test_fail_on_severity_sets_exit_code_3(analysis: Analysis) -> None:
    assert analysis.report["max_severity"] in {"HIGH", "CRITICAL"}
    assert analysis.returncode == 3, analysis.output
    print(f"anomaly analyze on 3 sample clips (26 s of media): {analysis.wall_s:.1f} s wall")


def test_a_processor_that_dies_is_named_instead_of_hanging(samples: SampleSet, tmp_path: Path) -> None:
    # A corrupt pose model makes `anomaly process pose` exit as soon as it tries to load it.
    import os

    from processors.pose_assets import bundle_name
    from processors.settings import ProcessorSettings

    settings = ProcessorSettings()
    models = tmp_path / "models"
    models.mkdir()
    for item in settings.model_cache_dir.resolve().iterdir():  # every other model as it is
        (models / item.name).symlink_to(item)
    corrupt = models / bundle_name(settings.pose_model)
    corrupt.unlink(missing_ok=True)
    corrupt.write_bytes(b"not a model")

    env = {**os.environ, "MODEL_CACHE_DIR": str(models)}
    code, output, wall = run_analyze(
        [str(samples.silent.path), "--report", str(tmp_path / "report"), "--timeout", "120"], env=env, timeout_s=240
    )
    assert code == 5, output
    assert "stage 'pose' is missing" in output, output
    assert wall < 120, f"took {wall:.0f} s: the dead stage should be noticed at once"
    assert (tmp_path / "report" / "report.html").exists()
