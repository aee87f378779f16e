"""Model catalog, registry, per-item isolation, caption candidates; tiny BLIP/CLIP-onnx through the loaders."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from processors.handling import score_all
from processors.models import ModelMissingError, entry, require, weights_version
from processors.plugins.caption import candidate_subject
from processors.registry import modalities
from processors.settings import ProcessorSettings
from schemas.records import (
    AnomalyEvent,
    AnomalyKind,
    AnomalyState,
    AudioChunkRef,
    AudioScore,
    CaptionScore,
    Evidence,
    FrameRef,
    ObjectRef,
    PoseScore,
    SceneScore,
    Severity,
)
from tests import model_fixtures

# Fixtures shared with other test modules (pytest finds them as module attributes).
tiny_model_cache = model_fixtures.tiny_model_cache
tiny_settings = model_fixtures.tiny_settings

T0 = datetime(2025, 1, 1, 12, 0, tzinfo=UTC)
FRAME = ObjectRef("anomaly-frames", "cam/1.jpg", "ab" * 32, 10, "image/jpeg")


def test_missing_model_names_the_pull_command(tmp_path: Path) -> None:
    settings = ProcessorSettings(model_cache_dir=tmp_path)
    assert not entry(settings, "clip").present
    with pytest.raises(ModelMissingError, match="anomaly models pull clip"):
        require(settings, "clip")
    with pytest.raises(ModelMissingError, match="anomaly models pull"):
        require(ProcessorSettings(model_cache_dir=tmp_path, whisper_model="large-v3"), "whisper")


def test_bundled_models_are_found_offline(tmp_path: Path) -> None:
    settings = ProcessorSettings(model_cache_dir=tmp_path)
    assert entry(settings, "pose").source == "missing"  # built into the cache by `anomaly models pull pose`
    with pytest.raises(ModelMissingError, match="anomaly models pull pose"):
        require(settings, "pose")
    whisper = entry(settings, "whisper")
    assert whisper.source == "bundled" and whisper.model_id == "faster-whisper-tiny.en"


def test_fast_mode_keeps_the_base_clip(tmp_path: Path) -> None:
    settings = ProcessorSettings(model_cache_dir=tmp_path, clip_model="openai/clip-vit-large-patch14", fast_mode=True)
    assert entry(settings, "clip").model_id == "openai/clip-vit-base-patch32"


def test_weights_version_is_a_short_content_hash(tmp_path: Path) -> None:
    (tmp_path / "a.bin").write_bytes(b"weights")
    (tmp_path / "b.bin").write_bytes(b"weights")
    assert weights_version(tmp_path / "a.bin") == weights_version(tmp_path / "b.bin")
    assert len(weights_version(tmp_path / "a.bin")) == 12


def test_registry_has_the_four_modalities() -> None:
    found = modalities()
    assert set(found) == {"pose", "scene", "audio", "caption"}
    assert (found["pose"].input_record, found["pose"].output_record) == (FrameRef, PoseScore)
    assert (found["scene"].input_record, found["scene"].output_record) == (FrameRef, SceneScore)
    assert (found["audio"].input_record, found["audio"].output_record) == (AudioChunkRef, AudioScore)
    assert (found["caption"].input_topic, found["caption"].output_record) == ("anomalies.candidates.v1", CaptionScore)
    assert found["scene"].batching(ProcessorSettings()) == (8, 50)


def test_one_failing_item_does_not_poison_the_batch() -> None:
    def model(batch: list[int]) -> list[int]:
        if 13 in batch:
            raise ValueError("bad input")
        return [x * 2 for x in batch]

    results = score_all(model, [1, 13, 3])
    assert results[0] == 2 and results[2] == 6
    assert isinstance(results[1], ValueError)
    assert score_all(model, []) == []


def _event(state: AnomalyState, evidence: Evidence) -> AnomalyEvent:
    return AnomalyEvent(
        anomaly_id="6f1c3f7e-0000-4000-8000-000000000001",
        camera_id="cam-1",
        revision=1,
        state=state,
        incident_start=T0,
        incident_end=T0,
        window_start=T0,
        window_end=T0,
        severity=Severity.HIGH,
        kinds=[AnomalyKind.FALL],
        score=0.9,
        reasons=["fall"],
        evidence=evidence,
        lineage=[],
        rules_version="r1",
        fusion_version="f1",
        decided_at=T0,
    )


def test_only_candidates_with_a_frame_are_captioned() -> None:
    other = ObjectRef("anomaly-frames", "cam/0.jpg", "cd" * 32, 10, "image/jpeg")
    subject = candidate_subject(_event(AnomalyState.CANDIDATE, Evidence(frames=[other], best_frame=FRAME)))
    assert subject is not None and subject.media == FRAME and subject.camera_id == "cam-1"
    fallback = candidate_subject(_event(AnomalyState.CANDIDATE, Evidence(frames=[other])))
    assert fallback is not None and fallback.media == other
    assert candidate_subject(_event(AnomalyState.OPEN, Evidence(best_frame=FRAME))) is None
    assert candidate_subject(_event(AnomalyState.CANDIDATE, Evidence())) is None


@pytest.mark.slow
def test_tiny_blip_captions_through_the_loader(tiny_settings) -> None:  # type: ignore[no-untyped-def]
    from processors.caption import score
    from processors.loaders import load_blip

    model = load_blip(tiny_settings)
    assert model.info.name == "tiny/blip" and model.info.version.endswith("+torch")
    caption = score(model, np.full((48, 64, 3), 128, np.uint8))
    assert isinstance(caption, str) and len(caption) <= 300
    assert len(model.caption_pixels([model.prepare(np.zeros((30, 30, 3), np.uint8))] * 2)) == 2


@pytest.mark.slow
def test_tiny_clip_onnx_backend(tiny_settings, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    pytest.importorskip("onnx", reason="exporting to ONNX needs the onnx package")
    from processors.clip_loader import load_clip

    torch_model = load_clip(tiny_settings)
    onnx_model = load_clip(tiny_settings.model_copy(update={"clip_backend": "onnx"}))
    frame = np.random.default_rng(0).integers(0, 255, (64, 64, 3), dtype=np.uint8)
    ref = torch_model.score_pixels([torch_model.prepare(frame)])[0]
    fast = onnx_model.score_pixels([onnx_model.prepare(frame)] * 3)
    assert len(fast) == 3 and fast[0].anomaly_probability == pytest.approx(fast[2].anomaly_probability, abs=1e-6)
    assert fast[0].anomaly_probability == pytest.approx(ref.anomaly_probability, abs=0.05)


def test_processor_without_its_model_exits_at_once(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from anomaly_cli.process_cmd import app

    result = CliRunner().invoke(app, ["scene"], env={"MODEL_CACHE_DIR": str(tmp_path)})
    assert result.exit_code == 2
    assert "anomaly models pull clip" in result.output


@pytest.mark.slow
def test_tiny_blip_int8(tiny_settings) -> None:  # type: ignore[no-untyped-def]
    from processors.caption import score
    from processors.loaders import load_blip

    model = load_blip(tiny_settings.model_copy(update={"caption_backend": "torch-int8"}))
    assert model.info.version.endswith("+torch-int8")
    assert isinstance(score(model, np.full((48, 64, 3), 128, np.uint8)), str)


@pytest.mark.slow
def test_onnx_clip_restarts_without_torch(tiny_settings) -> None:  # type: ignore[no-untyped-def]
    """Once exported, the onnx scene processor loads from its cache: no torch, no transformers."""
    pytest.importorskip("onnx", reason="exporting to ONNX needs the onnx package")
    import subprocess
    import sys

    from processors.clip_loader import load_clip

    load_clip(tiny_settings.model_copy(update={"clip_backend": "onnx"}))  # exports (or finds) the cache
    code = (
        "import sys; from pathlib import Path; from processors.settings import ProcessorSettings;"
        "from processors.clip_loader import load_clip;"
        f"m = load_clip(ProcessorSettings(model_cache_dir=Path({str(tiny_settings.model_cache_dir)!r}),"
        " clip_model='tiny/clip', clip_backend='onnx'));"
        "assert 'torch' not in sys.modules and 'transformers' not in sys.modules, 'torch was imported';"
        "print(m.info.version)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().endswith("+onnx")


@pytest.mark.slow
def test_onnx_backend_without_the_onnx_package_says_what_to_do(tiny_settings) -> None:  # type: ignore[no-untyped-def]
    import importlib.util

    if importlib.util.find_spec("onnx") is not None:
        pytest.skip("the onnx package is installed: the export works")
    from processors.clip_loader import load_clip

    with pytest.raises(ModelMissingError, match="CLIP_BACKEND=torch-int8"):
        load_clip(tiny_settings.model_copy(update={"clip_backend": "onnx"}))
