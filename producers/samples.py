"""Deterministic sample media made by the project itself (no downloads), with known ground truth.

- ``fall.mp4``: a person walks in, falls over and lies still; espeak-ng says "Help, somebody call the police!"
  just after the fall, over low room noise.
- ``benign.mp4``: the same person walking about, room noise only.
- ``silent.mp4``: the person walking, no audio track at all.

The same inputs give byte-identical files (fixed seeds, single-threaded encoders), so tests and the demo can
rely on the ground truth times in ``SampleSet`` and ``samples.json``.
"""

from __future__ import annotations

import hashlib
import json
import math
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from producers.audio import decode_wav
from producers.figure import add_sensor_noise, render_person, room_background

SPEECH_TEXT = "Help, somebody call the police!"
MANIFEST = "samples.json"
# Bump when the rendering or the timeline changes, so cached sample sets are regenerated.
GENERATOR_VERSION = 5

AUDIO_RATE = 22_050


@dataclass(frozen=True)
class GroundTruth:
    kind: str  # "walk" | "fall" | "lying" | "speech"
    start_s: float
    end_s: float
    text: str = ""


@dataclass(frozen=True)
class SampleClip:
    name: str
    path: Path
    duration_s: float
    fps: int
    width: int
    height: int
    has_audio: bool
    events: list[GroundTruth] = field(default_factory=list)
    sha256: str = ""

    def first(self, kind: str) -> GroundTruth | None:
        return next((e for e in self.events if e.kind == kind), None)


@dataclass(frozen=True)
class SampleSet:
    out_dir: Path
    fall: SampleClip
    benign: SampleClip
    silent: SampleClip

    @property
    def clips(self) -> list[SampleClip]:
        return [self.fall, self.benign, self.silent]

    @property
    def fall_at_s(self) -> float:
        """When the body crosses 45 degrees in ``fall.mp4`` (the angle grows with the square of time)."""
        event = self.fall.first("fall")
        assert event is not None
        return round(event.start_s + (event.end_s - event.start_s) * math.sqrt(0.5), 3)

    @property
    def speech_at_s(self) -> float:
        event = self.fall.first("speech")
        assert event is not None
        return event.start_s


# --- scene timeline (pure) ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FigureState:
    center: tuple[float, float]  # hip midpoint, fractions of the frame
    scale: float  # body height, fraction of frame height
    angle_deg: float
    phase: float


_WALK_SPEED = 0.055  # frame widths per second
_STEP_HZ = 0.9
_SCALE = 0.72
_FEET_Y = 0.90  # where the feet touch the floor, fraction of frame height
_HIP_ABOVE_FEET = 0.45  # body units from hips to feet (see producers.figure)
_SETTLE = 0.07


def _standing(x: float, t: float) -> FigureState:
    return FigureState((x, _FEET_Y - _HIP_ABOVE_FEET * _SCALE), _SCALE, 0.0, (t * _STEP_HZ) % 1.0)


def fall_timeline(t: float, walk_end: float, fall_s: float, aspect: float) -> FigureState:
    """The figure at time ``t`` of the fall clip: walks right until ``walk_end``, then topples clockwise about
    its feet over ``fall_s`` seconds (accelerating, like a falling body), then lies still on the floor."""
    x_start = 0.22
    feet_x = x_start + _WALK_SPEED * walk_end
    if t < walk_end:
        return _standing(x_start + _WALK_SPEED * t, t)
    u = min(1.0, (t - walk_end) / fall_s)
    angle = 90.0 * u * u
    # Rotate the hip about the feet; x is scaled by the aspect ratio because positions are frame fractions.
    reach = _HIP_ABOVE_FEET * _SCALE
    rad = math.radians(angle)
    # The body's width would reach below the frame when lying at the feet line: settle slightly up the floor.
    hip = (feet_x + reach * math.sin(rad) / aspect, _FEET_Y - reach * math.cos(rad) - _SETTLE * u)
    return FigureState(hip, _SCALE, angle, (walk_end * _STEP_HZ) % 1.0)


def walk_timeline(t: float, duration: float) -> FigureState:
    """The benign clip: walks right, turns, walks back (stays upright throughout)."""
    half = duration / 2
    x = 0.25 + _WALK_SPEED * (t if t < half else 2 * half - t)
    return _standing(x, t)


# --- rendering and muxing --------------------------------------------------------------------------------------


def render_frames(
    timeline: Callable[[float], FigureState], seconds: float, *, fps: int, width: int, height: int, seed: int
) -> Iterator[np.ndarray]:
    background = room_background(width, height)
    for i in range(round(seconds * fps)):
        state = timeline(i / fps)
        img = background.copy()
        cx, cy = state.center
        render_person(img, (cx * width, cy * height), state.scale * height, state.angle_deg, state.phase)
        yield add_sensor_noise(img, seed * 100_003 + i)


def room_noise(seconds: float, rate: int, seed: int, level_db: float = -42.0) -> np.ndarray:
    """Quiet room tone: brown-ish noise plus a faint mains hum, as float samples in [-1, 1]."""
    rng = np.random.default_rng(seed)
    n = round(seconds * rate)
    white = rng.normal(0.0, 1.0, n)
    brown = np.cumsum(white)
    brown -= np.convolve(brown, np.ones(512) / 512, mode="same")  # remove the random-walk drift
    brown /= np.max(np.abs(brown)) or 1.0
    t = np.arange(n) / rate
    hum = 0.2 * np.sin(2 * np.pi * 50 * t)
    noise = brown + hum
    rms = float(np.sqrt(np.mean(noise**2))) or 1.0
    return noise / rms * 10 ** (level_db / 20)


def synthesize_speech(text: str, rate: int = AUDIO_RATE, words_per_minute: int = 140) -> np.ndarray:
    """espeak-ng speech as float samples at ``rate`` (peak-normalised to -3 dBFS)."""
    exe = shutil.which("espeak-ng")
    if exe is None:
        raise RuntimeError("espeak-ng is not installed (scripts/bootstrap-system.sh installs it)")
    with tempfile.TemporaryDirectory() as tmp:
        wav_path = Path(tmp) / "speech.wav"
        subprocess.run(
            [exe, "-v", "en-us", "-s", str(words_per_minute), "-w", str(wav_path), text],
            check=True,
            capture_output=True,
            timeout=60,
        )
        samples, source_rate = decode_wav(wav_path.read_bytes())
    speech = samples.astype(np.float64) / 32768.0
    if source_rate != rate:
        positions = np.arange(round(len(speech) * rate / source_rate)) * source_rate / rate
        speech = np.interp(positions, np.arange(len(speech)), speech)
    peak = float(np.max(np.abs(speech))) or 1.0
    return speech / peak * 10 ** (-3 / 20)


def write_clip(
    path: Path,
    frames: Iterable[np.ndarray],
    *,
    fps: int,
    width: int,
    height: int,
    audio: np.ndarray | None = None,
    audio_rate: int = AUDIO_RATE,
    codec: str = "libx264",
) -> None:
    """Muxes BGR frames (and float mono audio in [-1, 1]) into an mp4: h264 or mpeg4 video, AAC audio."""
    import av
    import cv2

    path.parent.mkdir(parents=True, exist_ok=True)
    # faststart: the index goes first, so the clip also plays from a plain HTTP server (no range requests).
    with av.open(str(path), "w", format="mp4", options={"movflags": "+faststart"}) as out:
        video = out.add_stream(codec, rate=fps)
        assert isinstance(video, av.VideoStream)
        video.width, video.height, video.pix_fmt = width, height, "yuv420p"
        if codec == "libx264":
            # One thread and no MB-tree: x264's MB-tree pass gave different bytes for the first encode in a process.
            video.options = {"preset": "veryfast", "crf": "23", "threads": "1", "x264-params": "mbtree=0"}
        else:
            video.bit_rate = 2_000_000
        video.codec_context.thread_count = 1
        audio_stream = None
        if audio is not None:
            audio_stream = out.add_stream("aac", rate=audio_rate, layout="mono")
            assert isinstance(audio_stream, av.AudioStream)
            audio_stream.codec_context.bit_rate = 64_000
        for i, img in enumerate(frames):
            # OpenCV converts to I420 up front, so the encoder gets exactly these planes (no implicit rescaler).
            i420 = np.asarray(cv2.cvtColor(img, cv2.COLOR_BGR2YUV_I420), dtype=np.uint8)
            frame = av.VideoFrame.from_ndarray(i420, format="yuv420p")
            frame.pts = i
            frame.time_base = Fraction(1, fps)
            out.mux(video.encode(frame))
        out.mux(video.encode(None))
        if audio_stream is not None and audio is not None:
            pcm = (np.clip(audio, -1.0, 1.0) * 32767).astype(np.int16)
            block = 1024
            for start in range(0, len(pcm), block):
                chunk = pcm[start : start + block]
                aframe = av.AudioFrame.from_ndarray(chunk[None, :], format="s16", layout="mono")
                aframe.sample_rate = audio_rate
                aframe.pts = start
                aframe.time_base = Fraction(1, audio_rate)
                out.mux(audio_stream.encode(aframe))
            out.mux(audio_stream.encode(None))


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@dataclass(frozen=True)
class SampleParams:
    width: int = 640
    height: int = 360
    fps: int = 15
    fall_seconds: float = 12.0
    benign_seconds: float = 10.0
    silent_seconds: float = 4.0
    walk_end_s: float = 4.5
    fall_duration_s: float = 0.8
    speech_delay_s: float = 0.5  # after the body reaches the floor
    seed: int = 7


def _make_fall(out_dir: Path, p: SampleParams) -> SampleClip:
    aspect = p.width / p.height
    fall_end = p.walk_end_s + p.fall_duration_s
    frames = render_frames(
        lambda t: fall_timeline(t, p.walk_end_s, p.fall_duration_s, aspect),
        p.fall_seconds,
        fps=p.fps,
        width=p.width,
        height=p.height,
        seed=p.seed,
    )
    audio = room_noise(p.fall_seconds, AUDIO_RATE, p.seed)
    speech = synthesize_speech(SPEECH_TEXT)
    speech_start = round(fall_end + p.speech_delay_s, 3)
    at = round(speech_start * AUDIO_RATE)
    end = min(len(audio), at + len(speech))
    audio[at:end] += speech[: end - at]
    speech_end = round(end / AUDIO_RATE, 3)
    path = out_dir / "fall.mp4"
    write_clip(path, frames, fps=p.fps, width=p.width, height=p.height, audio=audio)
    events = [
        GroundTruth("walk", 0.0, p.walk_end_s),
        GroundTruth("fall", p.walk_end_s, fall_end),
        GroundTruth("lying", fall_end, p.fall_seconds),
        GroundTruth("speech", speech_start, speech_end, SPEECH_TEXT),
    ]
    return SampleClip("fall", path, p.fall_seconds, p.fps, p.width, p.height, True, events, _sha256(path))


def _make_walk(out_dir: Path, p: SampleParams, name: str, seconds: float, with_audio: bool) -> SampleClip:
    frames = render_frames(
        lambda t: walk_timeline(t, seconds), seconds, fps=p.fps, width=p.width, height=p.height, seed=p.seed + 1
    )
    audio = room_noise(seconds, AUDIO_RATE, p.seed + 1) if with_audio else None
    path = out_dir / f"{name}.mp4"
    write_clip(path, frames, fps=p.fps, width=p.width, height=p.height, audio=audio)
    events = [GroundTruth("walk", 0.0, seconds)]
    return SampleClip(name, path, seconds, p.fps, p.width, p.height, with_audio, events, _sha256(path))


def _clip_to_json(clip: SampleClip) -> dict[str, Any]:
    data = asdict(clip)
    data["path"] = clip.path.name
    return data


def _clip_from_json(out_dir: Path, data: dict[str, Any]) -> SampleClip:
    events = [GroundTruth(**e) for e in data["events"]]
    fields = {k: v for k, v in data.items() if k not in {"events", "path"}}
    return SampleClip(path=out_dir / str(data["path"]), events=events, **fields)


def _load_cached(out_dir: Path, params: SampleParams) -> SampleSet | None:
    manifest = out_dir / MANIFEST
    if not manifest.exists():
        return None
    try:
        data = json.loads(manifest.read_text())
        if data.get("version") != GENERATOR_VERSION or data.get("params") != asdict(params):
            return None
        clips = {name: _clip_from_json(out_dir, c) for name, c in data["clips"].items()}
    except (ValueError, KeyError, TypeError):
        return None
    for clip in clips.values():
        if not clip.path.exists() or _sha256(clip.path) != clip.sha256:
            return None
    return SampleSet(out_dir, clips["fall"], clips["benign"], clips["silent"])


def generate_samples(out_dir: Path | str, params: SampleParams | None = None, *, force: bool = False) -> SampleSet:
    """Writes the sample clips into ``out_dir`` (reusing them when already generated with the same params)."""
    out = Path(out_dir)
    p = params or SampleParams()
    if not force and (cached := _load_cached(out, p)) is not None:
        return cached
    out.mkdir(parents=True, exist_ok=True)
    samples = SampleSet(
        out,
        _make_fall(out, p),
        _make_walk(out, p, "benign", p.benign_seconds, with_audio=True),
        _make_walk(out, p, "silent", p.silent_seconds, with_audio=False),
    )
    manifest = {
        "version": GENERATOR_VERSION,
        "params": asdict(p),
        "clips": {c.name: _clip_to_json(c) for c in samples.clips},
    }
    (out / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
    return samples
