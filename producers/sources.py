"""Media sources: a file, an ``rtsp://``/``http(s)://`` stream or ``webcam:N``, decoded with PyAV.

``read_source`` yields decoded video and audio frames on one continuous timeline. Files can loop and be cut
with ``start``/``end``; live sources reconnect with exponential backoff when the stream drops. A packet that
does not decode, or a frame the decoder flags as corrupt, is counted and skipped; a source that cannot be used
at all raises ``SourceError`` so the command exits non-zero with the reason.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from anomaly_core.backoff import Backoff, Retry
from schemas.records import SourceKind

log = logging.getLogger(__name__)

_STREAM_SCHEMES = ("rtsp://", "rtsps://", "rtmp://", "http://", "https://", "udp://", "srt://")


class SourceError(Exception):
    """The whole source is unusable (missing file, not media, no decodable stream, unreachable stream)."""


@dataclass(frozen=True)
class SourceSpec:
    raw: str
    kind: SourceKind
    location: str
    format: str | None = None

    @property
    def live(self) -> bool:
        return self.kind is not SourceKind.FILE


def parse_source(src: str) -> SourceSpec:
    """Classifies ``src``; a file must exist, a webcam index must be a number."""
    text = src.strip()
    if not text:
        raise SourceError("empty source")
    lowered = text.lower()
    if lowered.startswith("webcam:"):
        index = text.split(":", 1)[1]
        if not index.isdigit():
            raise SourceError(f"webcam source must be webcam:<index>, got {src!r}")
        return SourceSpec(text, SourceKind.WEBCAM, f"/dev/video{int(index)}", "v4l2")
    if lowered.startswith(_STREAM_SCHEMES):
        return SourceSpec(text, SourceKind.STREAM, text)
    if "://" in text:
        raise SourceError(f"unsupported source scheme in {src!r} (file, rtsp://, http(s)://, webcam:N)")
    path = Path(text).expanduser()
    if not path.is_file():
        raise SourceError(f"no such file: {path}")
    return SourceSpec(text, SourceKind.FILE, str(path))


@dataclass(frozen=True)
class Decoded:
    """One decoded frame. ``timeline_s`` is continuous over loops/reconnects (for sampling and the clock);
    ``media_s`` is the position in the source (for ``media_offset_ms``); ``None`` when the stream has no clock."""

    kind: str  # "video" | "audio"
    frame: Any  # av.VideoFrame | av.AudioFrame
    media_s: float | None
    timeline_s: float | None


@dataclass(frozen=True)
class Restart:
    """The timeline jumped (next loop pass, reconnect): flush partial audio and restart sampling."""

    reason: str
    continuous: bool  # True for a loop pass (timeline continues), False after a reconnect (timeline restarts)


@dataclass
class ReadOptions:
    video: bool = True
    audio: bool = True
    loop: bool = False
    start_s: float | None = None
    end_s: float | None = None
    open_timeout_s: float = 10.0
    read_timeout_s: float = 10.0
    connect_attempts: int = 4  # before the first successful open of a live source
    max_backoff_s: float = 30.0
    decode_threads: int = 0  # 0 = let FFmpeg pick


@dataclass
class SourceCounters:
    corrupt_skipped: int = 0
    reconnects: int = 0
    passes: int = 0
    audio_end_s: float | None = None  # where a file's audio track ends (media time), to cut codec padding
    audio_missing_logged: bool = False
    notes: list[str] = field(default_factory=list)


def _open(spec: SourceSpec, opts: ReadOptions) -> Any:
    import av

    options: dict[str, str] = {}
    if spec.kind is SourceKind.STREAM:
        micros = str(int(opts.read_timeout_s * 1_000_000))
        options = {"rtsp_transport": "tcp", "rw_timeout": micros, "timeout": micros}
    try:
        return av.open(
            spec.location,
            format=spec.format,
            options=options,
            timeout=(opts.open_timeout_s, opts.read_timeout_s),
        )
    except av.error.FileNotFoundError as exc:
        raise SourceError(f"cannot open {spec.raw}: not found") from exc
    except av.error.InvalidDataError as exc:
        raise SourceError(f"cannot open {spec.raw}: not a media file or unsupported container") from exc
    except (av.error.FFmpegError, OSError) as exc:
        raise SourceError(f"cannot open {spec.raw}: {exc}") from exc


def _pick_streams(container: Any, spec: SourceSpec, opts: ReadOptions, counters: SourceCounters) -> list[Any]:
    streams: list[Any] = []
    if opts.video:
        video = next((s for s in container.streams.video), None)
        if video is None:
            raise SourceError(f"{spec.raw} has no video stream")
        if video.codec_context is None:
            raise SourceError(f"{spec.raw}: unsupported video codec")
        video.thread_type = "AUTO"
        if opts.decode_threads:
            video.thread_count = opts.decode_threads
        streams.append(video)
    if opts.audio:
        audio = next((s for s in container.streams.audio), None)
        if audio is None:
            if not counters.audio_missing_logged:
                log.info("%s has no audio track: no audio chunks will be produced", spec.raw)
                counters.audio_missing_logged = True
        else:
            streams.append(audio)
            counters.audio_end_s = _audio_end(container, audio, spec, opts)
    if not streams:
        raise SourceError(f"{spec.raw} has no audio stream")
    return streams


def _audio_end(container: Any, audio: Any, spec: SourceSpec, opts: ReadOptions) -> float | None:
    if spec.live or audio.duration is None or audio.time_base is None:
        return None
    base = container.start_time / 1_000_000 if container.start_time is not None else 0.0
    start = float((audio.start_time or 0) * audio.time_base)
    end = start + float(audio.duration * audio.time_base) - base
    return min(end, opts.end_s) if opts.end_s is not None else end


@dataclass
class _Window:
    """Maps a frame's timestamp to media time and says whether it is inside ``--start``/``--end``."""

    live: bool
    base: float
    start_s: float | None
    end_s: float | None
    first_live: float | None = None

    def media(self, stamp: float | None) -> float | None:
        if stamp is None:
            return None
        if not self.live:
            return stamp - self.base
        if self.first_live is None:
            self.first_live = stamp
        return stamp - self.first_live

    def before(self, media: float | None) -> bool:
        return media is not None and not self.live and self.start_s is not None and media < self.start_s - 1e-6

    def after(self, media: float | None) -> bool:
        return media is not None and not self.live and self.end_s is not None and media >= self.end_s - 1e-6


def _decode_pass(
    container: Any,
    streams: list[Any],
    spec: SourceSpec,
    opts: ReadOptions,
    counters: SourceCounters,
    *,
    offset_s: float,
) -> Iterator[Decoded]:
    """Decodes one pass over an open container. ``offset_s`` is added to build the continuous timeline."""
    import av

    base = 0.0
    if not spec.live and container.start_time is not None:
        base = container.start_time / av.time_base
    if opts.start_s and not spec.live:
        container.seek(int((opts.start_s + base) * av.time_base), backward=True, any_frame=False)
    window = _Window(spec.live, base, opts.start_s, opts.end_s)
    origin = 0.0 if spec.live else (opts.start_s or 0.0)
    done: set[int] = set()
    for packet in container.demux(streams):
        try:
            frames = packet.decode()
        except (av.error.InvalidDataError, av.error.UndefinedError, ValueError) as exc:
            counters.corrupt_skipped += 1
            log.warning("%s: skipped a corrupt %s packet: %s", spec.raw, packet.stream.type, exc)
            continue
        kind = "video" if packet.stream.type == "video" else "audio"
        for frame in frames:
            if frame.is_corrupt:
                # The decoder concealed damaged data; a half-grey frame would only mislead the models.
                counters.corrupt_skipped += 1
                log.warning("%s: skipped a corrupt %s frame at %s", spec.raw, kind, frame.time)
                continue
            media = window.media(frame.time)
            if window.before(media):
                continue
            if window.after(media):
                done.add(packet.stream.index)
                continue
            timeline = None if media is None else offset_s + media - origin
            yield Decoded(kind, frame, media, timeline)
        if len(done) == len(streams):
            break


@dataclass
class _PassState:
    frames: int = 0
    end_s: float = 0.0


def _open_with_retry(
    spec: SourceSpec, opts: ReadOptions, stop: threading.Event, backoff: Backoff, *, first: bool
) -> Any:
    """An open container; live sources are retried (only ``connect_attempts`` times before the first success)."""
    attempts = 0

    def give_up(exc: Exception) -> BaseException | None:
        nonlocal attempts
        attempts += 1
        return exc if not spec.live or (first and attempts >= opts.connect_attempts) else None

    def retrying(_exc: Exception, delay: float) -> None:
        log.warning("%s unreachable (attempt %d), retrying in %.1fs", spec.raw, attempts, delay)

    retry = Retry(retrying, backoff, on=(SourceError,), give_up=give_up, wait=stop.wait)
    return retry.call(lambda: None if stop.is_set() else _open(spec, opts))


def _run_pass(
    container: Any,
    spec: SourceSpec,
    opts: ReadOptions,
    counters: SourceCounters,
    *,
    stop: threading.Event,
    state: _PassState,
) -> Iterator[Decoded]:
    import av

    offset_s = state.end_s
    try:
        streams = _pick_streams(container, spec, opts, counters)
        for item in _decode_pass(container, streams, spec, opts, counters, offset_s=offset_s):
            if stop.is_set():
                return
            state.frames += 1
            if item.timeline_s is not None:
                state.end_s = max(state.end_s, item.timeline_s + _frame_span(item.frame))
            yield item
    except (av.error.FFmpegError, OSError) as exc:
        if not spec.live:
            raise SourceError(f"{spec.raw}: read failed: {exc}") from exc
        log.warning("%s dropped: %s", spec.raw, exc)
    finally:
        container.close()


def read_source(
    spec: SourceSpec, opts: ReadOptions, counters: SourceCounters, stop: threading.Event
) -> Iterator[Decoded | Restart]:
    """Decoded frames of ``spec`` until it ends (files without ``loop``) or ``stop`` is set."""
    backoff = Backoff(initial_s=1.0, max_s=opts.max_backoff_s)
    offset_s = 0.0
    connected_once = False
    while not stop.is_set():
        container = _open_with_retry(spec, opts, stop, backoff, first=not connected_once)
        if container is None:
            return
        connected_once = True
        backoff.reset()
        state = _PassState(end_s=offset_s)
        yield from _run_pass(container, spec, opts, counters, stop=stop, state=state)
        counters.passes += 1
        if stop.is_set():
            return
        if not spec.live:
            if state.frames == 0 and counters.passes == 1:
                raise SourceError(f"{spec.raw}: no frame could be decoded")
            if not opts.loop:
                return
            offset_s = state.end_s
            yield Restart("loop", continuous=True)
            continue
        counters.reconnects += 1
        delay = backoff.next_delay()
        log.warning("%s ended, reconnecting in %.1fs", spec.raw, delay)
        yield Restart("reconnect", continuous=False)
        stop.wait(delay)


def _frame_span(frame: Any) -> float:
    """How long a decoded frame lasts, so the next loop pass starts right after it."""
    samples = getattr(frame, "samples", None)
    rate = getattr(frame, "sample_rate", None)
    if samples is not None and rate:
        return float(samples) / float(rate)
    duration = getattr(frame, "duration", None)
    time_base = getattr(frame, "time_base", None)
    if duration and time_base is not None:
        return float(duration * time_base)
    return 0.0
