"""Options of the commands that read a historical range of topics (`anomaly replay`, `anomaly backtest diff`)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

RulesOpt = Annotated[
    Path | None, typer.Option("--rules", help="Rules file (default: FUSION_RULES, else the packaged rules.yaml).")
]


def epoch_ms(text: str | None) -> int | None:
    """Epoch milliseconds from ``2025-11-26T08:00:00Z``-style text or a plain number of milliseconds."""
    if text is None:
        return None
    if text.isdigit():
        return int(text)
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise typer.BadParameter(f"{text!r} is neither ISO 8601 nor epoch milliseconds") from exc
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000)
