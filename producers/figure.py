"""A synthetic person that BlazePose detects: sample clips and pose tests use it instead of downloaded footage.

The figure is drawn in body coordinates (unit = body height, origin at the hip midpoint, y down) and rotated
as a whole, so ``angle_deg=90`` is a person lying on the floor. Limbs are drawn as shaded cylinders and the
head has a face, because the pose detector keys on a face-like head above a torso. ``phase`` animates a walk
cycle (legs and arms swing, the body bobs), which keeps consecutive frames of a clip different.

Drawing is supersampled and alpha-composited into the caller's canvas, so edges are anti-aliased without
blurring the background.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

_SUPERSAMPLE = 2
_SKIN = (120, 160, 215)  # BGR
_SHIRT = (60, 70, 170)
_TROUSERS = (90, 50, 30)
_HAIR = (30, 40, 55)
_SHOE = (25, 25, 25)

Point = tuple[float, float]

# Joint positions of the neutral pose in body units (x right, y down, origin at the hip midpoint).
_NEUTRAL: dict[str, Point] = {
    "neck": (0.0, -0.36),
    "l_shoulder": (-0.115, -0.31),
    "r_shoulder": (0.115, -0.31),
    "l_elbow": (-0.15, -0.15),
    "r_elbow": (0.15, -0.15),
    "l_wrist": (-0.16, 0.0),
    "r_wrist": (0.16, 0.0),
    "l_hip": (-0.06, 0.0),
    "r_hip": (0.06, 0.0),
    "l_knee": (-0.065, 0.23),
    "r_knee": (0.065, 0.23),
    "l_ankle": (-0.07, 0.45),
    "r_ankle": (0.07, 0.45),
}
_HEAD_CENTER = (0.0, -0.435)
_HEAD_AXES = (0.05, 0.065)
# Walk cycle amplitudes: small enough that the silhouette stays a plausible frontal person.
_LEG_SPREAD_DEG = 4.0
_THIGH_LIFT = 0.12
_SHIN_LIFT = 0.18
_ARM_SWING_DEG = 6.0
_BOB = 0.008


def _shade(color: tuple[int, int, int], factor: float) -> tuple[int, int, int]:
    return (min(255, int(color[0] * factor)), min(255, int(color[1] * factor)), min(255, int(color[2] * factor)))


def _rotate(v: Point, deg: float) -> Point:
    rad = math.radians(deg)
    c, s = math.cos(rad), math.sin(rad)
    return (v[0] * c - v[1] * s, v[0] * s + v[1] * c)


def _add(a: Point, b: Point) -> Point:
    return (a[0] + b[0], a[1] + b[1])


def _sub(a: Point, b: Point) -> Point:
    return (a[0] - b[0], a[1] - b[1])


def walk_pose(phase: float) -> dict[str, Point]:
    """Joint positions at ``phase`` of the walk cycle (0..1; 0 is the neutral pose).

    The figure faces the camera, so a step shows as foreshortening: the leg stepping forward gets shorter in
    the image (knee raised, foot lifted) while the other stays straight; arms swing opposite to the legs.
    """
    swing = math.sin(2 * math.pi * phase)
    joints = dict(_NEUTRAL)
    for side, sign in (("l", 1.0), ("r", -1.0)):
        lift = max(0.0, swing * sign)
        hip, knee, ankle = joints[f"{side}_hip"], _NEUTRAL[f"{side}_knee"], _NEUTRAL[f"{side}_ankle"]
        thigh = _rotate(_sub(knee, hip), sign * _LEG_SPREAD_DEG * lift)
        new_knee = _add(hip, (thigh[0], thigh[1] * (1.0 - _THIGH_LIFT * lift)))
        shin = _rotate(_sub(ankle, knee), -sign * _LEG_SPREAD_DEG * lift)
        joints[f"{side}_knee"] = new_knee
        joints[f"{side}_ankle"] = _add(new_knee, (shin[0], shin[1] * (1.0 - _SHIN_LIFT * lift)))
        arm = -_ARM_SWING_DEG * swing * sign
        shoulder = joints[f"{side}_shoulder"]
        elbow, wrist = _NEUTRAL[f"{side}_elbow"], _NEUTRAL[f"{side}_wrist"]
        new_elbow = _add(shoulder, _rotate(_sub(elbow, shoulder), arm))
        joints[f"{side}_elbow"] = new_elbow
        joints[f"{side}_wrist"] = _add(new_elbow, _rotate(_sub(wrist, elbow), arm))
    return joints


class _Canvas:
    """Maps body units to pixels of a supersampled layer and draws primitives there, with a coverage mask."""

    def __init__(self, shape: tuple[int, int], center_px: Point, unit_px: float, angle_deg: float) -> None:
        self.img = np.zeros((shape[0], shape[1], 3), np.uint8)
        self.mask = np.zeros(shape, np.uint8)
        self.cx, self.cy = center_px
        self.unit = unit_px
        rad = math.radians(angle_deg)
        self.cos, self.sin = math.cos(rad), math.sin(rad)
        self.angle = angle_deg

    def pt(self, p: Point) -> tuple[int, int]:
        x, y = p[0] * self.unit, p[1] * self.unit
        return (round(self.cx + x * self.cos - y * self.sin), round(self.cy + x * self.sin + y * self.cos))

    def px(self, length: float) -> int:
        return max(1, round(length * self.unit))

    def limb(self, a: Point, b: Point, width: float, color: tuple[int, int, int]) -> None:
        # Concentric strokes, lighter towards the middle, read as a lit cylinder.
        cv2.line(self.mask, self.pt(a), self.pt(b), (255,), self.px(width), cv2.LINE_8)
        for i, factor in enumerate((0.6, 0.8, 1.0, 1.15)):
            w = self.px(width * (1.0 - 0.22 * i))
            cv2.line(self.img, self.pt(a), self.pt(b), _shade(color, factor), w, cv2.LINE_8)

    def ellipse(self, c: Point, axes: Point, color: tuple[int, int, int]) -> None:
        center, size = self.pt(c), (self.px(axes[0]), self.px(axes[1]))
        cv2.ellipse(self.mask, center, size, self.angle, 0, 360, (255,), -1, cv2.LINE_8)
        cv2.ellipse(self.img, center, size, self.angle, 0, 360, color, -1, cv2.LINE_8)

    def poly(self, points: list[Point], color: tuple[int, int, int]) -> None:
        pts = [np.array([self.pt(p) for p in points], np.int32)]
        cv2.fillPoly(self.mask, pts, (255,), cv2.LINE_8)
        cv2.fillPoly(self.img, pts, color, cv2.LINE_8)


def _draw_body(c: _Canvas, j: dict[str, Point]) -> None:
    # Legs behind the torso: trousers to the ankle, then shoes.
    for side in ("l", "r"):
        c.limb(j[f"{side}_hip"], j[f"{side}_knee"], 0.075, _TROUSERS)
        c.limb(j[f"{side}_knee"], j[f"{side}_ankle"], 0.062, _TROUSERS)
        ax, ay = j[f"{side}_ankle"]
        toe = 0.05 if side == "r" else -0.05
        c.limb((ax, ay + 0.02), (ax + toe, ay + 0.035), 0.04, _SHOE)
    c.poly([j["l_shoulder"], j["r_shoulder"], (0.085, -0.02), (-0.085, -0.02)], _SHIRT)
    c.poly([(-0.085, -0.06), (0.085, -0.06), (0.09, 0.03), (-0.09, 0.03)], _TROUSERS)
    c.limb((0.0, -0.29), (0.0, -0.08), 0.11, _SHIRT)
    c.limb(j["neck"], (0.0, -0.3), 0.045, _SKIN)
    for side in ("l", "r"):
        c.limb(j[f"{side}_shoulder"], j[f"{side}_elbow"], 0.055, _SHIRT)
        c.limb(j[f"{side}_elbow"], j[f"{side}_wrist"], 0.042, _SKIN)
        wx, wy = j[f"{side}_wrist"]
        c.ellipse((wx, wy + 0.025), (0.018, 0.028), _shade(_SKIN, 0.95))


def _draw_head(c: _Canvas) -> None:
    hx, hy = _HEAD_CENTER
    ax, ay = _HEAD_AXES
    for side in (-1, 1):
        c.ellipse((hx + side * ax * 0.98, hy + 0.005), (0.01, 0.017), _shade(_SKIN, 0.85))
    c.ellipse(_HEAD_CENTER, _HEAD_AXES, _SKIN)
    c.ellipse((hx, hy - ay * 0.55), (ax * 1.02, ay * 0.5), _HAIR)
    c.ellipse((hx, hy - ay * 0.2), (ax * 0.9, ay * 0.25), _SKIN)
    for side in (-1, 1):
        ex, ey = hx + side * ax * 0.4, hy - ay * 0.05
        c.limb((ex - 0.01, ey - 0.016), (ex + 0.01, ey - 0.018), 0.005, _HAIR)
        c.ellipse((ex, ey), (0.011, 0.0065), (245, 245, 245))
        c.ellipse((ex, ey), (0.0055, 0.0055), (50, 40, 30))
    c.limb((hx, hy), (hx + 0.004, hy + ay * 0.3), 0.008, _shade(_SKIN, 0.8))
    c.limb((hx - 0.014, hy + ay * 0.55), (hx + 0.014, hy + ay * 0.55), 0.006, (80, 80, 160))


def render_person(
    canvas_bgr: np.ndarray, center_xy: Point, height_px: float, angle_deg: float = 0.0, phase: float = 0.0
) -> None:
    """Draws a person into ``canvas_bgr`` (uint8 BGR, modified in place).

    ``center_xy`` is the hip midpoint in pixels, ``height_px`` the body height (head to feet), ``angle_deg``
    the body rotation (0 upright, 90 lying with the head to the right, positive = clockwise) and ``phase`` the
    position in the walk cycle (0..1, periodic).
    """
    h, w = canvas_bgr.shape[:2]
    reach = 0.62 * height_px  # the head top is ~0.5 body units from the hip; margin for arms and shoes
    x0, x1 = max(0, int(center_xy[0] - reach)), min(w, int(center_xy[0] + reach) + 1)
    y0, y1 = max(0, int(center_xy[1] - reach)), min(h, int(center_xy[1] + reach) + 1)
    if x1 <= x0 or y1 <= y0:
        return
    s = _SUPERSAMPLE
    bob = _BOB * abs(math.sin(2 * math.pi * phase))
    layer = _Canvas(
        ((y1 - y0) * s, (x1 - x0) * s),
        ((center_xy[0] - x0) * s, (center_xy[1] - y0) * s),
        height_px * s,
        angle_deg,
    )
    layer.cy -= bob * height_px * s * math.cos(math.radians(angle_deg))
    _draw_body(layer, walk_pose(phase))
    _draw_head(layer)
    size = (x1 - x0, y1 - y0)
    # The layer is black outside the figure, i.e. colour premultiplied by coverage: composite accordingly.
    color = cv2.resize(layer.img, size, interpolation=cv2.INTER_AREA).astype(np.float32)
    alpha = cv2.resize(layer.mask, size, interpolation=cv2.INTER_AREA).astype(np.float32)[..., None] / 255.0
    roi = canvas_bgr[y0:y1, x0:x1]
    roi[:] = np.clip(roi.astype(np.float32) * (1.0 - alpha) + color, 0, 255).astype(np.uint8)


def room_background(width: int, height: int, horizon: float = 0.62) -> np.ndarray:
    """A plain room: a lit wall over a darker floor, a skirting board and a door, so frames are not flat."""
    img = np.empty((height, width, 3), np.uint8)
    line = int(height * horizon)
    wall = np.linspace(215, 185, line, dtype=np.float32)[:, None]
    floor = np.linspace(150, 120, height - line, dtype=np.float32)[:, None]
    img[:line] = np.stack([wall * 0.95, wall * 0.97, wall], axis=-1).astype(np.uint8)
    img[line:] = np.stack([floor * 0.8, floor * 0.9, floor], axis=-1).astype(np.uint8)
    cv2.rectangle(img, (0, line - max(2, height // 80)), (width, line), (150, 155, 160), -1)
    door_w, door_h = width // 9, int(line * 0.7)
    door_x = int(width * 0.82)
    cv2.rectangle(img, (door_x, line - door_h), (door_x + door_w, line), (95, 120, 150), -1)
    cv2.rectangle(img, (door_x, line - door_h), (door_x + door_w, line), (70, 90, 115), max(1, width // 320))
    cv2.circle(img, (door_x + door_w - door_w // 6, line - door_h // 2), max(2, width // 200), (60, 160, 200), -1)
    return img


def add_sensor_noise(img: np.ndarray, seed: int, sigma: float = 3.0) -> np.ndarray:
    """Mild deterministic noise: a perfectly flat image is unlike any camera frame."""
    noise = np.random.default_rng(seed).normal(0.0, sigma, img.shape)
    return np.clip(img.astype(np.float32) + noise, 0, 255).astype(np.uint8)


def person_frame(
    width: int = 640,
    height: int = 480,
    *,
    angle_deg: float = 0.0,
    center: Point = (0.5, 0.5),
    scale: float = 0.8,
    phase: float = 0.0,
    seed: int = 0,
) -> np.ndarray:
    """A whole BGR frame: the room with one person. ``center`` is the hip midpoint in fractions of the frame,
    ``scale`` the body height as a fraction of the frame height."""
    img = room_background(width, height)
    render_person(img, (center[0] * width, center[1] * height), scale * height, angle_deg, phase)
    return add_sensor_noise(img, seed)
