"""The modality registry: a modality is a plugin module in ``processors/plugins`` declaring ``MODALITY``.

Adding a modality is one plugin module (topics, records, loader, handler) plus one Avro schema; the service
loop, the CLI (``anomaly process <name>``) and the model commands pick it up from here.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any

from anomaly_core.objectstore import ObjectStore
from anomaly_core.runtime import BatchHandler
from processors.settings import ProcessorSettings


@dataclass(frozen=True)
class HandlerContext:
    """What a handler factory gets besides its model."""

    store: ObjectStore
    settings: ProcessorSettings
    output_topic: str  # full name, prefix applied


@dataclass(frozen=True)
class Modality:
    name: str
    input_topic: str  # catalog base name (anomaly_core.topics)
    output_topic: str
    input_record: type
    output_record: type
    model: str  # key in processors.models
    load_model: Callable[[ProcessorSettings], Any]  # raises ModelMissingError when the weights are absent
    make_handler: Callable[[Any, HandlerContext], BatchHandler]
    batching: Callable[[ProcessorSettings], tuple[int, int]] = lambda _settings: (1, 0)  # (max_batch, max_wait_ms)


@cache
def modalities() -> dict[str, Modality]:
    """Every plugin's modality by name (plugins import their heavy libraries lazily, so this is cheap)."""
    from processors import plugins

    found: dict[str, Modality] = {}
    for info in sorted(pkgutil.iter_modules(plugins.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{plugins.__name__}.{info.name}")
        modality = getattr(module, "MODALITY", None)
        if isinstance(modality, Modality):
            if modality.name in found:
                raise RuntimeError(f"modality {modality.name!r} is declared twice")
            found[modality.name] = modality
    return found


def get(name: str) -> Modality:
    try:
        return modalities()[name]
    except KeyError:
        raise KeyError(f"unknown modality {name!r}; known: {', '.join(sorted(modalities()))}") from None
