"""CPU seconds and resident memory of process trees, read from /proc (Linux; no extra packages)."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


@dataclass(frozen=True)
class Sample:
    cpu_s: float
    rss_bytes: int


def _stat(pid: int) -> tuple[int, float] | None:
    """(parent pid, CPU seconds of the process itself) or None when it is gone."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = raw[raw.rindex(")") + 2 :].split()
    # fields[0] is field 3 (state); ppid is field 4, utime/stime fields 14/15.
    return int(fields[1]), (int(fields[11]) + int(fields[12])) / _TICKS


def _rss(pid: int) -> int:
    with contextlib.suppress(OSError, ValueError, IndexError):
        return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * _PAGE
    return 0


def _children_by_parent() -> dict[int, list[int]]:
    out: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        stat = _stat(int(entry.name))
        if stat is not None:
            out.setdefault(stat[0], []).append(int(entry.name))
    return out


def _tree(pid: int, children: Mapping[int, list[int]]) -> list[int]:
    out, todo = [], [pid]
    while todo:
        current = todo.pop()
        out.append(current)
        todo.extend(children.get(current, []))
    return out


def sample_trees(roots: Mapping[str, int]) -> dict[str, Sample]:
    """CPU seconds used so far and current RSS of each named process with its descendants."""
    children = _children_by_parent()
    out: dict[str, Sample] = {}
    for name, root in roots.items():
        cpu, rss = 0.0, 0
        for pid in _tree(root, children):
            stat = _stat(pid)
            if stat is not None:
                cpu += stat[1]
                rss += _rss(pid)
        out[name] = Sample(cpu, rss)
    return out


@dataclass
class UsageMeter:
    """CPU used between ``start`` and the last ``sample`` and the peak RSS seen, per named process tree. A
    process that exits keeps the last figures it was seen with."""

    first: dict[str, float] = field(default_factory=dict)
    last: dict[str, float] = field(default_factory=dict)
    peak_rss: dict[str, int] = field(default_factory=dict)

    def sample(self, roots: Mapping[str, int]) -> None:
        for name, s in sample_trees(roots).items():
            self.first.setdefault(name, s.cpu_s)
            self.last[name] = s.cpu_s
            self.peak_rss[name] = max(self.peak_rss.get(name, 0), s.rss_bytes)

    def cpu_s(self, name: str) -> float:
        return self.last.get(name, 0.0) - self.first.get(name, 0.0)

    def names(self) -> Iterable[str]:
        return self.last.keys()
