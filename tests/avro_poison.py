"""Malformed Avro built from valid encodings, for tests of the decoders' error paths."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import replace

from anomaly_core.serde import frame
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


def poison_value(
    rng: random.Random, encode: Callable[[FrameRef], bytes], record: FrameRef, wrong_schema_id: int
) -> tuple[bytes | None, str]:
    """One undecodable value made from ``record`` and the words its dead letter's reason must contain.

    ``wrong_schema_id`` is a registered id of another record type (a mismatch, not an unknown id)."""
    good = encode(record)
    kind = rng.randrange(7)
    if kind == 0:
        blob = rng.randbytes(rng.randint(5, 60))
        return b"\x7b" + blob, "unknown magic byte 0x7b"  # e.g. a JSON producer writing to our topic
    if kind == 1:
        return good[: rng.randint(5, len(good) - 1)], "truncated"
    if kind == 2:
        return frame(wrong_schema_id, good[5:]), "schema mismatch"
    if kind == 3:
        return frame(2**31 - rng.randint(1, 1000), good[5:]), "unknown schema id"
    if kind == 4:
        return with_enum_index(encode, record, bytes([2 * rng.randint(3, 60)])), "invalid enum index"
    if kind == 5:
        return rng.randbytes(rng.randint(0, 4)), "truncated header"
    return None, "no value"
