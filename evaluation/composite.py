"""Composites of a real person falling onto real backgrounds, and the negatives made from real footage.

No registry ships real fall footage, so falls are made from real pixels: the man of Pose2Sim's demo (cam01) is
cut out of his frames with the pose landmarker's person mask, pasted standing on a real background (OpenCV's
campus walk, Sports2D's park scene with a woman walking past), then toppled about his feet (the angle grows with
the square of time, like a falling body) and left lying still. Variations are the hard cases of the issue: a
second person close by, an occluder hiding the fall (a detector dropout), a head-down ending, a person cut by the
frame edge. The negatives are the untouched registry clips plus a frozen and a shaking camera made from them.

Everything is deterministic for given inputs (fixed seeds, single-threaded encoder); ``BUILDER_VERSION`` and the
inputs' checksums decide whether a cached set is rebuilt.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from evaluation.footage import ASSETS, fetch_all, sha256_of

#: Bump when a recipe, the cut-out or the rendering changes: cached composites are then rebuilt.
BUILDER_VERSION = 1
MANIFEST = "composites.json"
_CUTOUT_FRAMES = 30  # Pose2Sim cam01 at 60 fps: the first half second, where the man stands upright
_MASK_THRESHOLD = 0.5

Progress = Callable[[str], None]


@dataclass(frozen=True, slots=True)
class Recipe:
    """One composite: a background, where the man stands and how he falls (times in seconds of the clip)."""

    background: str  # "vtest" | "sports2d" | "vtest-still" | "vtest-shake"
    bg_start_s: float  # where in the background footage the clip starts
    duration_s: float
    fps: int
    person: bool = True
    feet: tuple[float, float] = (0.3, 0.94)  # feet position, fractions of the frame
    height: float = 0.42  # standing height, fraction of frame height
    fall_at_s: float | None = 4.0
    fall_s: float = 0.7
    fall_deg: float = 90.0  # final angle; > 90 ends head-down
    direction: int = 1  # +1 topples to the right, -1 to the left
    occlude: tuple[float, float] | None = None  # an occluder hides the man over this time span
    shake_px: int = 0
    seed: int = 0


RECIPES: dict[str, Recipe] = {
    # (a) plain fall on the campus lawn; people walk on the path behind.
    "fall_plain": Recipe("vtest", 20.0, 14.0, 25, feet=(0.28, 0.88)),
    # (b) fall while a real woman walks past him (Sports2D, played forward then backward) and a man waves on a box.
    "fall_near_walker": Recipe("sports2d", 0.0, 12.0, 30, feet=(0.45, 0.9), height=0.4, fall_at_s=3.0),
    # (c) a board hides him from just after the fall starts for 3 s (detector dropout); found lying.
    "fall_occluded": Recipe("vtest", 40.0, 14.0, 25, feet=(0.3, 0.88), occlude=(4.25, 7.25)),
    # (d) tumbles head-down (torso ends past 120 degrees from vertical).
    "fall_head_down": Recipe("vtest", 0.0, 14.0, 25, feet=(0.5, 0.62), height=0.36, fall_deg=150.0, direction=-1),
    # (e) a third of him is outside the frame (right edge) while he stands; he falls into the picture.
    "fall_edge": Recipe("vtest", 25.0, 14.0, 25, feet=(0.985, 0.88), direction=-1),
    # Negatives made from the same material.
    "stand_no_fall": Recipe("vtest", 55.0, 10.0, 25, feet=(0.28, 0.88), fall_at_s=None),
    "frozen_camera": Recipe("vtest-still", 33.0, 20.0, 25, person=False, fall_at_s=None),
    "shaking_camera": Recipe("vtest-shake", 10.0, 30.0, 25, person=False, fall_at_s=None, shake_px=15, seed=13),
}

#: Registry clips used as they are (no re-encoding): name -> asset.
UNTOUCHED: dict[str, str] = {"vtest_crowd": "vtest.avi", "sports2d_jump": "sports2d-demo.mp4"}


@dataclass(frozen=True, slots=True)
class Cutout:
    """RGBA frames of the man (cropped to his mask) and his feet point in each crop, in pixels."""

    frames: list[np.ndarray]
    feet: list[tuple[float, float]]


# --- geometry (pure) ---------------------------------------------------------------------------------------------


def fall_angle(recipe: Recipe, t: float) -> float:
    """Signed angle of the man from vertical at ``t`` (0 while standing, ``fall_deg`` once down)."""
    if recipe.fall_at_s is None or t < recipe.fall_at_s:
        return 0.0
    u = min(1.0, (t - recipe.fall_at_s) / recipe.fall_s)
    return recipe.direction * recipe.fall_deg * u * u


def pingpong(t: float, fps: float, count: int) -> int:
    """Index of a loop played forward then backward (no jump at the turn) at ``fps``."""
    if count <= 1:
        return 0
    period = 2 * (count - 1)
    k = int(t * fps) % period
    return k if k < count else period - k


def place_matrix(
    feet_src: tuple[float, float], feet_dst: tuple[float, float], scale: float, angle: float
) -> np.ndarray:
    """Affine map: scale about the source feet, rotate by ``angle`` (degrees, clockwise on screen), move the feet
    to ``feet_dst``."""
    rad = math.radians(angle)
    c, s = math.cos(rad) * scale, math.sin(rad) * scale
    # Image y points down, so this rotation is clockwise on screen for a positive angle.
    fx, fy = feet_src
    dx, dy = feet_dst
    return np.array([[c, -s, dx - c * fx + s * fy], [s, c, dy - s * fx - c * fy]], dtype=np.float64)


# --- cut-out ------------------------------------------------------------------------------------------------------


def cut_out_person(video: Path, task_file: Path, frames: int = _CUTOUT_FRAMES) -> Cutout:
    """The largest person of the first ``frames`` frames of ``video``, masked by the pose landmarker."""
    import av
    import mediapipe as mp
    from mediapipe.tasks.python import BaseOptions, vision

    options = vision.PoseLandmarkerOptions(
        base_options=BaseOptions(model_asset_path=str(task_file)),
        running_mode=vision.RunningMode.IMAGE,
        num_poses=1,
        output_segmentation_masks=True,
    )
    out: list[np.ndarray] = []
    feet: list[tuple[float, float]] = []
    with vision.PoseLandmarker.create_from_options(options) as landmarker, av.open(str(video)) as container:
        for i, frame in enumerate(container.decode(video=0)):
            if i >= frames:
                break
            rgb = np.ascontiguousarray(frame.to_ndarray(format="rgb24"))
            result = landmarker.detect(mp.Image(image_format=mp.ImageFormat.SRGB, data=rgb))
            if not result.segmentation_masks:
                continue
            mask = result.segmentation_masks[0].numpy_view()
            crop, foot = _crop(rgb, mask)
            out.append(crop)
            feet.append(foot)
    if not out:
        raise RuntimeError(f"no person found in the first {frames} frames of {video}")
    return Cutout(out, feet)


def _crop(rgb: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, tuple[float, float]]:
    import cv2

    solid = (mask > _MASK_THRESHOLD).astype(np.uint8)
    # Keep the largest blob: stray mask pixels elsewhere would widen the crop and move the feet.
    count, labels, stats, _ = cv2.connectedComponentsWithStats(solid)
    if count > 1:
        biggest = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
        solid = (labels == biggest).astype(np.uint8)
    ys, xs = np.nonzero(solid)
    x0, x1, y0, y1 = xs.min(), xs.max() + 1, ys.min(), ys.max() + 1
    alpha = cv2.GaussianBlur(solid.astype(np.float32), (5, 5), 0)[y0:y1, x0:x1]  # soft edge, no halo
    rgba = np.dstack([rgb[y0:y1, x0:x1], (alpha * 255).astype(np.uint8)])
    bottom = ys >= y1 - max(3, (y1 - y0) // 40)
    foot = (float(xs[bottom].mean() - x0), float(y1 - y0))
    return rgba, foot


# --- backgrounds --------------------------------------------------------------------------------------------------


class Background:
    """Frames of a background clip by time: decoded once for the span a recipe needs, resized to ``size``."""

    def __init__(self, video: Path, start_s: float, seconds: float, size: tuple[int, int]) -> None:
        import av
        import cv2

        self.frames: list[np.ndarray] = []
        with av.open(str(video)) as container:
            stream = container.streams.video[0]
            self.fps = float(stream.average_rate or 25)
            for frame in container.decode(stream):
                t = float(frame.time or 0.0)
                if t < start_s - 1e-6:
                    continue
                if t >= start_s + seconds:
                    break
                bgr: np.ndarray = frame.to_ndarray(format="bgr24")
                if (bgr.shape[1], bgr.shape[0]) != size:
                    bgr = np.asarray(cv2.resize(bgr, size, interpolation=cv2.INTER_AREA))
                self.frames.append(bgr)

    def at(self, t: float, *, bounce: bool) -> np.ndarray:
        if bounce:
            return self.frames[pingpong(t, self.fps, len(self.frames))]
        return self.frames[min(int(t * self.fps), len(self.frames) - 1)]


def _shift(img: np.ndarray, dx: int, dy: int) -> np.ndarray:
    import cv2

    matrix = np.array([[1.0, 0.0, dx], [0.0, 1.0, dy]])
    return cv2.warpAffine(img, matrix, (img.shape[1], img.shape[0]), borderMode=cv2.BORDER_REFLECT)


def _occluder(background: np.ndarray, width: int, height: int) -> np.ndarray:
    """A board made of real pixels: the campus building's brick wall from the top of the background, darkened."""
    import cv2

    h = background.shape[0]
    wall = background[: max(8, h // 12), background.shape[1] // 4 : background.shape[1] // 2]
    return (cv2.resize(wall, (width, height), interpolation=cv2.INTER_LINEAR) * 0.7).astype(np.uint8)


# --- rendering ----------------------------------------------------------------------------------------------------


def _paste(canvas: np.ndarray, rgba: np.ndarray, matrix: np.ndarray) -> None:
    import cv2

    size = (canvas.shape[1], canvas.shape[0])
    warped = cv2.warpAffine(rgba, matrix, size, flags=cv2.INTER_LINEAR, borderValue=(0, 0, 0, 0))
    alpha = warped[:, :, 3:4].astype(np.float32) / 255.0
    person = cv2.cvtColor(warped[:, :, :3], cv2.COLOR_RGB2BGR).astype(np.float32)
    canvas[:] = (canvas * (1.0 - alpha) + person * alpha).astype(np.uint8)


def render(
    recipe: Recipe, background: Background, cutout: Cutout | None, size: tuple[int, int]
) -> Iterator[np.ndarray]:
    width, height = size
    rng = np.random.default_rng(recipe.seed)
    bounce = recipe.background == "sports2d"
    still = background.frames[0] if recipe.background == "vtest-still" else None
    board = _occluder(background.frames[0], int(0.5 * height), int(0.5 * height)) if recipe.occlude else None
    fall_index = 0
    for i in range(round(recipe.duration_s * recipe.fps)):
        t = i / recipe.fps
        img = (still if still is not None else background.at(t, bounce=bounce)).copy()
        if recipe.shake_px:
            dx, dy = (int(v) for v in rng.integers(-recipe.shake_px, recipe.shake_px + 1, 2))
            img = _shift(img, dx, dy)
        if recipe.person and cutout is not None:
            angle = fall_angle(recipe, t)
            # He stands in his real, slightly moving frames; the fall uses the frame he was in when it began.
            if angle == 0.0:
                fall_index = pingpong(t, 60.0, len(cutout.frames))
            rgba, foot = cutout.frames[fall_index], cutout.feet[fall_index]
            scale = recipe.height * height / rgba.shape[0]
            feet = (recipe.feet[0] * width, recipe.feet[1] * height)
            _paste(img, rgba, place_matrix(foot, feet, scale, angle))
        if board is not None and recipe.occlude and recipe.occlude[0] <= t < recipe.occlude[1]:
            bh, bw = board.shape[:2]
            x = max(0, min(width - bw, int(recipe.feet[0] * width - bw / 2 + recipe.direction * 0.2 * height)))
            y = max(0, int(recipe.feet[1] * height) - bh)
            img[y : y + bh, x : x + bw] = board[: height - y, : width - x]
        yield img


# --- the set ------------------------------------------------------------------------------------------------------


def _size(recipe: Recipe) -> tuple[int, int]:
    return (960, 540) if recipe.background == "sports2d" else (768, 576)


def _background(recipe: Recipe, footage: dict[str, Path], size: tuple[int, int]) -> Background:
    source = footage["sports2d-demo.mp4"] if recipe.background == "sports2d" else footage["vtest.avi"]
    # Sports2D is played forward and back over its first 5.3 s (the woman's walk, before the man jumps).
    seconds = 5.3 if recipe.background == "sports2d" else (0.2 if recipe.background == "vtest-still" else 0)
    return Background(source, recipe.bg_start_s, seconds or recipe.duration_s, size)


def inputs_key(footage: dict[str, Path], task_file: Path) -> dict[str, object]:
    """What the composites depend on: the builder, the recipes, the footage and the mask model."""
    return {
        "builder_version": BUILDER_VERSION,
        "recipes": {name: asdict(r) for name, r in RECIPES.items()},
        "footage": {name: ASSETS[name].sha256 for name in sorted(footage)},
        "mask_model": sha256_of(task_file),
    }


def build_set(
    out_dir: Path, task_file: Path, progress: Progress = lambda _: None, *, force: bool = False
) -> dict[str, Path]:
    """Clip name -> file: the untouched registry clips and the composites (reused when their inputs did not
    change). Fetches the footage first when it is not cached."""
    from producers.samples import write_clip

    footage = fetch_all(progress=progress)
    clips = {name: footage[asset] for name, asset in UNTOUCHED.items()}
    key = inputs_key(footage, task_file)
    manifest = out_dir / MANIFEST
    wanted = {name: out_dir / f"{name}.mp4" for name in RECIPES}
    if not force and _cached(manifest, key, wanted):
        progress(f"composites are up to date in {out_dir}")
        return {**clips, **wanted}
    out_dir.mkdir(parents=True, exist_ok=True)
    progress("cutting the man out of Pose2Sim cam01 (pose landmarker person mask)")
    cutout = cut_out_person(footage["pose2sim-cam01.mp4"], task_file)
    checksums: dict[str, str] = {}
    for name, recipe in RECIPES.items():
        progress(f"building {name} ({recipe.duration_s:g} s, {recipe.background})")
        size = _size(recipe)
        frames = render(recipe, _background(recipe, footage, size), cutout, size)
        write_clip(wanted[name], frames, fps=recipe.fps, width=size[0], height=size[1])
        checksums[name] = sha256_of(wanted[name])
    manifest.write_text(json.dumps({"inputs": key, "clips": checksums}, indent=2) + "\n")
    return {**clips, **wanted}


def _cached(manifest: Path, key: dict[str, object], wanted: dict[str, Path]) -> bool:
    try:
        data = json.loads(manifest.read_text())
    except (OSError, ValueError):
        return False
    if data.get("inputs") != json.loads(json.dumps(key)):
        return False
    sums = data.get("clips", {})
    return all(path.is_file() and sums.get(name) == sha256_of(path) for name, path in wanted.items())
