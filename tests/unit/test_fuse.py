"""The fusion rules as a pure function over fixed-timestamp windows."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest

from anomaly_core.errors import ValidationError
from bench.fusion_scenarios import audio, person, pose, scene
from fusion_app.fuse import calibrate, calibrate_ratio, fuse
from fusion_app.observe import Where, observe
from fusion_app.offline import with_offsets
from fusion_app.rules import load_rules
from fusion_app.window import PoseObs, SceneObs, Window, window_of
from schemas.records import AnomalyKind, Severity

T0 = 1_700_000_000_000
CAM = "cam-1"
RULES = load_rules()


def window(records: list, start: int = T0, size: int = 4000) -> Window:
    observed = [observe(r, w, RULES)[0] for r, w in with_offsets(records)]
    return window_of(CAM, start, start + size, observed)  # type: ignore[arg-type]


def standing(n: int = 40, every: int = 100) -> list:
    return [pose(CAM, T0 + i * every, 0.55, 4.0) for i in range(n)]


def test_calibration_puts_every_threshold_at_one_half():
    assert calibrate(0.8, 0.8) == pytest.approx(0.5)
    assert calibrate(0.4, 0.8) == pytest.approx(0.25)
    assert calibrate(1.0, 0.8) == pytest.approx(1.0)
    assert calibrate_ratio(1.0) == pytest.approx(0.5)
    assert calibrate_ratio(3.0) == 1.0


def test_an_ordinary_window_raises_nothing():
    d = fuse(window(standing() + [scene(CAM, T0 + 500 * i, 0.1) for i in range(8)] + [audio(CAM, T0)]), RULES)
    assert not d.alert and not d.hold
    assert d.kinds == () and d.evidence == ()
    assert d.rules_version == RULES.version


def test_emergency_phrase_alone_raises_an_alert():
    shout = audio(CAM, T0 + 1000, "help me", (("help me", "help", 0.93),))
    d = fuse(window([*standing(), shout]), RULES)
    assert d.alert
    assert d.kinds == (AnomalyKind.DISTRESS_SPEECH,)
    assert d.severity == Severity.HIGH
    assert d.transcript == "help me"
    assert [o.source.topic for o in d.evidence] == ["scores.audio.v1"]
    assert "help me" in d.reasons[0].text


def test_weak_phrase_alone_does_not_alert():
    d = fuse(window([*standing(), audio(CAM, T0 + 1000, "hello", (("help", "help", 0.3),))]), RULES)
    assert not d.alert


def test_high_scene_probability_alone_needs_more_than_one_frame():
    one = fuse(window([scene(CAM, T0 + 500, 0.95, "fire"), scene(CAM, T0 + 1000, 0.1)]), RULES)
    assert not one.alert
    two = fuse(window([scene(CAM, T0 + 500, 0.95, "fire"), scene(CAM, T0 + 1000, 0.9, "fire")]), RULES)
    assert two.alert
    assert two.kinds == (AnomalyKind.FIRE_SMOKE,)
    assert two.best_frame is not None and two.best_frame.key.endswith(f"{T0 + 500}.jpeg")


def test_scene_label_decides_the_kind():
    d = fuse(window([scene(CAM, T0 + 500 * i, 0.9, "people fighting") for i in range(3)]), RULES)
    assert d.kinds == (AnomalyKind.VIOLENCE,)
    d = fuse(window([scene(CAM, T0 + 500 * i, 0.9, "something odd") for i in range(3)]), RULES)
    assert d.kinds == (AnomalyKind.SCENE_ANOMALY,)


def test_pose_and_scene_agreement_raises_an_alert_and_severity():
    lying = [pose(CAM, T0 + i * 100, 0.85, 80.0) for i in range(5)]  # 0.4 s: too short for person-down alone
    moderate = [scene(CAM, T0 + 200, 0.62, "a person lying on the floor")]
    assert not fuse(window(lying), RULES).alert
    assert not fuse(window(moderate), RULES).alert
    d = fuse(window(lying + moderate), RULES)
    assert d.alert
    assert d.kinds == (AnomalyKind.PERSON_DOWN,)
    assert d.severity == Severity.HIGH  # MEDIUM raised one level: two modalities agree
    assert {o.source.topic for o in d.evidence} == {"scores.pose.v1", "scores.scene.v1"}


def test_audio_cue_lowers_the_visual_threshold():
    frames = [scene(CAM, T0 + 500 * i, 0.7, "smoke") for i in range(4)]
    assert not fuse(window(frames), RULES).alert
    d = fuse(window([*frames, audio(CAM, T0, loud=True)]), RULES)
    assert d.alert
    assert d.kinds == (AnomalyKind.FIRE_SMOKE, AnomalyKind.LOUD_NOISE)
    assert any("lowered" in r.text for r in d.reasons)


def test_missing_audio_is_neutral():
    frames = [scene(CAM, T0 + 500 * i, 0.85, "smoke") for i in range(4)]
    without = fuse(window(frames), RULES)
    silent = fuse(window([*frames, audio(CAM, T0), audio(CAM, T0 + 2000)]), RULES)
    assert without.alert and silent.alert
    assert without.score == silent.score and without.kinds == silent.kinds


def test_loud_noise_alone_is_only_a_cue_unless_the_rules_say_otherwise():
    bang = [audio(CAM, T0, loud=True)]
    assert not fuse(window(bang), RULES).alert
    loud_rules = RULES.model_copy(update={"audio": RULES.audio.model_copy(update={"loud_noise_alone": True})})
    d = fuse(window(bang), loud_rules)
    assert d.alert and d.kinds == (AnomalyKind.LOUD_NOISE,)


@pytest.mark.parametrize("every_ms", [1000, 200])
def test_fall_is_upright_then_lying_lower_that_persists(every_ms: int):
    # At the deployment's 1 fps as well as at the motion gate's 5 fps.
    poses = [pose(CAM, T0 + t, 0.45, 4.0) for t in range(0, 1000, every_ms)]
    poses += [pose(CAM, T0 + t, 0.85, 85.0) for t in range(1000, 3000, every_ms)]
    d = fuse(window(poses), RULES)
    assert d.alert
    assert d.kinds[0] == AnomalyKind.FALL
    assert "upright, then lying" in d.reasons[0].text
    assert d.best_frame is not None


def test_slow_lowering_is_not_a_fall():
    # Lying down slowly (e.g. going to bed), seen at the motion gate's 5 fps: the torso leans 15 degrees a second.
    poses = [pose(CAM, T0 + i * 200, 0.45 + 0.01 * i, 3.0 * i) for i in range(30)]
    d = fuse(window(poses, size=6000), RULES)
    assert AnomalyKind.FALL not in d.kinds


def test_violent_motion_needs_two_people_close_together():
    other = (person(2, 0.75, 0.55, 3.0),)
    poses = [pose(CAM, T0 + i * 200, 0.55, 5.0, arm=0.8 if i % 2 else -0.3, others=other) for i in range(10)]
    d = fuse(window(poses), RULES)
    assert d.alert and d.kinds == (AnomalyKind.VIOLENCE,)
    alone = [pose(CAM, T0 + i * 200, 0.55, 5.0, arm=0.8 if i % 2 else -0.3) for i in range(10)]
    assert not fuse(window(alone), RULES).alert  # sport, dancing, waving: one person moving fast is not violence
    calm = [pose(CAM, T0 + i * 200, 0.55, 5.0, arm=0.02 * (i % 2), others=other) for i in range(10)]
    assert not fuse(window(calm), RULES).alert


def test_window_of_keeps_only_its_interval_and_sorts_by_time():
    w = window([scene(CAM, T0 + 4500, 0.9), scene(CAM, T0 + 300, 0.1), audio(CAM, T0 - 1000)])
    assert [o.t_ms for o in w.scene] == [T0 + 300]
    assert [o.t_ms for o in w.audio] == [T0 - 1000]  # a 2 s chunk overlapping the window counts


def test_nan_and_out_of_range_probabilities_are_clamped_and_reported():
    bad = scene(CAM, T0, math.nan)
    obs, warnings = observe(bad, Where("scores.scene.v1", 0, 7, CAM, T0), RULES)
    assert isinstance(obs, SceneObs) and obs.anomaly_probability == 0.0
    assert any("NaN" in w for w in warnings)
    high = replace(scene(CAM, T0, 0.5), anomaly_probability=7.0)
    obs, warnings = observe(high, Where("scores.scene.v1", 0, 8, CAM, T0), RULES)
    assert isinstance(obs, SceneObs) and obs.anomaly_probability == 1.0 and warnings


def test_nan_landmarks_are_ignored_not_fatal():
    record = pose(CAM, T0, 0.55, 4.0)
    (one,) = record.people
    broken = replace(one, torso_angle_deg=math.nan, keypoints=[replace(k, x=math.nan) for k in one.keypoints])
    obs, warnings = observe(replace(record, people=[broken]), Where("scores.pose.v1", 0, 1, CAM, T0), RULES)
    assert isinstance(obs, PoseObs)
    (person_obs,) = obs.people
    assert person_obs.torso_deg is None and person_obs.center is None and all(v is None for v in person_obs.limbs)
    assert warnings


@pytest.mark.parametrize(
    ("camera", "key", "skew_ms", "message"),
    [
        ("bad camera!", None, 0, "invalid camera"),
        (CAM, "other-cam", 0, "key"),
        (CAM, CAM, 10 * 24 * 3600 * 1000, "from the record time"),
        (CAM, CAM, -10 * 24 * 3600 * 1000, "from the record time"),
    ],
)
def test_invalid_records_are_validation_errors(camera: str, key: str | None, skew_ms: int, message: str):
    record = replace(scene(CAM, T0, 0.5), camera_id=camera)
    with pytest.raises(ValidationError, match=message):
        observe(record, Where("scores.scene.v1", 0, 1, key, T0 + skew_ms), RULES)


def test_unknown_camera_is_rejected_when_cameras_are_registered():
    with pytest.raises(ValidationError, match="unknown camera"):
        observe(scene(CAM, T0, 0.5), Where("scores.scene.v1", 0, 1, CAM, T0), RULES, known_camera=lambda c: False)


def test_rules_file_is_validated(tmp_path):
    from fusion_app.rules import load_rules as load

    text = tmp_path / "r.yaml"
    text.write_text("version: x\n")
    with pytest.raises(ValueError, match="windows"):
        load(text)
    broken = RULES.model_dump(mode="json")
    broken["fusion"]["hold_score"] = 0.9
    import yaml

    text.write_text(yaml.safe_dump(broken))
    with pytest.raises(ValueError, match="hysteresis"):
        load(text)
