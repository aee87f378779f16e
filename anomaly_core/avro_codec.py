"""Avro binary encoding compiled per record class: records straight to bytes and back, no dict in between.

fastavro interprets the schema for every datum and goes through a dict per nested record; a PoseScore with 33
keypoints then costs far more than the Kafka round trip. Here each record schema becomes a small generated
Python function (like ``dataclasses`` builds ``__init__``), arrays of float-only records are packed with
one ``struct`` call, and the decoder builds the dataclasses directly.

Scope: exactly the local schema (writer == reader). Anything else (schema resolution from another writer
version, types this module does not compile, values it refuses) goes through fastavro, which stays the
reference: ``tests/unit/test_avro_codec.py`` checks both produce and accept the same bytes.
"""

from __future__ import annotations

import dataclasses
import struct
import types
import typing
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from enum import Enum
from itertools import chain
from operator import attrgetter
from typing import Any

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_LONG_MIN, _LONG_MAX = -(1 << 63), (1 << 63) - 1
_INT_MIN, _INT_MAX = -(1 << 31), (1 << 31) - 1
_SMALL = [bytes([((n << 1) ^ (n >> 63)) & 0xFF]) for n in range(-64, 64)]
_PACK_F = struct.Struct("<f").pack
_PACK_D = struct.Struct("<d").pack
_UNPACK_F = struct.Struct("<f").unpack_from
_UNPACK_D = struct.Struct("<d").unpack_from
_FIXED = {"float": ("f", 4), "double": ("d", 8)}


class CodecError(Exception):
    """The bytes are not a valid body of the compiled schema (truncated, bad index, trailing bytes)."""


class _UnsupportedError(Exception):
    """The schema uses something this module does not compile; fastavro handles it instead."""


# --- primitives (shared by every generated function) --------------------------------------------------------------


def _unrolled_varint(length: int) -> Callable[[int], bytes]:
    """Encodes a zigzagged value of exactly ``length`` 7-bit groups (no loop: timestamps take 6 of them)."""
    groups = [f"((z >> {7 * i}) & 127) | 128" for i in range(length - 1)] + [f"z >> {7 * (length - 1)}"]
    return typing.cast(Callable[[int], bytes], eval(f"lambda z: bytes(({', '.join(groups)},))"))  # noqa: S307


_VARINTS = [_unrolled_varint(max(1, k)) for k in range(11)]


def _long(n: int) -> bytes:
    if -64 <= n < 64:
        return _SMALL[n + 64]
    if not _LONG_MIN <= n <= _LONG_MAX:
        raise OverflowError(f"{n} does not fit an Avro long")
    z = (n << 1) ^ (n >> 63)
    return _VARINTS[(z.bit_length() + 6) // 7](z)


def _int(n: int) -> bytes:
    if not _INT_MIN <= n <= _INT_MAX:
        raise OverflowError(f"{n} does not fit an Avro int")
    return _long(n)


def _str(s: str) -> bytes:
    data = s.encode()
    return _long(len(data)) + data


def _bytes(data: bytes) -> bytes:
    if not isinstance(data, bytes | bytearray):
        raise TypeError(f"expected bytes, got {type(data).__name__}")
    return _long(len(data)) + bytes(data)


def _millis(value: datetime) -> bytes:
    if value.__class__ is int:
        return _long(typing.cast(int, value))
    if value.tzinfo is None:
        raise TypeError("naive datetime")  # fastavro's local-time rule applies; let it handle the case
    delta = value - _EPOCH
    return _long((delta.days * 86400 + delta.seconds) * 1000 + delta.microseconds // 1000)


def _rlong(b: bytes, p: int) -> tuple[int, int]:
    c = b[p]
    if c < 0x80:
        return (c >> 1) ^ -(c & 1), p + 1
    n = c & 0x7F
    shift = 7
    p += 1
    while True:
        c = b[p]
        p += 1
        n |= (c & 0x7F) << shift
        if c < 0x80:
            return (n >> 1) ^ -(n & 1), p
        shift += 7
        if shift > 63:
            raise CodecError("varint longer than 10 bytes")


def _rbytes(b: bytes, p: int) -> tuple[bytes, int]:
    n, p = _rlong(b, p)
    end = p + n
    if n < 0 or end > len(b):
        raise CodecError(f"truncated or corrupt: a length of {n} at byte {p} runs past the end ({len(b)} bytes)")
    return b[p:end], end


def _rstr(b: bytes, p: int) -> tuple[str, int]:
    raw, p = _rbytes(b, p)
    return raw.decode(), p


def _rts(b: bytes, p: int) -> tuple[datetime, int]:
    ms, p = _rlong(b, p)
    return _EPOCH + timedelta(0, 0, 0, ms), p  # positional (days, s, us, ms): cheaper than keywords


_HELPERS: dict[str, Any] = {
    "_long": _long,
    "_int": _int,
    "_str": _str,
    "_bytes": _bytes,
    "_millis": _millis,
    "_pf": _PACK_F,
    "_pd": _PACK_D,
    "_uf": _UNPACK_F,
    "_ud": _UNPACK_D,
    "_rlong": _rlong,
    "_rbytes": _rbytes,
    "_rstr": _rstr,
    "_rts": _rts,
    "_pack": struct.pack,
    "_unpack_from": struct.unpack_from,
    "_chain": chain.from_iterable,
    "CodecError": CodecError,
    "_new": object.__new__,
    "_lengths": [_long(n) for n in range(64)],
}


# --- the compiled codec -------------------------------------------------------------------------------------------


class RecordCodec:
    """Encode/decode one record class with its own (local) schema."""

    def __init__(self, name: str, encode: Callable[[Any, bytearray], None], decode: Callable[..., Any]) -> None:
        self.name = name
        self._encode = encode
        self._decode = decode

    def encode(self, record: Any, prefix: bytes = b"") -> bytes:
        """The body of ``record``, after ``prefix`` (the wire-format header) when given."""
        out = bytearray(prefix)
        self._encode(record, out)
        return bytes(out)

    def decode(self, data: bytes, start: int = 0) -> Any:
        """The record whose body is ``data[start:]`` (no copy of the body is made)."""
        try:
            record, end = self._decode(data, start)
        except CodecError:
            raise
        except (IndexError, struct.error) as exc:
            raise CodecError(f"truncated: {len(data) - start} bytes end inside the record ({exc})") from exc
        except UnicodeDecodeError as exc:
            raise CodecError(f"invalid UTF-8 in a string: {exc}") from exc
        except (ValueError, TypeError, OverflowError) as exc:
            raise CodecError(f"{type(exc).__name__}: {exc}") from exc
        if end != len(data):
            raise CodecError(f"{len(data) - end} trailing bytes after the record")
        return record


def compile_codec(schema: dict[str, Any], cls: type) -> RecordCodec | None:
    """A codec for ``cls`` under ``schema`` (raw .avsc JSON), or None if the schema needs fastavro."""
    try:
        builder = _Builder()
        enc_name, dec_name = builder.record(schema, cls, namespace=schema.get("namespace", ""))
        env = builder.compile()
    except _UnsupportedError:
        return None
    return RecordCodec(cls.__name__, env[enc_name], env[dec_name])


class _Builder:
    """Emits one encode and one decode function per record type, then compiles them together."""

    def __init__(self) -> None:
        self.env: dict[str, Any] = dict(_HELPERS)
        self.sources: list[str] = []
        self.named: dict[str, tuple[dict[str, Any], Any]] = {}  # full name -> (schema, python type)
        self.done: dict[str, tuple[str, str]] = {}
        self.counter = 0

    def compile(self) -> dict[str, Any]:
        # Generated from the local .avsc and record classes only (never from data), like dataclasses' __init__.
        exec("\n".join(self.sources), self.env)  # noqa: S102
        return self.env

    def _const(self, value: Any) -> str:
        self.counter += 1
        name = f"_k{self.counter}"
        self.env[name] = value
        return name

    # records -------------------------------------------------------------------------------------------------

    def record(self, schema: dict[str, Any], cls: Any, namespace: str) -> tuple[str, str]:
        full = _full_name(schema["name"], schema.get("namespace", namespace))
        if full in self.done:
            return self.done[full]
        if not (isinstance(cls, type) and dataclasses.is_dataclass(cls)):
            raise _UnsupportedError(f"{full} has no dataclass")
        self.named[full] = (schema, cls)
        ns = full.rpartition(".")[0]
        ident = full.replace(".", "_")
        enc, dec = f"e_{ident}", f"d_{ident}"
        self.done[full] = (enc, dec)
        hints = typing.get_type_hints(cls)
        names = [f.name for f in dataclasses.fields(cls)]
        schema_fields = [f["name"] for f in schema["fields"]]
        if schema_fields != names:
            raise _UnsupportedError(f"{full}: fields {schema_fields} differ from {cls.__name__} {names}")
        enc_lines = [f"def {enc}(r, w):"]
        dec_lines = [f"def {dec}(b, p):", "    lb = len(b)"]
        for i, field in enumerate(schema["fields"]):
            name = field["name"]
            enc_lines += self.encode_value(field["type"], hints[name], f"r.{name}", ns, 1)
            dec_lines += self.decode_value(field["type"], hints[name], f"f{i}", ns, 1)
        enc_lines.append("    return None")
        values = ", ".join(f"f{i}" for i in range(len(names)))
        dec_lines.append(f"    return {self.constructor(cls, names)}({values}), p")
        self.sources += ["\n".join(enc_lines), "\n".join(dec_lines)]
        return enc, dec

    def constructor(self, cls: Any, names: list[str]) -> str:
        """A name bound to a function building ``cls`` from its field values in order.

        Frozen slotted dataclasses spend most of their ``__init__`` in ``object.__setattr__``. Instead the object
        is built as an instance of a plain twin class with the same slots (ordinary, fast slot stores) and then
        given its real class, which CPython allows between classes of identical layout. The result is the same
        object ``cls(...)`` builds, in about a third of the time (33 keypoints per pose add up). Classes with
        ``__post_init__``, without slots, or whose layout the twin cannot match keep their own constructor.
        """
        ident = f"m_{cls.__module__}_{cls.__qualname__}".replace(".", "_")
        if ident in self.env:
            return ident
        slots = [cls.__dict__.get(name) for name in names]
        twin = None
        if not hasattr(cls, "__post_init__") and all(type(s) is types.MemberDescriptorType for s in slots):
            twin = _twin_class(cls, names)
        if twin is None:
            self.env[ident] = cls
            return ident
        args = ", ".join(f"v{i}" for i in range(len(names)))
        lines = [f"def {ident}({args}):", f"    o = _new({self._const(twin)})"]
        lines += [f"    o.{name} = v{i}" for i, name in enumerate(names)]
        lines += [f"    o.__class__ = {self._const(cls)}", "    return o"]
        self.sources.append("\n".join(lines))
        self.env[ident] = None  # reserved; bound by compile()
        return ident

    def resolve(self, avro: Any, namespace: str) -> Any:
        if isinstance(avro, str) and avro not in _PRIMITIVES:
            full = _full_name(avro, namespace)
            if full not in self.named:
                raise _UnsupportedError(f"unknown named type {avro}")
            return self.named[full][0]
        return avro

    # encoding ------------------------------------------------------------------------------------------------

    def encode_value(self, avro: Any, tp: Any, expr: str, ns: str, depth: int) -> list[str]:
        pad = "    " * depth
        avro = self.resolve(avro, ns)
        if isinstance(avro, list):
            return self.encode_union(avro, tp, expr, ns, depth)
        kind, logical = _kind(avro)
        if kind == "string" and (logical is None or (kind, logical) in _LOGICALS):
            # inlined _str(): most strings are shorter than 64 bytes, whose length is one precomputed byte
            return [
                f"{pad}s{depth} = {expr}.encode()",
                f"{pad}n{depth} = len(s{depth})",
                f"{pad}w += _lengths[n{depth}] if n{depth} < 64 else _long(n{depth})",
                f"{pad}w += s{depth}",
            ]
        if kind in _SIMPLE_ENCODERS and (logical is None or (kind, logical) in _LOGICALS):
            fn = "_millis" if logical == "timestamp-millis" else _SIMPLE_ENCODERS[kind]
            return [f"{pad}w += {fn}({expr})"]
        if kind == "boolean":
            return [f"{pad}w.append(1 if {expr} else 0)"]
        if kind in _FIXED:
            return [f"{pad}w += {'_pf' if kind == 'float' else '_pd'}({expr})"]
        if kind == "enum":
            table = {symbol: _long(i) for i, symbol in enumerate(avro["symbols"])}
            self.enum_members(avro, tp)  # checks the Python enum has every symbol
            return [f"{pad}w += {self._const(table)}[{expr}]"]
        if kind == "record":
            enc, _ = self.record(avro, tp, ns)
            return [f"{pad}{enc}({expr}, w)"]
        if kind == "array":
            return self.encode_array(avro, tp, expr, ns, depth)
        raise _UnsupportedError(f"type {avro!r}")

    def encode_union(self, branches: list[Any], tp: Any, expr: str, ns: str, depth: int) -> list[str]:
        null_index, value_index, value_type = _nullable(branches)
        pad = "    " * depth
        inner = _optional_inner(tp)
        var = f"u{depth}"
        return [
            f"{pad}{var} = {expr}",
            f"{pad}if {var} is None:",
            f"{pad}    w += {_long(null_index)!r}",
            f"{pad}else:",
            f"{pad}    w += {_long(value_index)!r}",
            *self.encode_value(value_type, inner, var, ns, depth + 1),
        ]

    def encode_array(self, avro: dict[str, Any], tp: Any, expr: str, ns: str, depth: int) -> list[str]:
        pad = "    " * depth
        item_tp = _list_item(tp)
        items = self.resolve(avro["items"], ns)
        var, item = f"a{depth}", f"x{depth}"
        lines = [f"{pad}{var} = {expr}", f"{pad}if {var}:", f"{pad}    w += _long(len({var}))"]
        packed = self.fixed_layout(items, item_tp, ns)
        if packed is not None:
            fmt, names = packed
            getter = self._const(attrgetter(*names) if len(names) > 1 else (lambda r, n=names[0]: (getattr(r, n),)))
            lines.append(f"{pad}    w += _pack('<' + {fmt!r} * len({var}), *_chain(map({getter}, {var})))")
        else:
            lines.append(f"{pad}    for {item} in {var}:")
            lines += self.encode_value(items, item_tp, item, ns, depth + 2)
        lines.append(f"{pad}w.append(0)")
        return lines

    # decoding ------------------------------------------------------------------------------------------------

    def decode_value(self, avro: Any, tp: Any, target: str, ns: str, depth: int) -> list[str]:
        pad = "    " * depth
        avro = self.resolve(avro, ns)
        if isinstance(avro, list):
            return self.decode_union(avro, tp, target, ns, depth)
        kind, logical = _kind(avro)
        if logical == "timestamp-millis" and kind == "long":
            return [f"{pad}{target}, p = _rts(b, p)"]
        if logical is not None and (kind, logical) not in _LOGICALS:
            raise _UnsupportedError(f"logical type {logical}")
        if kind in ("int", "long"):
            # inlined _rlong() for values in [-64, 63] (one byte); longer varints take the call
            return [
                f"{pad}c = b[p]",
                f"{pad}if c < 128:",
                f"{pad}    {target} = (c >> 1) ^ -(c & 1)",
                f"{pad}    p += 1",
                f"{pad}else:",
                f"{pad}    {target}, p = _rlong(b, p)",
            ]
        if kind == "string":
            # inlined _rstr() for strings shorter than 64 bytes (a one-byte, even length varint)
            return [
                f"{pad}c = b[p]",
                f"{pad}if c < 128 and not c & 1:",
                f"{pad}    e = p + 1 + (c >> 1)",
                f"{pad}    if e > lb:",
                f"{pad}        raise CodecError(f'truncated: {{c >> 1}}-byte string at byte {{p}}')",
                f"{pad}    {target} = b[p + 1 : e].decode()",
                f"{pad}    p = e",
                f"{pad}else:",
                f"{pad}    {target}, p = _rstr(b, p)",
            ]
        if kind == "bytes":
            return [f"{pad}{target}, p = _rbytes(b, p)"]
        if kind == "boolean":
            return [f"{pad}{target} = b[p] != 0", f"{pad}p += 1"]
        if kind in _FIXED:
            fn, size = ("_uf", 4) if kind == "float" else ("_ud", 8)
            return [f"{pad}{target} = {fn}(b, p)[0]", f"{pad}p += {size}"]
        if kind == "enum":
            members = self._const(dict(enumerate(self.enum_members(avro, tp))))
            return [
                f"{pad}i{depth}, p = _rlong(b, p)",
                f"{pad}{target} = {members}.get(i{depth})",
                f"{pad}if {target} is None:",
                f"{pad}    raise CodecError(f'invalid enum index {{i{depth}}} for {avro['name']}')",
            ]
        if kind == "record":
            _, dec = self.record(avro, tp, ns)
            return [f"{pad}{target}, p = {dec}(b, p)"]
        if kind == "array":
            return self.decode_array(avro, tp, target, ns, depth)
        raise _UnsupportedError(f"type {avro!r}")

    def decode_union(self, branches: list[Any], tp: Any, target: str, ns: str, depth: int) -> list[str]:
        null_index, value_index, value_type = _nullable(branches)
        pad = "    " * depth
        var = f"i{depth}"
        return [
            f"{pad}{var}, p = _rlong(b, p)",
            f"{pad}if {var} == {null_index}:",
            f"{pad}    {target} = None",
            f"{pad}elif {var} == {value_index}:",
            *self.decode_value(value_type, _optional_inner(tp), target, ns, depth + 1),
            f"{pad}else:",
            f"{pad}    raise CodecError(f'invalid union index {{{var}}}')",
        ]

    def decode_array(self, avro: dict[str, Any], tp: Any, target: str, ns: str, depth: int) -> list[str]:
        pad = "    " * depth
        item_tp = _list_item(tp)
        items = self.resolve(avro["items"], ns)
        n, item = f"n{depth}", f"x{depth}"
        lines = [
            f"{pad}{target} = []",
            f"{pad}{n}, p = _rlong(b, p)",
            f"{pad}while {n}:",
            f"{pad}    if {n} < 0:",  # a block with its byte size first
            f"{pad}        {n} = -{n}",
            f"{pad}        _, p = _rlong(b, p)",
            # every item takes at least one byte: refuses absurd counts before looping on them
            f"{pad}    if {n} > len(b) - p:",
            f"{pad}        raise CodecError(f'array of {{{n}}} items in {{len(b) - p}} bytes')",
        ]
        packed = self.fixed_layout(items, item_tp, ns)
        if packed is not None:
            fmt, names = packed
            size = struct.calcsize("<" + fmt)
            cls = self.constructor(item_tp, names)
            it = f"it{depth}"
            lines += [
                f"{pad}    {it} = iter(_unpack_from('<' + {fmt!r} * {n}, b, p))",
                f"{pad}    p += {size} * {n}",
                f"{pad}    {target} += map({cls}, {', '.join([it] * len(names))})",
            ]
        else:
            lines += [f"{pad}    for _ in range({n}):"]
            lines += self.decode_value(items, item_tp, item, ns, depth + 2)
            lines += [f"{pad}        {target}.append({item})"]
        lines.append(f"{pad}    {n}, p = _rlong(b, p)")
        return lines

    # helpers ------------------------------------------------------------------------------------------------

    def fixed_layout(self, avro: Any, tp: Any, ns: str) -> tuple[str, list[str]] | None:
        """(struct format, field names) when ``avro`` is a record of floats/doubles only, else None."""
        if not (isinstance(avro, dict) and avro.get("type") == "record" and dataclasses.is_dataclass(tp)):
            return None
        kinds = [f["type"] for f in avro["fields"]]
        if not kinds or any(not isinstance(k, str) or k not in _FIXED for k in kinds):
            return None
        self.record(avro, tp, ns)  # registers the named type and checks field order against the class
        return "".join(_FIXED[k][0] for k in kinds), [f["name"] for f in avro["fields"]]

    def enum_members(self, avro: dict[str, Any], tp: Any) -> list[Enum]:
        if not (isinstance(tp, type) and issubclass(tp, Enum)):
            raise _UnsupportedError(f"enum {avro['name']} has no Python enum")
        try:
            return [tp(symbol) for symbol in avro["symbols"]]
        except ValueError as exc:
            raise _UnsupportedError(str(exc)) from exc


def _twin_class(cls: type, names: list[str]) -> type | None:
    """A mutable class with the slots of ``cls``, whose instances may become ``cls`` instances; None if not."""
    twin = type(f"_{cls.__name__}Twin", (), {"__slots__": tuple(names)})
    probe: Any = object.__new__(twin)
    try:
        probe.__class__ = cls
    except TypeError:
        return None
    return twin


_PRIMITIVES = {"null", "boolean", "int", "long", "float", "double", "bytes", "string"}
_SIMPLE_ENCODERS = {"int": "_int", "long": "_long", "string": "_str", "bytes": "_bytes"}
_LOGICALS = {("long", "timestamp-millis"), ("string", "uuid")}


def _kind(avro: Any) -> tuple[str, str | None]:
    if isinstance(avro, str):
        return avro, None
    if isinstance(avro, dict):
        return str(avro["type"]), avro.get("logicalType")
    raise _UnsupportedError(f"type {avro!r}")


def _full_name(name: str, namespace: str) -> str:
    return name if "." in name or not namespace else f"{namespace}.{name}"


def _nullable(branches: list[Any]) -> tuple[int, int, Any]:
    if len(branches) != 2 or "null" not in branches:
        raise _UnsupportedError(f"union {branches}")
    null_index = branches.index("null")
    return null_index, 1 - null_index, branches[1 - null_index]


def _optional_inner(tp: Any) -> Any:
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        inner = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(inner) == 1:
            return inner[0]
    raise _UnsupportedError(f"{tp} is not optional")


def _list_item(tp: Any) -> Any:
    if typing.get_origin(tp) is list:
        return typing.get_args(tp)[0]
    raise _UnsupportedError(f"{tp} is not a list")
