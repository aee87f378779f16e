"""Malformed Avro built from valid encodings, for tests of the decoders' error paths."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from schemas.records import FrameRef, SourceKind


def with_enum_index(encode: Callable[[FrameRef], bytes], record: FrameRef, index: bytes) -> bytes:
    """``record`` encoded with its ``source_kind`` enum index replaced by the raw varint bytes ``index``.

    The index byte is found by encoding the record with two different symbols and taking the one byte that
    differs, so the poison does not depend on where the field sits in the schema.
    """
    first = encode(replace(record, source_kind=SourceKind.FILE))
    other = encode(replace(record, source_kind=SourceKind.STREAM))
    at = next(i for i, (a, b) in enumerate(zip(first, other, strict=True)) if a != b)
    return first[:at] + index + first[at + 1 :]
