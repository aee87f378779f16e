"""Fixtures shared by integration tests of this folder (the stack fixtures live in tests/conftest.py).

Each fixture here is named after the tests that need it; add yours below with a name just as specific.
"""

from __future__ import annotations

from typing import Any

import pytest


@pytest.fixture
def streaming_topics(make_topics: Any, unique_prefix: str) -> dict[str, str]:
    """Serde/runtime tests: private input, output and dead-letter topics (3 partitions each)."""
    names = {"in": f"{unique_prefix}echo.in", "out": f"{unique_prefix}echo.out", "dlq": f"{unique_prefix}dlq.v1"}
    created = make_topics(list(names.values()), partitions=3)
    return {role: created[name] for role, name in names.items()}
