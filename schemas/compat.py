"""Offline BACKWARD compatibility check: can a reader with the new schema read what the old schema wrote?

The registry enforces BACKWARD_TRANSITIVE at registration time; this check runs in the unit tests against
every committed version of each ``.avsc``, so an incompatible edit fails before it reaches a registry.
It writes sample records (every enum symbol, every union branch, empty and non-empty arrays) with the old
schema and reads them with the new one through fastavro's schema resolution.
"""

from __future__ import annotations

import io
from typing import Any

import fastavro

from schemas.samples import sample_datum, variants_needed


def backward_problems(writer: dict[str, Any], reader: dict[str, Any], *, seeds: int = 2) -> list[str]:
    """Why data written with ``writer`` cannot be read with ``reader`` (empty list: compatible)."""
    try:
        parsed_writer = fastavro.parse_schema(writer, named_schemas={})
        parsed_reader = fastavro.parse_schema(reader, named_schemas={})
    except Exception as exc:
        return [f"schema does not parse: {exc}"]
    problems: list[str] = []
    for seed in range(seeds):
        for variant in range(variants_needed(writer)):
            datum = sample_datum(writer, variant, seed=seed)
            buf = io.BytesIO()
            fastavro.schemaless_writer(buf, parsed_writer, datum)
            buf.seek(0)
            try:
                fastavro.schemaless_reader(buf, parsed_writer, parsed_reader)
            except Exception as exc:
                problem = f"{type(exc).__name__}: {exc}"
                if problem not in problems:
                    problems.append(problem)
    return problems


def is_backward_compatible(writer: dict[str, Any], reader: dict[str, Any]) -> bool:
    return not backward_problems(writer, reader)
