"""Camera ids from file names, and the per-file probe of ``anomaly analyze`` (tiny files made with PyAV)."""

from __future__ import annotations

import wave
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from reports.inputs import MediaInfo, camera_id_from_name, probe_media
from reports.model import InputProblem


def _clip(path: Path, *, audio: bool) -> Path:
    with av.open(str(path), "w") as out:
        video = out.add_stream("mpeg4", rate=10)
        video.width, video.height, video.pix_fmt = 64, 48, "yuv420p"
        # Every stream is added before the first packet is muxed (the header is written then).
        sound = out.add_stream("aac", rate=16000) if audio else None
        for i in range(10):
            frame = av.VideoFrame.from_ndarray(np.full((48, 64, 3), i * 20, np.uint8), format="rgb24")
            for packet in video.encode(frame):
                out.mux(packet)
        for packet in video.encode():
            out.mux(packet)
        if sound is not None:
            for start in range(0, 16000, 1024):
                chunk = av.AudioFrame.from_ndarray(
                    np.zeros((1, min(1024, 16000 - start)), np.float32), format="fltp", layout="mono"
                )
                chunk.sample_rate, chunk.pts, chunk.time_base = 16000, start, Fraction(1, 16000)
                for packet in sound.encode(chunk):
                    out.mux(packet)
            for packet in sound.encode():
                out.mux(packet)
    return path


@pytest.mark.parametrize(
    ("name", "taken", "expected"),
    [
        ("clips/fall.mp4", [], "fall"),
        ("clips/fall.mp4", ["fall"], "fall-2"),
        ("clips/fall.mp4", ["fall", "fall-2"], "fall-3"),
        ("/x/Lobby Cam #1 (night).mkv", [], "Lobby-Cam-1-night"),
        ("../..hidden.mp4", [], "hidden"),
        ("....", [], "file"),
        ("kamera-ü.webm", [], "kamera"),
        ("a" * 100 + ".mp4", [], "a" * 60),
        ("noextension", [], "noextension"),
    ],
)
def test_camera_id_from_name(name: str, taken: list[str], expected: str) -> None:
    assert camera_id_from_name(name, taken) == expected


def test_probe_accepts_a_clip_and_notes_a_missing_audio_track(tmp_path: Path) -> None:
    both = probe_media(_clip(tmp_path / "both.mp4", audio=True))
    assert isinstance(both, MediaInfo)
    assert both.has_video and both.has_audio and both.notes == []
    assert both.duration_s == pytest.approx(1.0, abs=0.15)
    silent = probe_media(_clip(tmp_path / "silent.mp4", audio=False))
    assert isinstance(silent, MediaInfo)
    assert not silent.has_audio
    assert silent.notes == ["no audio track: speech and sound were not analysed"]


def test_probe_explains_each_unusable_file(tmp_path: Path) -> None:
    text = tmp_path / "notes.mp4"
    text.write_text("this is not a video\n")
    empty = tmp_path / "empty.mp4"
    empty.touch()
    no_samples = tmp_path / "zero.wav"
    with wave.open(str(no_samples), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(16000)
    reasons = {
        p.name: r.reason
        for p in (text, empty, no_samples, tmp_path / "missing.mp4", tmp_path)
        if isinstance(r := probe_media(p), InputProblem)
    }
    assert reasons == {
        "notes.mp4": "not a media file FFmpeg can read (Invalid data found when processing input)",
        "empty.mp4": "file is empty (0 bytes)",
        "zero.wav": "has no frames or samples to analyse (0 seconds long)",
        "missing.mp4": "file does not exist",
        tmp_path.name: "is a directory, not a media file",
    }
