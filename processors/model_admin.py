"""`anomaly models pull|list|verify` as plain functions returning typed rows (the CLI only prints them)."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

from processors.models import MODEL_NAMES, ModelEntry, catalog, entry, size_bytes
from processors.settings import ProcessorSettings

# Only what from_pretrained / CTranslate2 read: no duplicate framework weights (tf/flax/onnx/msgpack).
_ALLOW = ["*.json", "*.txt", "*.model", "model.safetensors", "model.bin", "merges.txt", "vocab*"]

#: catalog model -> the modality whose loader verifies it
_MODALITY_OF = {"pose": "pose", "clip": "scene", "blip": "caption", "whisper": "audio"}


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
    """Downloads hub models into MODEL_CACHE_DIR/<model id>; bundled models need nothing."""
    from huggingface_hub import snapshot_download

    rows = []
    for name in names:
        e = entry(settings, name)
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
