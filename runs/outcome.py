"""How a run ended, as the exit code of the command that ran it (``anomaly analyze``, ``anomaly demo``)."""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    #: The platform could not run (stack not reachable, topics not created).
    PLATFORM = 1
    USAGE = 2
    #: An anomaly at or above ``--fail-on`` was found.
    FAIL_ON = 3
    #: Some inputs could not be used (each is named with the reason).
    BAD_INPUT = 4
    #: The pipeline did not finish: a stage is missing or timed out (named).
    INCOMPLETE = 5
