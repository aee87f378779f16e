"""Records <-> the plain dicts fastavro reads and writes. Pure functions, no IO.

Each record class gets a converter generated once from its type hints (the way ``dataclasses`` builds
``__init__``): the per-event cost is then one dict or constructor call per nested record, which keeps the
serde fast enough for tens of thousands of events per second on one core.
"""

from __future__ import annotations

import dataclasses
import types
import typing
import uuid
from collections.abc import Callable, Hashable
from datetime import UTC, datetime
from enum import Enum
from functools import cache
from typing import Any, TypeVar

T = TypeVar("T")

Converter = Callable[[Any], Any]


def to_avro(record: Any) -> Any:
    """A record as the dict fastavro writes (enums as symbols, nested records as dicts)."""
    if dataclasses.is_dataclass(record) and not isinstance(record, type):
        return encoder(type(record))(record)
    if isinstance(record, Enum):
        return record.value
    if isinstance(record, list):
        return [to_avro(item) for item in record]
    return record


def from_avro(cls: type[T], data: dict[str, Any]) -> T:
    """Builds ``cls`` from a dict fastavro read, converting nested records, enums and uuids."""
    return typing.cast(T, decoder(cls)(data))


def encoder(cls: type) -> Callable[[Any], dict[str, Any]]:
    """A function turning an instance of the record class ``cls`` into the dict fastavro writes."""
    return _encoder(typing.cast(Hashable, cls))


def decoder(cls: type) -> Callable[[Any], Any]:
    """A function building ``cls`` from a dict fastavro read.

    Fields absent from the dict take the dataclass default (a reader older than the writer never sees
    them; a dict from an older writer may lack them).
    """
    return _decoder(typing.cast(Hashable, cls))


@cache
def _encoder(cls: Any) -> Callable[[Any], dict[str, Any]]:
    hints = _hints(cls)
    env: dict[str, Any] = {}
    items = []
    for i, (name, tp) in enumerate(hints.items()):
        conv = _encode_conv(tp)
        if conv is None:
            items.append(f"{name!r}: r.{name}")
        else:
            env[f"_c{i}"] = conv
            items.append(f"{name!r}: _c{i}(r.{name})")
    return typing.cast(Callable[[Any], dict[str, Any]], _compile("encode", "r", "{" + ", ".join(items) + "}", env))


@cache
def _decoder(cls: Any) -> Callable[[Any], Any]:
    hints = _hints(cls)
    env: dict[str, Any] = {"_cls": cls}
    args = []
    for i, (name, tp) in enumerate(hints.items()):
        conv = _decode_conv(tp)
        if conv is None:
            args.append(f"{name}=d[{name!r}]")
        else:
            env[f"_c{i}"] = conv
            args.append(f"{name}=_c{i}(d[{name!r}])")
    fast = _compile("decode", "d", "_cls(" + ", ".join(args) + ")", env)
    convs = {name: _decode_conv(tp) for name, tp in hints.items()}

    def decode(data: dict[str, Any]) -> Any:
        try:
            return fast(data)
        except KeyError:
            kwargs = {n: (c(data[n]) if c else data[n]) for n, c in convs.items() if n in data}
            return cls(**kwargs)

    return decode


def _compile(fn_name: str, arg: str, expr: str, env: dict[str, Any]) -> Converter:
    # Generated once per class from its own field names (never from data), like dataclasses' __init__.
    source = f"def {fn_name}({arg}):\n    return {expr}\n"
    exec(source, env)  # noqa: S102
    return typing.cast(Converter, env[fn_name])


@cache
def _hints(cls: Any) -> dict[str, Any]:
    names = [f.name for f in dataclasses.fields(cls)]
    hints = typing.get_type_hints(cls)
    return {name: hints[name] for name in names}


def _optional_inner(tp: Any) -> Any | None:
    """``X`` for ``X | None``; None when ``tp`` is not a union."""
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        inner = [a for a in typing.get_args(tp) if a is not type(None)]
        return inner[0]
    return None


def _none_safe(conv: Converter) -> Converter:
    return lambda v: None if v is None else conv(v)


def _encode_conv(tp: Any) -> Converter | None:
    """How to turn a field value of type ``tp`` into what fastavro writes; None: as it is."""
    inner = _optional_inner(tp)
    if inner is not None:
        conv = _encode_conv(inner)
        return None if conv is None else _none_safe(conv)
    if typing.get_origin(tp) is list:
        (item_tp,) = typing.get_args(tp)
        item = _encode_conv(item_tp)
        return None if item is None else (lambda v: [item(x) for x in v])
    if isinstance(tp, type):
        if dataclasses.is_dataclass(tp):
            return _encoder(tp)
        if issubclass(tp, Enum):
            return _enum_value
    return None


def _decode_conv(tp: Any) -> Converter | None:
    """How to turn what fastavro read into a field value of type ``tp``; None: as it is."""
    inner = _optional_inner(tp)
    if inner is not None:
        conv = _decode_conv(inner)
        return None if conv is None else _none_safe(conv)
    if typing.get_origin(tp) is list:
        (item_tp,) = typing.get_args(tp)
        item = _decode_conv(item_tp)
        return None if item is None else (lambda v: [item(x) for x in v])
    if isinstance(tp, type):
        if dataclasses.is_dataclass(tp):
            return _decoder(tp)
        if issubclass(tp, Enum):
            return tp
        if tp is str:
            return _uuid_to_str
        if tp is datetime:
            return _millis_to_datetime
    # floats from fastavro are already floats (ints are promoted by schema resolution), bool/bytes as read
    return None


def _enum_value(v: Any) -> Any:
    return v.value if isinstance(v, Enum) else v


def _uuid_to_str(v: Any) -> Any:
    # fastavro returns uuid.UUID for the "uuid" logical type; records carry uuids as str
    return str(v) if isinstance(v, uuid.UUID) else v


def _millis_to_datetime(v: Any) -> Any:
    # timestamps are UTC in every record; an int (a dict not read through the logical type) is epoch millis
    return datetime.fromtimestamp(v / 1000, tz=UTC) if isinstance(v, int) else v
