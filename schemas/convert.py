"""Records <-> the plain dicts fastavro reads and writes. Pure functions, no IO."""

from __future__ import annotations

import dataclasses
import types
import typing
import uuid
from collections.abc import Hashable
from datetime import datetime
from enum import Enum
from functools import cache
from typing import Any, TypeVar

T = TypeVar("T")


def to_avro(record: Any) -> Any:
    """A record as the dict fastavro writes (enums as symbols, nested records as dicts)."""
    if dataclasses.is_dataclass(record) and not isinstance(record, type):
        return {f.name: to_avro(getattr(record, f.name)) for f in dataclasses.fields(record)}
    if isinstance(record, Enum):
        return record.value
    if isinstance(record, list):
        return [to_avro(item) for item in record]
    return record


def from_avro(cls: type[T], data: dict[str, Any]) -> T:
    """Builds ``cls`` from a dict fastavro read, converting nested records, enums and uuids."""
    hints = _hints(typing.cast(Hashable, cls))
    kwargs = {name: _convert(hints[name], data[name]) for name in hints if name in data}
    return cls(**kwargs)


@cache
def _hints(cls: Any) -> dict[str, Any]:
    names = {f.name for f in dataclasses.fields(cls)}
    return {k: v for k, v in typing.get_type_hints(cls).items() if k in names}


def _convert(tp: Any, value: Any) -> Any:
    if value is None:
        return None
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        inner = [a for a in typing.get_args(tp) if a is not type(None)]
        return _convert(inner[0], value)
    if origin is list:
        (item_tp,) = typing.get_args(tp)
        return [_convert(item_tp, v) for v in value]
    if isinstance(tp, type):
        if dataclasses.is_dataclass(tp):
            return from_avro(tp, value)
        if issubclass(tp, Enum):
            return tp(value)
        if tp is str and isinstance(value, uuid.UUID):
            return str(value)
        if tp is float and isinstance(value, int):
            return float(value)
        if tp is datetime and isinstance(value, int):
            return datetime.fromtimestamp(value / 1000, tz=datetime.now().astimezone().tzinfo)
    return value
