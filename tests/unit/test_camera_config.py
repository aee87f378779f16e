import pytest

from producers.camera_config import CameraConfigError, parse_cameras, redact_source


def test_parse_cameras_applies_defaults_and_names():
    cams = parse_cameras(
        {
            "defaults": {"realtime": False, "loop": True},
            "cameras": [
                {"id": "lobby", "source": "rtsp://cam/1", "location": "A"},
                {"id": "yard", "name": "Yard", "source": "yard.mp4", "loop": False, "rate": 2},
            ],
        }
    )
    assert [c.camera_id for c in cams] == ["lobby", "yard"]
    assert cams[0].name == "lobby" and cams[0].loop and not cams[0].realtime
    assert cams[1].name == "Yard" and not cams[1].loop and cams[1].rate == 2


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({}, "non-empty 'cameras'"),
        ({"cameras": [{"id": "../x", "source": "a"}]}, "path separator"),
        ({"cameras": [{"id": "a"}]}, "'source' is required"),
        ({"cameras": [{"id": "a", "source": "s", "colour": 1}]}, "unknown field"),
        ({"cameras": [{"id": "a", "source": "s"}, {"id": "a", "source": "t"}]}, "declared twice"),
        ({"cameras": ["a"]}, "must be a mapping"),
    ],
)
def test_bad_camera_files_say_what_is_wrong(data, message):
    with pytest.raises(CameraConfigError, match=message):
        parse_cameras(data)


def test_redact_source_masks_passwords_only():
    assert redact_source("rtsp://admin:s3cret@10.0.0.7:554/live") == "rtsp://admin:***@10.0.0.7:554/live"
    assert redact_source("rtsp://10.0.0.7/live") == "rtsp://10.0.0.7/live"
    assert redact_source("/data/clip.mp4") == "/data/clip.mp4"
    assert redact_source("webcam:0") == "webcam:0"
