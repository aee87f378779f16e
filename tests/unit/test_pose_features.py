"""Pose features from landmarks (pure), and BlazePose on the synthetic person (slow: loads MediaPipe)."""

from __future__ import annotations

import math

import pytest

from processors.pose import L_HIP, L_SHOULDER, N_LANDMARKS, R_HIP, R_SHOULDER, features, torso_angle
from schemas.records import Keypoint


def _body(shoulder: tuple[float, float], hip: tuple[float, float], spread: float = 0.05) -> list[Keypoint]:
    """33 landmarks around a shoulder-mid/hip-mid pair (others on the torso line)."""
    kps = [Keypoint(x=(shoulder[0] + hip[0]) / 2, y=(shoulder[1] + hip[1]) / 2, z=0.0, visibility=0.9)] * N_LANDMARKS
    kps = list(kps)
    kps[L_SHOULDER] = Keypoint(shoulder[0] - spread, shoulder[1], 0.0, 0.9)
    kps[R_SHOULDER] = Keypoint(shoulder[0] + spread, shoulder[1], 0.0, 0.9)
    kps[L_HIP] = Keypoint(hip[0] - spread, hip[1], 0.0, 0.9)
    kps[R_HIP] = Keypoint(hip[0] + spread, hip[1], 0.0, 0.9)
    return kps


def test_upright_person_has_zero_torso_angle() -> None:
    f = features(_body((0.5, 0.3), (0.5, 0.6)), 640, 480)
    assert f.person_present
    assert f.torso_angle_deg == pytest.approx(0.0, abs=1e-6)
    assert f.hip_height == pytest.approx(0.4)
    assert f.mean_visibility == pytest.approx(0.9)
    assert len(f.keypoints) == N_LANDMARKS


def test_lying_person_is_horizontal_either_way() -> None:
    assert features(_body((0.3, 0.8), (0.6, 0.8)), 640, 480).torso_angle_deg == pytest.approx(90.0)
    assert features(_body((0.7, 0.8), (0.4, 0.8)), 640, 480).torso_angle_deg == pytest.approx(90.0)


def test_head_down_is_180() -> None:
    assert features(_body((0.5, 0.7), (0.5, 0.4)), 640, 480).torso_angle_deg == pytest.approx(180.0)


def test_angle_is_measured_in_pixels_not_normalised_units() -> None:
    # 0.1 right and 0.1 up in normalised units is 64 px x 48 px on a 640x480 frame: 53.13 deg from vertical.
    kps = _body((0.6, 0.4), (0.5, 0.5), spread=0.0)
    assert torso_angle(kps, 640, 480) == pytest.approx(math.degrees(math.atan2(64, 48)))


def test_bbox_aspect_wide_when_lying() -> None:
    standing = features(_body((0.5, 0.2), (0.5, 0.6)), 640, 480)
    lying = features(_body((0.2, 0.78), (0.7, 0.82)), 640, 480)
    assert standing.bbox_aspect is not None and standing.bbox_aspect < 1
    assert lying.bbox_aspect is not None and lying.bbox_aspect > 1


def test_no_landmarks_means_no_person() -> None:
    for empty in (None, [], _body((0.5, 0.3), (0.5, 0.6))[:10]):
        f = features(empty, 640, 480)
        assert not f.person_present
        assert f.keypoints == [] and f.torso_angle_deg is None and f.mean_visibility == 0.0


@pytest.fixture(scope="module")
def blazepose():  # type: ignore[no-untyped-def]
    from processors.loaders import load_pose
    from processors.settings import ProcessorSettings

    model = load_pose(ProcessorSettings())
    yield model
    model.close()


@pytest.mark.slow
@pytest.mark.parametrize(
    ("angle", "center", "low", "high"), [(0.0, (0.5, 0.5), 0.0, 20.0), (90.0, (0.5, 0.75), 60.0, 120.0)]
)
def test_blazepose_on_the_synthetic_person(blazepose, angle, center, low, high) -> None:  # type: ignore[no-untyped-def]
    from processors.pose import score
    from producers.figure import person_frame

    bgr = person_frame(640, 480, angle_deg=angle, center=center, scale=0.8 if angle == 0 else 0.6)
    (f,) = score(blazepose, bgr[:, :, ::-1])
    assert f.person_present
    assert f.torso_angle_deg is not None and low <= f.torso_angle_deg <= high
    assert f.mean_visibility > 0.5


@pytest.mark.slow
def test_every_person_in_the_frame_largest_first(blazepose) -> None:  # type: ignore[no-untyped-def]
    from processors.pose import score
    from producers.figure import render_person, room_background

    bgr = room_background(640, 480)
    render_person(bgr, (180, 300), 280, 0.0)  # smaller, left
    render_person(bgr, (450, 320), 320, 0.0, phase=0.5)  # larger, right
    people = score(blazepose, bgr[:, :, ::-1])
    assert len(people) == 2
    assert people[0].area > people[1].area
    assert people[0].box is not None and people[0].box[0] > 0.5  # the larger one is on the right
    assert all(p.torso_angle_deg is not None and p.torso_angle_deg < 20 for p in people)


@pytest.mark.slow
def test_blazepose_on_an_empty_room(blazepose) -> None:  # type: ignore[no-untyped-def]
    from processors.pose import score
    from producers.figure import add_sensor_noise, room_background

    assert score(blazepose, add_sensor_noise(room_background(640, 480), seed=1)[:, :, ::-1]) == []
