"""The one error type of the stack: what went wrong and what to do about it."""

from __future__ import annotations


class StackError(Exception):
    """A problem the user can fix; ``fix`` is printed under the cause."""

    def __init__(self, cause: str, fix: str = "") -> None:
        super().__init__(cause)
        self.cause = cause
        self.fix = fix

    def __str__(self) -> str:
        return f"{self.cause}\n  fix: {self.fix}" if self.fix else self.cause
