"""Input files of ``anomaly analyze``: camera ids from file names, and a quick probe that turns unusable files
into one clear sentence each, before anything is produced.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from reports.model import InputProblem

_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")
_MAX_ID = 64


@dataclass(frozen=True, slots=True)
class MediaInfo:
    path: Path
    #: None when the container does not say (some streamed formats); the report then uses the last score.
    duration_s: float | None
    has_video: bool
    has_audio: bool
    notes: list[str] = field(default_factory=list)


def camera_id_from_name(path: str | Path, taken: Iterable[str] = ()) -> str:
    """A camera id from a file name: safe characters only, unique among ``taken`` (``fall``, ``fall-2``, ...)."""
    stem = Path(path).name.rsplit(".", 1)[0] if "." in Path(path).name else Path(path).name
    base = _UNSAFE.sub("-", stem).strip(".-") or "file"
    base = base[: _MAX_ID - 4]
    used = set(taken)
    candidate, n = base, 1
    while candidate in used:
        n += 1
        candidate = f"{base}-{n}"
    return candidate


def probe_media(path: Path) -> MediaInfo | InputProblem:
    """Opens the file with FFmpeg (PyAV) and decodes one frame of each track; a problem in words if unusable."""
    shown = str(path)
    if not path.exists():
        return InputProblem(shown, "file does not exist")
    if path.is_dir():
        return InputProblem(shown, "is a directory, not a media file")
    if path.stat().st_size == 0:
        return InputProblem(shown, "file is empty (0 bytes)")
    import av

    try:
        with av.open(str(path)) as container:
            has_video = bool(container.streams.video)
            has_audio = bool(container.streams.audio)
            if not has_video and not has_audio:
                return InputProblem(shown, "contains no video or audio track")
            duration = _duration_s(container)
            decodable = _decodes(container, video=has_video)
    except (av.FFmpegError, UnicodeDecodeError, ValueError) as exc:
        return InputProblem(shown, f"not a media file FFmpeg can read ({_short(exc)})")
    if not decodable:
        return InputProblem(shown, "has no frames or samples to analyse (0 seconds long)")
    notes = []
    if not has_audio:
        notes.append("no audio track: speech and sound were not analysed")
    if not has_video:
        notes.append("no video track: only sound was analysed")
    return MediaInfo(
        path=path,
        duration_s=round(duration, 3) if duration > 0 else None,
        has_video=has_video,
        has_audio=has_audio,
        notes=notes,
    )


def _duration_s(container: object) -> float:
    import av

    assert isinstance(container, av.container.InputContainer)
    if container.duration:
        return float(container.duration) / 1_000_000
    durations = [
        float(s.duration * s.time_base) for s in container.streams if s.duration is not None and s.time_base is not None
    ]
    return max(durations, default=0.0)


def _decodes(container: object, *, video: bool) -> bool:
    import av

    assert isinstance(container, av.container.InputContainer)
    stream = container.streams.video[0] if video else container.streams.audio[0]
    for _ in container.decode(stream):
        return True
    return False


def _short(exc: BaseException) -> str:
    text = str(getattr(exc, "strerror", None) or exc).strip() or type(exc).__name__
    return text if len(text) <= 120 else text[:117] + "..."
