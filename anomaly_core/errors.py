"""Error classes that decide what the runtime does with a failed record."""

from __future__ import annotations


class PermanentError(Exception):
    """Retrying cannot help (corrupt media, invalid values): the record goes to the dead-letter topic."""

    stage = "HANDLE"


class DecodeError(PermanentError):
    """The bytes are not a valid record of the expected schema."""

    stage = "DECODE"


class ValidationError(PermanentError):
    """The record decoded but its values are out of range."""

    stage = "VALIDATE"


class ObjectMissingError(PermanentError):
    """The referenced media object is gone (expired by retention) or its hash does not match."""

    stage = "FETCH"


class TransientError(Exception):
    """A dependency is unreachable for now (broker, store, database): retry with backoff, keep the offset."""
