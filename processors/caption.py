"""Caption: BLIP image captioning of an anomaly candidate's best frame (never of every frame)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import numpy as np

from processors.imageprep import PixelSpec, to_pixels
from schemas.records import ModelInfo

_SPACES = re.compile(r"\s+")
MAX_CAPTION_CHARS = 300


def clean_caption(text: str) -> str:
    """Single-spaced, bounded text; BLIP sometimes repeats itself until the token limit."""
    text = _SPACES.sub(" ", text).strip()
    return text[:MAX_CAPTION_CHARS]


class BlipCaptioner:
    def __init__(
        self,
        info: ModelInfo,
        model: Any,
        tokenizer: Any,
        pixel_spec: PixelSpec,
        max_tokens: int,
        *,
        device: str = "cpu",
    ) -> None:
        self.info = info
        self.device = device
        self.model = model
        self.tokenizer = tokenizer
        self.pixel_spec = pixel_spec
        self.max_tokens = max_tokens

    def prepare(self, rgb: np.ndarray) -> np.ndarray:
        """One frame as model pixels (3, H, W), so a batch never holds full frames."""
        pixels: np.ndarray = to_pixels([rgb], self.pixel_spec)[0]
        return pixels

    def caption_pixels(self, batch: Sequence[np.ndarray]) -> list[str]:
        import torch

        pixels = torch.from_numpy(np.ascontiguousarray(np.stack(batch))).to(self.device)
        with torch.inference_mode():
            ids = self.model.generate(pixel_values=pixels, max_new_tokens=self.max_tokens, num_beams=1, do_sample=False)
        return [clean_caption(t) for t in self.tokenizer.batch_decode(ids, skip_special_tokens=True)]


def score(model: BlipCaptioner, rgb: np.ndarray) -> str:
    """The caption of one RGB frame."""
    return model.caption_pixels([model.prepare(rgb)])[0]
