"""Loads the ``.avsc`` contracts shipped in this package."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import fastavro

AVSC_DIR = Path(__file__).parent / "avsc"


@cache
def schema_json(name: str) -> dict[str, Any]:
    """The raw schema of a top-level record (``FrameRef``, ``PoseScore``, ...)."""
    path = AVSC_DIR / f"{name}.avsc"
    if not path.exists():
        raise KeyError(f"no schema {name!r} in {AVSC_DIR}")
    data: dict[str, Any] = json.loads(path.read_text())
    return data


@cache
def parsed_schema(name: str) -> Any:
    """The fastavro-parsed schema, ready for ``schemaless_writer``/``schemaless_reader``."""
    return fastavro.parse_schema(schema_json(name))


def schema_names() -> list[str]:
    return sorted(p.stem for p in AVSC_DIR.glob("*.avsc"))
