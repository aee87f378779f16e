"""Why a run could not start."""

from __future__ import annotations


class PlatformError(Exception):
    """The platform is not there for the run: the stack is down, its topics could not be created, or a service
    did not start; the message says which."""


class ServicesLateError(PlatformError):
    """Services started but did not join their consumer groups in time (or died); the message names them."""
