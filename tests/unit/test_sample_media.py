"""The sample clips: deterministic, with the ground truth they claim, and a person BlazePose really sees."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from producers.figure import person_frame, render_person, room_background, walk_pose
from producers.samples import SampleParams, fall_timeline, generate_samples

pytestmark = pytest.mark.slow

SMALL = SampleParams(
    width=320, height=180, fps=5, fall_seconds=6.0, benign_seconds=2.0, silent_seconds=1.0, walk_end_s=2.0
)


@pytest.fixture(scope="module")
def pose():  # type: ignore[no-untyped-def]
    import mediapipe as mp

    with mp.solutions.pose.Pose(static_image_mode=True, model_complexity=1) as detector:
        yield detector


def torso_angle(pose, bgr: np.ndarray) -> float | None:  # type: ignore[no-untyped-def]
    result = pose.process(np.ascontiguousarray(bgr[:, :, ::-1]))
    if result.pose_landmarks is None:
        return None
    lm = result.pose_landmarks.landmark
    h, w = bgr.shape[:2]
    sx, sy = (lm[11].x + lm[12].x) / 2 * w, (lm[11].y + lm[12].y) / 2 * h
    hx, hy = (lm[23].x + lm[24].x) / 2 * w, (lm[23].y + lm[24].y) / 2 * h
    return math.degrees(math.atan2(abs(sx - hx), abs(sy - hy)))


@pytest.mark.parametrize("phase", [0.0, 0.25, 0.5, 0.75])
def test_blazepose_sees_the_figure_upright_and_lying(pose, phase: float) -> None:  # type: ignore[no-untyped-def]
    upright = torso_angle(pose, person_frame(640, 360, center=(0.4, 0.55), scale=0.75, phase=phase))
    lying = torso_angle(pose, person_frame(640, 360, angle_deg=90, center=(0.45, 0.8), scale=0.55, phase=phase))
    assert upright is not None and upright < 25
    assert lying is not None and lying > 60


def test_render_person_draws_in_place_and_clips_at_the_border() -> None:
    canvas = room_background(200, 120)
    before = canvas.copy()
    render_person(canvas, (100.0, 60.0), 100.0, 0.0, 0.3)
    assert (canvas != before).any()
    edge = room_background(200, 120)
    render_person(edge, (195.0, 115.0), 100.0, 90.0, 0.0)  # mostly outside: no error, partial figure
    render_person(edge, (-500.0, -500.0), 100.0, 0.0, 0.0)  # fully outside: nothing drawn


def test_walk_cycle_is_periodic_and_moves_the_legs() -> None:
    start, end = walk_pose(0.0), walk_pose(1.0)
    assert all(start[j] == pytest.approx(end[j]) for j in start)
    assert walk_pose(0.25)["l_ankle"] != walk_pose(0.75)["l_ankle"]


def test_fall_timeline_topples_to_lying() -> None:
    assert fall_timeline(1.0, 2.0, 0.8, 16 / 9).angle_deg == 0
    assert 0 < fall_timeline(2.4, 2.0, 0.8, 16 / 9).angle_deg < 90
    assert fall_timeline(5.0, 2.0, 0.8, 16 / 9).angle_deg == 90


def test_generated_samples_are_deterministic_with_ground_truth(tmp_path: Path, pose) -> None:  # type: ignore[no-untyped-def]
    import av

    first = generate_samples(tmp_path / "a", SMALL)
    second = generate_samples(tmp_path / "b", SMALL)
    assert [c.sha256 for c in first.clips] == [c.sha256 for c in second.clips]
    assert generate_samples(tmp_path / "a", SMALL).fall.sha256 == first.fall.sha256  # cached, not re-rendered
    speech = first.fall.first("speech")
    assert speech is not None and speech.start_s == pytest.approx(SMALL.walk_end_s + SMALL.fall_duration_s + 0.5)
    assert first.fall.first("fall").start_s == SMALL.walk_end_s  # type: ignore[union-attr]
    for clip, audio in ((first.fall, True), (first.benign, True), (first.silent, False)):
        with av.open(str(clip.path)) as container:
            assert len(container.streams.video) == 1
            assert (len(container.streams.audio) == 1) is audio
            assert container.duration / 1e6 == pytest.approx(clip.duration_s, abs=0.1)
    # the person is upright before the fall and lying at the end
    with av.open(str(first.fall.path)) as container:
        frames = {round(f.time, 1): f.to_ndarray(format="bgr24") for f in container.decode(video=0)}
    assert torso_angle(pose, frames[1.0]) < 25  # type: ignore[operator]
    assert torso_angle(pose, frames[5.0]) > 60  # type: ignore[operator]
