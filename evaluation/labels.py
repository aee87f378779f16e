"""The labelled video set: which clips, what each one shows, and which anomaly kinds are expected when.

The project's set is ``video_set.yaml`` next to this module (versioned; its ``file`` entries name clips that
``evaluation.composite`` builds or ``producers.samples`` generates). A user's own set is a YAML file of the same
shape whose ``file`` entries are paths, relative to that file::

    clips:
      - file: lobby-fall.mp4
        expect: [FALL, PERSON_DOWN]
        span: [12.0, 30.0]
      - file: lobby-quiet.mp4
        expect: []
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from schemas.records import AnomalyKind

PROJECT_SET = Path(__file__).with_name("video_set.yaml")
DEFAULT_TOLERANCE_S = 1.0


class LabelError(ValueError):
    """The labels file is not usable (the message names the clip and the field)."""


@dataclass(frozen=True, slots=True)
class Event:
    """Something that should raise an alert of one of ``kinds`` within ``start_s``..``end_s``."""

    kinds: tuple[AnomalyKind, ...]
    start_s: float
    end_s: float

    @property
    def kind(self) -> AnomalyKind:
        """The kind the event is counted under (a fall is found by FALL or PERSON_DOWN, and counted as FALL)."""
        return self.kinds[0]


@dataclass(frozen=True, slots=True)
class LabelledClip:
    name: str
    file: str  # "composite:NAME", "registry:NAME", "sample:NAME", or a path
    events: tuple[Event, ...]  # empty: a negative
    source: str = ""
    shows: str = ""


@dataclass(frozen=True, slots=True)
class LabelSet:
    version: str
    tolerance_s: float
    clips: tuple[LabelledClip, ...]
    base: Path  # folder that relative paths in ``file`` are relative to


def load_labels(path: Path | None = None) -> LabelSet:
    """The project's set, or a user's YAML file."""
    target = path or PROJECT_SET
    try:
        data = yaml.safe_load(target.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise LabelError(f"cannot read labels {target}: {exc}") from exc
    return parse_labels(data, target.parent.resolve())


def parse_labels(data: Any, base: Path) -> LabelSet:
    if not isinstance(data, dict) or not isinstance(data.get("clips"), list) or not data["clips"]:
        raise LabelError("labels must be a mapping with a non-empty 'clips' list")
    clips = tuple(_clip(i, c) for i, c in enumerate(data["clips"]))
    names = [c.name for c in clips]
    if len(set(names)) != len(names):
        raise LabelError(f"clip names must be unique: {sorted(n for n in set(names) if names.count(n) > 1)}")
    return LabelSet(
        version=str(data.get("version", "user")),
        tolerance_s=float(data.get("tolerance_s", DEFAULT_TOLERANCE_S)),
        clips=clips,
        base=base,
    )


def _clip(index: int, raw: Any) -> LabelledClip:
    if not isinstance(raw, dict) or not raw.get("file"):
        raise LabelError(f"clip #{index + 1} needs a 'file'")
    file = str(raw["file"])
    name = str(raw.get("name") or Path(file.split(":", 1)[-1]).stem)
    if "events" in raw:
        events = tuple(_event(name, e.get("expect"), e.get("span")) for e in raw["events"] or [])
    else:
        expect = raw.get("expect")
        events = (_event(name, expect, raw.get("span")),) if expect else ()
    return LabelledClip(
        name=name, file=file, events=events, source=str(raw.get("source", "")), shows=str(raw.get("shows", ""))
    )


def _event(clip: str, expect: Any, span: Any) -> Event:
    if not isinstance(expect, list) or not expect:
        raise LabelError(f"{clip}: 'expect' must be a list of anomaly kinds")
    try:
        kinds = tuple(AnomalyKind(str(k).upper()) for k in expect)
    except ValueError as exc:
        raise LabelError(f"{clip}: {exc} (kinds: {', '.join(k.value for k in AnomalyKind)})") from exc
    if not isinstance(span, list | tuple) or len(span) != 2:
        raise LabelError(f"{clip}: 'span' must be [start_s, end_s] for an expected event")
    start, end = float(span[0]), float(span[1])
    if end < start:
        raise LabelError(f"{clip}: span ends before it starts")
    return Event(kinds=kinds, start_s=start, end_s=end)


def resolve(clip: LabelledClip, base: Path, built: dict[str, Path]) -> Path:
    """The file of a clip: a built/generated one by its ``scheme:name``, else a path relative to ``base``."""
    scheme, _, name = clip.file.partition(":")
    if scheme in {"composite", "registry", "sample"} and name:
        if name not in built:
            raise LabelError(f"{clip.name}: {clip.file} is not a clip the builder makes")
        return built[name]
    path = Path(clip.file).expanduser()
    return path if path.is_absolute() else base / path
