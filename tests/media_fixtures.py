"""Media files only tests use: a tiny clip whose every frame differs, with a tone as its sound."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np

from producers.samples import AUDIO_RATE, write_clip


def tone_clip(
    path: Path, seconds: float, *, fps: int = 10, width: int = 160, height: int = 120, audio: bool = True, seed: int = 0
) -> Path:
    """A tiny clip: every frame differs (moving bar + noise), a 440 Hz tone as audio."""
    rng = np.random.default_rng(seed)

    def frames() -> Iterator[np.ndarray]:
        for i in range(round(seconds * fps)):
            img = rng.integers(0, 40, (height, width, 3), dtype=np.uint8)
            x = (i * 7) % width
            img[:, x : x + max(2, width // 16)] = (40, 200, 240)
            yield img

    track = None
    if audio:
        t = np.arange(round(seconds * AUDIO_RATE)) / AUDIO_RATE
        track = 0.3 * np.sin(2 * np.pi * 440 * t)
    write_clip(path, frames(), fps=fps, width=width, height=height, audio=track)
    return path
