"""Progress bars for work done in named phases (the benchmarks): one bar per phase, created when it starts."""

from __future__ import annotations

from collections.abc import Callable

from rich.progress import Progress, TaskID


def phase_bars(progress: Progress) -> Callable[[str, int, int], None]:
    """``update(phase, done, total)``: adds the phase's bar the first time, then moves it."""
    tasks: dict[str, TaskID] = {}

    def update(phase: str, done: int, total: int) -> None:
        if phase not in tasks:
            tasks[phase] = progress.add_task(phase, total=total)
        progress.update(tasks[phase], completed=done)

    return update
