"""Avro values in the Confluent wire format: magic byte 0, 4-byte big-endian schema id, schemaless Avro body.

Subjects follow TopicNameStrategy (``<topic>-value``); the schema of a record is the local ``.avsc`` named
like its class. Decoding resolves the writer schema by id through the registry and reads it with the local
schema as reader (Avro schema resolution), so consumers keep working while producers move to a newer,
BACKWARD_TRANSITIVE-compatible version.

Errors: bytes that are not a valid record -> ``DecodeError`` with the reason; a record whose values do not
fit its schema -> ``ValidationError``; an unreachable registry -> ``TransientError``.
"""

from __future__ import annotations

import io
import struct
import typing
from dataclasses import dataclass
from typing import Any, TypeVar

import fastavro
from fastavro.schema import to_parsing_canonical_form
from fastavro.validation import ValidationError as _AvroValidationError
from fastavro.validation import validate

from anomaly_core.avro_codec import CodecError, RecordCodec, compile_codec
from anomaly_core.errors import DecodeError, ValidationError
from anomaly_core.registry import RegistryClient, UnknownSchemaError, subject_for
from schemas.catalog import parsed_schema, schema_json
from schemas.convert import decoder, encoder

T = TypeVar("T")

MAGIC_BYTE = 0
_HEADER = struct.Struct(">bI")
_SCHEMA_ID = struct.Struct(">I")
HEADER_SIZE = _HEADER.size


def frame(schema_id: int, body: bytes) -> bytes:
    """Prefixes an Avro body with the wire-format header."""
    return _HEADER.pack(MAGIC_BYTE, schema_id) + body


def unframe(data: bytes | None) -> tuple[int, bytes]:
    """Splits wire-format bytes into (schema id, body); DecodeError when the header is not ours."""
    if data is None:
        raise DecodeError("no value (tombstone or null value)")
    if len(data) < HEADER_SIZE:
        raise DecodeError(f"truncated header: {len(data)} bytes, the wire format needs at least {HEADER_SIZE}")
    magic, schema_id = _HEADER.unpack_from(data)
    if magic != MAGIC_BYTE:
        raise DecodeError(f"unknown magic byte 0x{magic & 0xFF:02x} (expected 0x00, Confluent wire format)")
    return schema_id, data[HEADER_SIZE:]


@dataclass(frozen=True, slots=True)
class _LocalSchema:
    """The reader side for one record class: the local .avsc and the codecs built from it."""

    name: str
    full_name: str
    parsed: Any
    canonical: str
    codec: RecordCodec | None  # None when the schema uses a type the compiled codec does not handle


@dataclass(frozen=True, slots=True)
class _WriterSchema:
    schema_id: int
    full_name: str
    parsed: Any
    canonical: str


class AvroSerde:
    """Encodes records to, and decodes them from, the Confluent wire format through a schema registry.

    The steady state is two dict lookups per record: the header (and codec) of a (topic, class) for encoding,
    the codec of a (schema id, class) whose writer schema is the local one for decoding. Everything else
    (registration, writer schemas from other versions, errors) is resolved once and cached.
    """

    def __init__(self, registry: RegistryClient) -> None:
        self.registry = registry
        self._ids: dict[tuple[str, str], int] = {}
        self._headers: dict[tuple[str, type], tuple[bytes, RecordCodec | None]] = {}
        self._locals: dict[type, _LocalSchema] = {}
        self._writers: dict[int, _WriterSchema] = {}
        self._readers: dict[tuple[int, type], RecordCodec] = {}  # (schema id, class) -> codec, writer == local

    # --- encoding -----------------------------------------------------------------------------------------------

    def schema_id(self, topic: str, cls: type) -> int:
        """The registry id of ``cls``'s schema under ``<topic>-value`` (registered on first use)."""
        key = (topic, cls.__name__)
        schema_id = self._ids.get(key)
        if schema_id is None:
            schema_id = self.registry.register(subject_for(topic), schema_json(cls.__name__))
            self._ids[key] = schema_id
        return schema_id

    def encode(self, topic: str, record: Any) -> bytes:
        """``record`` as wire-format bytes for ``topic``. ValidationError if it does not fit its schema."""
        cls = type(record)
        cached = self._headers.get((topic, cls))
        if cached is None:
            header = _HEADER.pack(MAGIC_BYTE, self.schema_id(topic, cls))
            cached = self._headers[(topic, cls)] = (header, self._local(cls).codec)
        header, codec = cached
        if codec is not None:
            try:
                return codec.encode(record, header)
            except Exception:  # noqa: S110 - the fastavro path below is authoritative and explains the failure
                pass
        return header + _fastavro_encode(self._local(cls), record)

    def encode_body(self, record: Any) -> bytes:
        """The schemaless Avro body of ``record`` (no header, no registry)."""
        local = self._local(type(record))
        if local.codec is not None:
            try:
                return local.codec.encode(record)
            except Exception:  # noqa: S110 - the fastavro path below is authoritative and explains the failure
                pass
        return _fastavro_encode(local, record)

    # --- decoding -----------------------------------------------------------------------------------------------

    def decode(self, topic: str, data: bytes | None, cls: type[T]) -> T:
        """The record of type ``cls`` in wire-format ``data`` read from ``topic``; DecodeError with a reason."""
        if data is None or len(data) < HEADER_SIZE or data[0] != MAGIC_BYTE:
            unframe(data)  # raises the precise DecodeError
        data = typing.cast(bytes, data)
        schema_id = _SCHEMA_ID.unpack_from(data, 1)[0]
        codec = self._readers.get((schema_id, cls))
        if codec is not None:  # the steady state: our own schema, read in place after the header
            try:
                record: T = codec.decode(data, HEADER_SIZE)
            except CodecError as exc:
                raise DecodeError(f"corrupt {cls.__name__} body (schema id {schema_id}): {exc}") from exc
            return record
        writer = self._writer(schema_id)
        local = self._local(cls)
        if writer.full_name == local.full_name and writer.canonical == local.canonical and local.codec is not None:
            self._readers[(schema_id, cls)] = local.codec
        return self.decode_body(data[HEADER_SIZE:], writer, cls, topic=topic)

    def decode_body(self, body: bytes, writer: _WriterSchema, cls: type[T], *, topic: str = "") -> T:
        local = self._local(cls)
        if writer.full_name != local.full_name:
            raise DecodeError(
                f"schema mismatch: schema id {writer.schema_id} is a {writer.full_name} record, "
                f"expected {local.full_name}" + (f" on {topic}" if topic else "")
            )
        if writer.canonical == local.canonical and local.codec is not None:
            try:
                record: T = local.codec.decode(body)
            except CodecError as exc:
                raise DecodeError(f"corrupt {local.name} body (schema id {writer.schema_id}): {exc}") from exc
            return record
        return _fastavro_decode(body, writer, local, cls)

    def _writer(self, schema_id: int) -> _WriterSchema:
        writer = self._writers.get(schema_id)
        if writer is None:
            try:
                raw = self.registry.schema(schema_id)
            except UnknownSchemaError as exc:
                raise DecodeError(f"unknown schema id {schema_id}: not in the registry") from exc
            writer = _parse_writer(schema_id, raw)
            self._writers[schema_id] = writer
        return writer

    def _local(self, cls: type) -> _LocalSchema:
        local = self._locals.get(cls)
        if local is None:
            local = _local_schema(cls)
            self._locals[cls] = local
        return local


def _parse_writer(schema_id: int, raw: Any) -> _WriterSchema:
    try:
        parsed = fastavro.parse_schema(raw)
    except Exception as exc:
        raise DecodeError(f"schema id {schema_id} is not an Avro schema we can read: {exc}") from exc
    name = parsed.get("name", parsed.get("type")) if isinstance(parsed, dict) else str(parsed)
    return _WriterSchema(schema_id, str(name), parsed, to_parsing_canonical_form(raw))


def _local_schema(cls: type) -> _LocalSchema:
    raw = schema_json(cls.__name__)
    parsed = parsed_schema(cls.__name__)
    codec = compile_codec(raw, cls)
    return _LocalSchema(cls.__name__, parsed["name"], parsed, to_parsing_canonical_form(raw), codec)


def _fastavro_encode(local: _LocalSchema, record: Any) -> bytes:
    buf = io.BytesIO()
    try:
        datum = encoder(type(record))(record)
        fastavro.schemaless_writer(buf, local.parsed, datum)
    except Exception as exc:
        raise ValidationError(f"{local.name} does not fit its schema: {_explain(local, record, exc)}") from exc
    return buf.getvalue()


def _explain(local: _LocalSchema, record: Any, exc: Exception) -> str:
    """The precise complaint of fastavro's validator (field path and value), else the writer's error."""
    try:
        validate(encoder(type(record))(record), local.parsed, raise_errors=True)
    except _AvroValidationError as verr:
        return "; ".join(str(e).strip() for e in verr.errors) or str(verr)
    except Exception as other:
        return f"{type(other).__name__}: {other}"
    return f"{type(exc).__name__}: {exc}"


def _fastavro_decode(body: bytes, writer: _WriterSchema, local: _LocalSchema, cls: type[T]) -> T:
    """Schema resolution from an older (or otherwise different) writer schema to the local reader schema."""
    stream = io.BytesIO(body)
    reader = None if writer.canonical == local.canonical else local.parsed
    try:
        datum = fastavro.schemaless_reader(stream, writer.parsed, reader)
    except fastavro.read.SchemaResolutionError as exc:
        raise DecodeError(
            f"schema mismatch: writer schema id {writer.schema_id} cannot be read as {local.name}: {exc}"
        ) from exc
    except (EOFError, struct.error) as exc:
        raise DecodeError(f"truncated {local.name} body (schema id {writer.schema_id}): {exc}") from exc
    except UnicodeDecodeError as exc:
        raise DecodeError(f"invalid UTF-8 in a {local.name} string: {exc}") from exc
    except Exception as exc:
        raise DecodeError(
            f"corrupt {local.name} body (schema id {writer.schema_id}): {type(exc).__name__}: {exc}"
        ) from exc
    rest = len(body) - stream.tell()
    if rest:
        raise DecodeError(f"{rest} trailing bytes after the {local.name} record (schema id {writer.schema_id})")
    try:
        record: T = decoder(cls)(datum)
    except (ValueError, TypeError, KeyError) as exc:
        raise DecodeError(f"{local.name} values do not fit the record: {type(exc).__name__}: {exc}") from exc
    return record
