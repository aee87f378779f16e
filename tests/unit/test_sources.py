"""Bad input is refused with a clear reason before anything connects (no stack needed)."""

import random
import threading
from pathlib import Path

import pytest
from typer.testing import CliRunner

from anomaly_cli.main import app
from producers.sources import ReadOptions, Restart, SourceCounters, SourceError, parse_source, read_source
from schemas.records import SourceKind
from tests.media_fixtures import tone_clip


def read_all(src: str, **opts) -> tuple[dict[str, int], SourceCounters]:
    counters = SourceCounters()
    counts = {"video": 0, "audio": 0}
    for item in read_source(parse_source(src), ReadOptions(**opts), counters, threading.Event()):
        if not isinstance(item, Restart):
            counts[item.kind] += 1
    return counts, counters


def test_source_kinds():
    assert parse_source("rtsp://10.0.0.1/x").kind is SourceKind.STREAM
    assert parse_source("https://cam/x.m3u8").kind is SourceKind.STREAM
    assert parse_source("webcam:0").location == "/dev/video0"


@pytest.mark.parametrize(
    ("src", "message"),
    [("/no/such/file.mp4", "no such file"), ("ftp://host/x", "unsupported source scheme"), ("webcam:x", "webcam:")],
)
def test_unusable_sources_say_why(src, message):
    with pytest.raises(SourceError, match=message):
        parse_source(src)


def test_not_a_media_file(tmp_path: Path):
    bogus = tmp_path / "x.mp4"
    bogus.write_text("not a video" * 50)
    with pytest.raises(SourceError, match="not a media file"):
        read_all(str(bogus))


def test_unreachable_stream_gives_up_after_the_connect_attempts():
    with pytest.raises(SourceError, match="cannot open"):
        read_all("rtsp://127.0.0.1:9/none", connect_attempts=1, open_timeout_s=1)


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    return tone_clip(tmp_path_factory.mktemp("clip") / "c.mp4", 3, fps=10, width=96, height=64)


def test_file_reads_every_frame_and_cuts_start_end(clip: Path):
    counts, _ = read_all(str(clip))
    assert counts["video"] == 30 and counts["audio"] > 0
    counts, _ = read_all(str(clip), start_s=1.0, end_s=2.0, audio=False)
    assert counts == {"video": 10, "audio": 0}


def test_loop_continues_the_timeline(clip: Path):
    stop = threading.Event()
    times = []
    for item in read_source(parse_source(str(clip)), ReadOptions(loop=True, audio=False), SourceCounters(), stop):
        if not isinstance(item, Restart):
            times.append(item.timeline_s)
        if len(times) == 45:
            stop.set()
    assert times[30] == pytest.approx(3.0) and times == sorted(times)


def test_corrupt_data_mid_file_is_skipped_and_counted(tmp_path: Path, clip: Path):
    import av

    with av.open(str(clip)) as container:
        packets = [(p.pos, p.size) for p in container.demux(video=0) if p.size]
    data = bytearray(clip.read_bytes())
    rng = random.Random(0)
    for pos, size in packets[8:14]:  # garble the payload of six packets in the middle (headers intact)
        for i in range(pos + size // 4, pos + size):
            data[i] = rng.randrange(256)
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(bytes(data))
    counts, counters = read_all(str(broken), audio=False)
    # packets the decoder rejects and frames it flags as damaged are skipped and counted;
    # the rest of the file still comes through
    assert counters.corrupt_skipped >= 1
    assert 20 <= counts["video"] <= 30 - counters.corrupt_skipped


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--source", "/no/such.mp4", "--camera-id", "cam"], "no such file"),
        (["--source", "x.mp4", "--camera-id", "../etc"], "path separator"),
    ],
)
def test_cli_exits_2_on_bad_input_before_connecting(args, message):
    result = CliRunner().invoke(app, ["produce", "camera", *args])
    assert result.exit_code == 2
    assert message in result.output


def test_live_stream_reconnects_when_it_ends(clip: Path):
    import functools
    import http.server
    import time

    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(clip.parent))
    handler.log_message = lambda *a, **k: None  # type: ignore[attr-defined]
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    stop = threading.Event()
    counters = SourceCounters()
    events: list = []
    deadline = time.monotonic() + 30
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/{clip.name}"
        for item in read_source(parse_source(url), ReadOptions(audio=False, max_backoff_s=1.0), counters, stop):
            events.append(item)
            restarts = [i for i, e in enumerate(events) if isinstance(e, Restart)]
            if (restarts and len(events) - restarts[0] > 5) or time.monotonic() > deadline:
                stop.set()
    finally:
        server.shutdown()
    first = next(i for i, e in enumerate(events) if isinstance(e, Restart))
    assert first == 30  # the whole clip, then the stream "dropped"
    assert events[first].reason == "reconnect" and not events[first].continuous
    assert counters.reconnects >= 1
    # the reconnected stream starts its own timeline at 0 again
    assert events[first + 1].timeline_s == pytest.approx(0.0)
