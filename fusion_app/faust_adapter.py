"""What the live driver needs of faust-streaming that its public API does not offer, in one place.

Each function reads one Faust internal and says which; ``tests/unit/test_faust_adapter.py`` checks every
assumption against the installed Faust (pinned exactly in ``requirements/runtime.in``), so an upgrade that changes
one fails there, loudly, rather than in a running worker. Everything else the driver does with Faust goes through
its public API: agents, tables, timers, the ``on_partitions_revoked`` signal, ``Worker`` options and its
``on_stop`` hook.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, cast

import faust
from faust.types import TP


def read_offset(app: faust.App, tp: TP) -> int | None:
    """Where Faust reads ``tp`` from: the committed offset it sought at assignment, then the offset of the last
    record it took (``Consumer._read_offset``, filled by ``Consumer.perform_seek``); None when unknown.

    The consumer's fetch position would not do: it runs ahead of what the agents have been given."""
    offsets = cast(Mapping[TP, int | None], cast(Any, app.consumer)._read_offset)
    return offsets.get(tp)


def tables_recovered(app: faust.App) -> bool:
    """Whether Faust has restored its tables from their changelogs and sought the inputs to their committed
    offsets, so table values are complete (``TableManager.recovery.completed``, set at the end of a recovery)."""
    return bool(cast(Any, app.tables).recovery.completed.is_set())
