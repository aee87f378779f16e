"""What every sender is: ``send(notice)`` returns a short detail or raises ``SendError``."""

from __future__ import annotations

from typing import Protocol

from notify.payloads import Notice


class SendError(Exception):
    """A send that failed; ``transient`` ones (timeouts, 5xx, a broker down) are retried, the others are not."""

    def __init__(self, reason: str, *, transient: bool) -> None:
        super().__init__(reason)
        self.transient = transient


class Sender(Protocol):
    def send(self, notice: Notice) -> str: ...

    def close(self) -> None: ...
