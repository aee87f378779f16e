from datetime import UTC, datetime, timedelta

import pytest

from producers.sampling import CaptureClock, FrameSampler, expected_frames, pace_delay

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


def kept(sampler: FrameSampler, times: list[float]) -> list[float]:
    return [t for t in times if sampler.keep(t)]


@pytest.mark.parametrize("fps", [10, 15, 24, 25, 29.97, 30, 60])
def test_one_fps_keeps_one_frame_per_second_of_media(fps):
    seconds = 7
    times = [i / fps for i in range(round(seconds * fps))]
    out = kept(FrameSampler(rate=1.0), times)
    assert len(out) == seconds == expected_frames(seconds, fps)
    assert [int(t) for t in out] == list(range(seconds))


def test_rate_slots_are_relative_to_the_first_frame():
    # a stream starting at pts 100.04 s still gives one frame per second, the first one immediately
    times = [100.04 + i / 25 for i in range(75)]
    out = kept(FrameSampler(rate=1.0), times)
    assert out[0] == times[0] and len(out) == 3


def test_fractional_and_high_rates():
    times = [i / 30 for i in range(300)]  # 10 s at 30 fps
    assert len(kept(FrameSampler(rate=0.5), times)) == 5
    assert len(kept(FrameSampler(rate=5), times)) == 50
    # a rate above the source fps keeps every frame, never more
    assert len(kept(FrameSampler(rate=100), times)) == 300


def test_skip_rate_takes_precedence_and_keeps_every_kth():
    sampler = FrameSampler(rate=1.0, skip=3)
    assert [i for i in range(10) if sampler.keep(i / 30)] == [0, 3, 6, 9]
    assert expected_frames(10 / 30, 30, skip=3) == 4


def test_boundary_timestamps_rounded_below_the_slot_still_count():
    # 1/3 s steps converted from a 1/90000 time base land a hair below whole seconds
    times = [round(i * 30000) / 90000 - 1e-9 for i in range(9)]
    assert len(kept(FrameSampler(rate=1.0), times)) == 3


def test_reset_restarts_the_slots():
    sampler = FrameSampler(rate=1.0)
    assert sampler.keep(5.0) and not sampler.keep(5.5)
    sampler.reset()
    assert sampler.keep(0.2)


def test_invalid_sampler_settings():
    with pytest.raises(ValueError):
        FrameSampler(rate=0)
    with pytest.raises(ValueError):
        FrameSampler(skip=-1)


def test_file_clock_is_origin_plus_media_time():
    clock = CaptureClock(T0, live=False)
    assert clock.at(0.0) == T0
    assert clock.at(2.5) == T0 + timedelta(seconds=2.5)
    # audio and video are clamped separately: an audio stamp behind the last video stamp is fine
    assert clock.at(1.0, stream="audio") == T0 + timedelta(seconds=1)


def test_file_clock_never_goes_backwards_per_stream():
    clock = CaptureClock(T0, live=False)
    clock.at(3.0)
    assert clock.at(2.0) == T0 + timedelta(seconds=3)


def test_live_clock_follows_stream_timestamps_near_wall_time():
    clock = CaptureClock(T0, live=True, max_drift_s=2.0)
    assert clock.at(50.0, T0) == T0  # first frame anchors media 50 s at the wall clock
    # a frame 1 s of media later arriving 1.3 s of wall later keeps its stream spacing
    assert clock.at(51.0, T0 + timedelta(seconds=1.3)) == T0 + timedelta(seconds=1)
    assert clock.reanchors == 0


def test_live_clock_reanchors_on_drift_jump_back_and_missing_timestamps():
    clock = CaptureClock(T0, live=True, max_drift_s=2.0)
    clock.at(0.0, T0)
    # the stream's clock runs slow: 10 s of wall for 1 s of media -> re-anchored on the wall clock
    wall = T0 + timedelta(seconds=10)
    assert clock.at(1.0, wall) == wall and clock.reanchors == 1
    assert clock.at(31.0, wall + timedelta(seconds=30)) == wall + timedelta(seconds=30)
    # timestamps restart (camera rebooted): anchored again, still monotonic
    wall2 = wall + timedelta(seconds=31)
    assert clock.at(0.0, wall2) == wall2 and clock.reanchors == 2
    # no timestamp at all: wall clock
    wall3 = wall2 + timedelta(seconds=1)
    assert clock.at(None, wall3) == wall3


def test_live_clock_restart_after_reconnect():
    clock = CaptureClock(T0, live=True)
    clock.at(0.0, T0)
    clock.at(1.0, T0 + timedelta(seconds=1))
    clock.restart()
    later = T0 + timedelta(seconds=5)
    assert clock.at(0.0, later) == later


def test_clock_requires_aware_origin_and_live_wall_time():
    with pytest.raises(ValueError):
        CaptureClock(datetime(2026, 1, 1), live=False)
    with pytest.raises(ValueError):
        CaptureClock(T0, live=True).at(1.0)


def test_pace_delay():
    assert pace_delay(5.0, 0.0, 4.0) == pytest.approx(1.0)
    assert pace_delay(5.0, 0.0, 6.0) == 0.0
