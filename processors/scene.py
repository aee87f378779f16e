"""Scene: CLIP zero-shot probabilities over a versioned prompt set.

Pure parts (prompt set, softmax over labels, anomaly probability) are plain numpy; ``ClipScene`` holds the
model: text embeddings are computed once at load, images are encoded in batches by the selected backend.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from processors.imageprep import PixelSpec, to_pixels
from schemas.records import LabelProbability, ModelInfo


@dataclass(frozen=True, slots=True)
class Label:
    name: str
    is_anomaly: bool
    prompts: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class PromptSet:
    version: str
    labels: tuple[Label, ...]

    @property
    def names(self) -> list[str]:
        return [label.name for label in self.labels]


@dataclass(frozen=True, slots=True)
class SceneResult:
    labels: list[LabelProbability]
    anomaly_probability: float
    top_label: str


def load_prompt_set(path: Path) -> PromptSet:
    """Reads prompts.yaml: every description of a label is expanded through every template."""
    doc = yaml.safe_load(path.read_text())
    templates = doc.get("templates") or ["{}"]
    labels: list[Label] = []
    for group, is_anomaly in (("anomaly", True), ("normal", False)):
        for name, descriptions in (doc.get(group) or {}).items():
            prompts = tuple(t.format(d) for d in descriptions for t in templates)
            if not prompts:
                raise ValueError(f"{path}: label {name!r} has no descriptions")
            labels.append(Label(name=str(name), is_anomaly=is_anomaly, prompts=prompts))
    names = [label.name for label in labels]
    if len(set(names)) != len(names) or not any(lb.is_anomaly for lb in labels) or all(lb.is_anomaly for lb in labels):
        raise ValueError(f"{path}: labels must be unique, with both anomaly and normal labels")
    return PromptSet(version=str(doc["version"]), labels=tuple(labels))


def normalize(x: np.ndarray) -> np.ndarray:
    return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-12)


def label_embeddings(prompt_embeds: np.ndarray, prompt_set: PromptSet) -> np.ndarray:
    """(n_labels, dim): the normalised mean of each label's normalised prompt embeddings (prompt ensembling)."""
    unit = normalize(prompt_embeds.astype(np.float32))
    out, start = [], 0
    for label in prompt_set.labels:
        out.append(unit[start : start + len(label.prompts)].mean(axis=0))
        start += len(label.prompts)
    return normalize(np.stack(out))


def probabilities(image_embeds: np.ndarray, text_embeds: np.ndarray, logit_scale: float) -> np.ndarray:
    """Softmax over labels of CLIP's scaled cosine similarities, (n_images, n_labels)."""
    logits = logit_scale * normalize(image_embeds.astype(np.float32)) @ text_embeds.T
    logits -= logits.max(axis=1, keepdims=True)
    exp = np.exp(logits)
    return exp / exp.sum(axis=1, keepdims=True)


def scene_result(probs: np.ndarray, prompt_set: PromptSet) -> SceneResult:
    """One image's label probabilities; the anomaly probability is the mass on anomaly labels."""
    labels = [
        LabelProbability(label=lb.name, probability=float(p), is_anomaly=lb.is_anomaly)
        for lb, p in zip(prompt_set.labels, probs, strict=True)
    ]
    anomaly = float(sum(lp.probability for lp in labels if lp.is_anomaly))
    top = prompt_set.labels[int(np.argmax(probs))].name
    return SceneResult(labels=labels, anomaly_probability=min(1.0, anomaly), top_label=top)


@dataclass(frozen=True)
class ClipScene:
    """A loaded CLIP checkpoint with its label embeddings and an image encoder backend."""

    info: ModelInfo
    prompt_set: PromptSet
    text_embeds: np.ndarray  # (n_labels, dim), normalised
    logit_scale: float
    pixel_spec: PixelSpec
    encoder: Any  # callable: float32 NCHW -> (n, dim) image embeddings

    def prepare(self, rgb: np.ndarray) -> np.ndarray:
        """One frame as model pixels (3, H, W): done at decode time so a batch never holds full frames."""
        pixels: np.ndarray = to_pixels([rgb], self.pixel_spec)[0]
        return pixels

    def score_pixels(self, pixels: Sequence[np.ndarray]) -> list[SceneResult]:
        embeds = self.encoder(np.ascontiguousarray(np.stack(pixels)))
        probs = probabilities(embeds, self.text_embeds, self.logit_scale)
        return [scene_result(row, self.prompt_set) for row in probs]


def score(model: ClipScene, rgb: np.ndarray) -> SceneResult:
    """Scene probabilities of one RGB frame."""
    return model.score_pixels([model.prepare(rgb)])[0]
