"""Progress lines for `stack up`/`down`: a live line per service on a terminal, plain lines otherwise."""

from __future__ import annotations

import threading
import time
from types import TracebackType

from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TaskID, TextColumn, TimeElapsedColumn


class Reporter:
    """Silent; the base for the console reporter and what in-process callers (tests) use."""

    def __enter__(self) -> Reporter:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        return None

    def update(self, service: str, text: str, *, done: bool = False, ok: bool = True) -> None:
        return None

    def note(self, text: str) -> None:
        return None


class ConsoleReporter(Reporter):
    def __init__(self, console: Console, services: list[str]) -> None:
        self._console = console
        self._services = services
        self._lock = threading.Lock()
        self._t0 = time.monotonic()
        self._live = console.is_terminal
        self._progress = Progress(
            SpinnerColumn(finished_text=" "),
            TextColumn("{task.fields[service]:<16}"),
            TimeElapsedColumn(),
            TextColumn("{task.description}"),
            console=console,
        )
        self._tasks: dict[str, TaskID] = {}

    def __enter__(self) -> ConsoleReporter:
        if self._live:
            self._progress.start()
            for name in self._services:
                self._tasks[name] = self._progress.add_task("waiting", total=1, service=name)
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._live:
            self._progress.stop()

    def update(self, service: str, text: str, *, done: bool = False, ok: bool = True) -> None:
        mark = ("[green]✓[/] " if ok else "[red]✗[/] ") if done else ""
        if self._live and service in self._tasks:
            task = self._tasks[service]
            self._progress.update(task, description=mark + text, completed=1 if done else 0)
            return
        with self._lock:
            # Not a terminal (CI logs): one line per change, with the time since the command began.
            self._console.print(f"[{time.monotonic() - self._t0:6.1f}s] {service:<16} {mark}{text}", highlight=False)

    def note(self, text: str) -> None:
        if self._live:
            self._progress.console.print(text)
        else:
            with self._lock:
                self._console.print(text, highlight=False)
