"""What the ONNX CLIP path keeps on disk so a processor restart needs neither torch nor the text tower.

Next to the exported vision tower (``onnx/vision-<weights>-int8.onnx``) the label embeddings of the prompt set
are stored with the logit scale and the pixel spec (``onnx/labels-<weights>-<prompts>.npz``). Editing the
prompts changes their hash, so stale embeddings are never used.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from processors.imageprep import PixelSpec
from processors.scene import PromptSet


@dataclass(frozen=True, slots=True)
class LabelCache:
    text_embeds: np.ndarray
    logit_scale: float
    pixel_spec: PixelSpec


def prompts_hash(prompt_set: PromptSet) -> str:
    text = "\n".join(f"{lb.name}|{lb.is_anomaly}|{'|'.join(lb.prompts)}" for lb in prompt_set.labels)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def vision_path(model_dir: Path, version: str) -> Path:
    return model_dir / "onnx" / f"vision-{version}-int8.onnx"


def labels_path(model_dir: Path, version: str, prompt_set: PromptSet) -> Path:
    return model_dir / "onnx" / f"labels-{version}-{prompts_hash(prompt_set)}.npz"


def save(path: Path, cache: LabelCache) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    spec = json.dumps(dataclasses.asdict(cache.pixel_spec))
    with tempfile.NamedTemporaryFile(dir=path.parent, suffix=".npz", delete=False) as tmp:
        np.savez(tmp, text_embeds=cache.text_embeds, logit_scale=np.float64(cache.logit_scale), pixel_spec=spec)
    Path(tmp.name).replace(path)


def load(path: Path) -> LabelCache | None:
    if not path.is_file():
        return None
    with np.load(path, allow_pickle=False) as data:
        spec: dict[str, Any] = json.loads(str(data["pixel_spec"]))
        fields: dict[str, Any] = {k: tuple(v) if isinstance(v, list) else v for k, v in spec.items()}
        pixel_spec = PixelSpec(**fields)
        return LabelCache(np.array(data["text_embeds"]), float(data["logit_scale"]), pixel_spec)
