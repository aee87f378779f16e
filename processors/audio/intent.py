"""Spoken intent by meaning: transcript segments against intent and benign example sentences (processors/intents.yaml).

Each segment (a sentence or clause of the transcript, and the whole transcript) is embedded with a small
sentence-embedding model; its intent is the one of the nearest intent example, and its *margin* is that cosine
similarity minus the similarity of the nearest benign example. The chunk reports the segment with the largest
margin. Idioms ("help yourself", "fired up") sit nearer to the benign examples than to any emergency, so their
margin is negative: the method, not a list of exceptions, keeps them quiet.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np
import yaml

from schemas.records import IntentMatch

_CLAUSE = re.compile(r"[.!?;,:]+\s*|\s+-+\s+")
MAX_SEGMENTS = 12
MIN_CLAUSE_WORDS = 3
MAX_SEGMENT_CHARS = 300


class Embedder(Protocol):
    def embed(self, texts: list[str]) -> np.ndarray:
        """L2-normalised sentence embeddings, one row per text."""
        ...


@dataclass(frozen=True, slots=True)
class Intent:
    name: str
    category: str
    examples: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class IntentSet:
    version: str
    intents: tuple[Intent, ...]
    benign: tuple[str, ...]


def load_intents(path: Path) -> IntentSet:
    doc = yaml.safe_load(path.read_text())
    intents = tuple(
        Intent(str(name), str(spec["category"]), tuple(str(e) for e in spec["examples"]))
        for name, spec in doc["intents"].items()
    )
    if not intents or any(not i.examples for i in intents) or not doc.get("benign"):
        raise ValueError(f"{path}: every intent needs examples, and benign examples are required")
    return IntentSet(version=str(doc["version"]), intents=intents, benign=tuple(str(b) for b in doc["benign"]))


def segments(transcript: str) -> list[str]:
    """The whole transcript and its clauses (split at punctuation), deduplicated, longest first; bounded."""
    whole = " ".join(transcript.split())[:MAX_SEGMENT_CHARS]
    if not any(c.isalnum() for c in whole):
        return []
    # A word or two cut out of a longer sentence ("please", "the knife") has lost the meaning the sentence gave it.
    parts = [p.strip() for p in _CLAUSE.split(whole) if len(p.split()) >= MIN_CLAUSE_WORDS]
    found = [whole, *(p for p in parts if any(c.isalnum() for c in p))]
    unique = list(dict.fromkeys(found))
    return unique[:MAX_SEGMENTS]


class IntentIndex:
    """The example sentences, embedded once per process."""

    def __init__(self, intents: IntentSet, embedder: Embedder) -> None:
        self.intents = intents
        self.embedder = embedder
        self._labels = [(i, example) for i in intents.intents for example in i.examples]
        self._examples = embedder.embed([example for _, example in self._labels])
        self._benign = embedder.embed(list(intents.benign))

    def classify(self, transcript: str) -> IntentMatch | None:
        """The best-margin intent over the transcript's segments; None for an empty transcript."""
        parts = segments(transcript)
        if not parts:
            return None
        return self.best(parts, self.embedder.embed(parts))

    def best(self, parts: list[str], vectors: np.ndarray) -> IntentMatch:
        """Pure part of ``classify``: segments and their (normalised) embeddings -> the best-margin match."""
        to_examples = vectors @ self._examples.T  # (segments, intent examples)
        to_benign = vectors @ self._benign.T
        nearest = to_examples.argmax(axis=1)
        scores = to_examples.max(axis=1)
        margins = scores - to_benign.max(axis=1)
        # Largest margin first; ties (rare) go to the higher similarity.
        k = int(np.lexsort((-scores, -margins))[0])
        intent, example = self._labels[int(nearest[k])]
        return IntentMatch(
            intent=intent.name,
            category=intent.category,
            score=round(float(scores[k]), 4),
            margin=round(float(margins[k]), 4),
            example=example,
            benign_example=self.intents.benign[int(to_benign[k].argmax())],
            segment=parts[k],
        )


class MiniLmEmbedder:
    """A BERT-style sentence encoder read with transformers from a local directory: mean pooling over the
    attention mask, then L2 normalisation (the sentence-transformers recipe of all-MiniLM-L6-v2), on CPU."""

    def __init__(self, model_dir: Path, threads: int = 1, max_tokens: int = 64) -> None:
        import torch
        from transformers import AutoModel, AutoTokenizer

        torch.set_num_threads(threads)
        self.max_tokens = max_tokens
        self.tokenizer = AutoTokenizer.from_pretrained(str(model_dir))
        self.model = AutoModel.from_pretrained(str(model_dir)).eval()

    def embed(self, texts: list[str]) -> np.ndarray:
        import torch

        if not texts:
            return np.zeros((0, int(self.model.config.hidden_size)), np.float32)
        batch = self.tokenizer(texts, padding=True, truncation=True, max_length=self.max_tokens, return_tensors="pt")
        with torch.inference_mode():
            hidden = self.model(**batch).last_hidden_state
        mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
        pooled = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)
        vectors = torch.nn.functional.normalize(pooled, p=2, dim=1)
        return np.asarray(vectors.numpy(), dtype=np.float32)
