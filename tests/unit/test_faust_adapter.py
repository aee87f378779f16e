"""The assumptions ``fusion_app/faust_adapter.py`` makes about faust-streaming internals, one test each.

They run against the installed Faust, without a broker (nothing connects before the app starts). A failure here
after an upgrade means the live driver reads an internal that moved or changed meaning: fix the adapter, then the
pin in requirements/runtime.in.
"""

from __future__ import annotations

import asyncio
from importlib.metadata import version
from pathlib import Path

import faust
from faust.types import TP

from fusion_app import faust_adapter

RUNTIME_IN = Path(__file__).resolve().parents[2] / "requirements" / "runtime.in"


def _app() -> faust.App:
    return faust.App("adapter-test", broker="kafka://127.0.0.1:1", store="memory://", web_enabled=False)


def test_faust_and_aiokafka_are_the_versions_these_assumptions_were_checked_on() -> None:
    pins = dict(line.split("==", 1) for line in RUNTIME_IN.read_text().split() if "==" in line)
    assert version("faust-streaming") == pins["faust-streaming"]
    assert version("aiokafka") == pins["aiokafka"]


def test_read_offset_is_the_committed_offset_faust_seeks_to_at_assignment() -> None:
    async def scenario() -> tuple[int | None, int | None]:
        app = _app()
        tp = TP("scores", 0)
        before = faust_adapter.read_offset(app, tp)

        async def committed() -> dict[TP, int]:  # what the broker would answer: the group's committed offset
            return {tp: 42}

        app.consumer.seek_to_committed = committed  # type: ignore[method-assign]
        await app.consumer.perform_seek()  # what Faust's recovery does once tables are restored
        return before, faust_adapter.read_offset(app, tp)

    assert asyncio.run(scenario()) == (None, 42)


def test_tables_recovered_turns_true_when_faust_completes_a_recovery() -> None:
    async def scenario() -> tuple[bool, bool]:
        app = _app()
        before = faust_adapter.tables_recovered(app)
        app.consumer.assignment = set  # type: ignore[method-assign]  # a recovery with no partitions assigned
        await app.tables.recovery.on_recovery_completed(app.consumer_generation_id)  # type: ignore[attr-defined]
        return before, faust_adapter.tables_recovered(app)

    assert asyncio.run(scenario()) == (False, True)
