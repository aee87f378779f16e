from datetime import UTC, datetime, timedelta, timezone

import pytest

from producers.keys import InvalidCameraIdError, audio_key, frame_key, validate_camera_id

SHA = "ab" * 32
AT = datetime(2026, 3, 7, 23, 30, tzinfo=UTC)


def test_frame_key_is_content_addressed_by_utc_day():
    assert frame_key("cam-1", AT, SHA) == f"frames/cam-1/2026/03/07/{SHA}.jpg"


def test_day_comes_from_utc_not_local_time():
    # 01:30 on the 8th in UTC+2 is still the 7th in UTC
    local = datetime(2026, 3, 8, 1, 30, tzinfo=timezone(timedelta(hours=2)))
    assert frame_key("cam", local, SHA).startswith("frames/cam/2026/03/07/")


def test_audio_key_extensions():
    assert audio_key("lobby_2", AT, SHA) == f"audio/lobby_2/2026/03/07/{SHA}.wav"
    assert audio_key("lobby_2", AT, SHA, "flac").endswith(".flac")
    with pytest.raises(ValueError):
        audio_key("lobby_2", AT, SHA, "mp3")


@pytest.mark.parametrize("camera", ["cam1", "Cam_2", "door.front", "a", "x" * 64, "_hidden-ok"])
def test_valid_camera_ids(camera):
    assert validate_camera_id(camera) == camera


@pytest.mark.parametrize(
    "camera",
    ["", "../etc", "a/b", "a\\b", "..", ".hidden", "-flag", "cam 1", "cam?", "x" * 65, "caf\u00e9", "a..b", "cam\n"],
)
def test_camera_ids_with_path_or_odd_characters_are_rejected(camera):
    with pytest.raises(InvalidCameraIdError):
        validate_camera_id(camera)


def test_keys_refuse_bad_digests_and_naive_times():
    with pytest.raises(ValueError):
        frame_key("cam", AT, "not-a-digest")
    with pytest.raises(ValueError):
        frame_key("cam", datetime(2026, 1, 1), SHA)
    with pytest.raises(InvalidCameraIdError):
        frame_key("../x", AT, SHA)
