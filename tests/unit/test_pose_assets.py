"""The pose bundle: built from checksum-pinned inputs, byte for byte the same each time, loadable by the processor."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from processors import pose_assets
from processors.pose_assets import PoseAssetError, build_bundle, bundle_name
from processors.settings import ProcessorSettings

REGISTRY = ProcessorSettings().npm_registry_url


def test_bundle_is_deterministic_and_holds_both_models(tmp_path: Path) -> None:
    first = build_bundle("lite", tmp_path / "a", REGISTRY)
    second = build_bundle("lite", tmp_path / "b", REGISTRY)
    assert first.sha256 == second.sha256
    assert first.path.name == bundle_name("lite")
    with zipfile.ZipFile(first.path) as bundle:
        assert sorted(bundle.namelist()) == ["pose_detector.tflite", "pose_landmarks_detector.tflite"]
        assert all(info.compress_type == zipfile.ZIP_STORED for info in bundle.infolist())


def test_a_tampered_download_is_refused(tmp_path: Path) -> None:
    cache = tmp_path / "downloads"
    cache.mkdir()
    (cache / f"mediapipe-pose-{pose_assets.NPM_VERSION}.tgz").write_bytes(b"not the package")
    # The cached copy fails its checksum, so it is fetched again from an unreachable registry: a clear error.
    with pytest.raises(PoseAssetError, match="cannot download"):
        pose_assets.npm_tarball("http://127.0.0.1:9", cache)


def test_unknown_variant_is_named(tmp_path: Path) -> None:
    with pytest.raises(PoseAssetError, match="unknown pose model 'huge'"):
        build_bundle("huge", tmp_path, REGISTRY)


def test_the_built_bundle_finds_a_person(tmp_path: Path) -> None:
    from processors.pose import PoseLandmarker, score
    from producers.figure import person_frame
    from schemas.records import ModelInfo

    built = build_bundle("lite", tmp_path, REGISTRY)
    model = PoseLandmarker(ModelInfo("mediapipe-blazepose-lite", built.sha256[:12]), built.path)
    try:
        (found,) = score(model, person_frame(640, 480)[:, :, ::-1])
    finally:
        model.close()
    assert found.torso_angle_deg is not None and found.torso_angle_deg < 20
