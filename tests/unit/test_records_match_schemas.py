"""Each dataclass in schemas/records.py mirrors its .avsc: names, order, nullability, types, enum symbols."""

from __future__ import annotations

import dataclasses
import io
import types
import typing
from datetime import datetime
from enum import Enum
from typing import Any

import fastavro
import pytest

from schemas import records
from schemas.catalog import parsed_schema, schema_json, schema_names
from schemas.convert import from_avro, to_avro
from schemas.samples import sample_record, variants_needed

_PRIMITIVES = {"string": str, "long": int, "int": int, "float": float, "double": float, "boolean": bool, "bytes": bytes}
_LOGICAL = {("string", "uuid"): str, ("long", "timestamp-millis"): datetime}


def _optional(tp: Any) -> tuple[bool, Any]:
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        assert len(args) == 1, f"{tp}: only X | None unions map to Avro"
        return True, args[0]
    return False, tp


def _check_type(avro: Any, tp: Any, where: str, named: dict[str, Any]) -> None:
    if isinstance(avro, list):
        assert "null" in avro and len(avro) == 2, f"{where}: only [null, X] unions are used"
        nullable, inner = _optional(tp)
        assert nullable, f"{where}: Avro is nullable, the record field is not"
        _check_type(next(a for a in avro if a != "null"), inner, where, named)
        return
    nullable, _ = _optional(tp)
    assert not nullable, f"{where}: the record field is Optional, Avro is not nullable"
    if isinstance(avro, str) and avro in named:
        avro = named[avro]
    if isinstance(avro, str):
        assert tp is _PRIMITIVES[avro], f"{where}: Avro {avro} vs {tp}"
        return
    kind, logical = avro["type"], avro.get("logicalType")
    if logical:
        assert tp is _LOGICAL[(kind, logical)], f"{where}: Avro {kind}/{logical} vs {tp}"
    elif kind == "array":
        assert typing.get_origin(tp) is list, f"{where}: Avro array vs {tp}"
        _check_type(avro["items"], typing.get_args(tp)[0], f"{where}[]", named)
    elif kind == "enum":
        named[avro["name"]] = avro
        assert isinstance(tp, type) and issubclass(tp, Enum), f"{where}: Avro enum vs {tp}"
        assert tp.__name__ == avro["name"], f"{where}: enum {avro['name']} vs {tp.__name__}"
        assert [m.value for m in tp] == avro["symbols"], f"{where}: enum symbols differ"
        assert "default" not in avro or avro["default"] in avro["symbols"]
    elif kind == "record":
        _check_record(avro, tp, named)
    else:
        assert tp is _PRIMITIVES[kind], f"{where}: Avro {kind} vs {tp}"


def _check_record(avro: dict[str, Any], cls: Any, named: dict[str, Any]) -> None:
    named[avro["name"]] = avro
    assert dataclasses.is_dataclass(cls), f"{avro['name']}: {cls} is not a dataclass"
    assert cls.__name__ == avro["name"]
    fields = dataclasses.fields(cls)
    assert [f.name for f in fields] == [f["name"] for f in avro["fields"]], f"{avro['name']}: field names/order"
    hints = typing.get_type_hints(cls)
    for py_field, av_field in zip(fields, avro["fields"], strict=True):
        where = f"{avro['name']}.{py_field.name}"
        _check_type(av_field["type"], hints[py_field.name], where, named)
        has_py_default = (
            py_field.default is not dataclasses.MISSING or py_field.default_factory is not dataclasses.MISSING
        )
        if "default" in av_field and has_py_default:
            # a reader fills the Avro default in for old data; a record built without the field must agree
            factory = py_field.default_factory
            py_default = py_field.default if factory is dataclasses.MISSING else factory()
            assert to_avro(py_default) == av_field["default"], f"{where}: default differs"


@pytest.mark.parametrize("name", sorted(records.TOP_LEVEL))
def test_record_matches_schema(name: str) -> None:
    _check_record(schema_json(name), records.TOP_LEVEL[name], {})


def test_every_top_level_schema_has_a_record() -> None:
    nested_only = {"ModelInfo", "ObjectRef", "SourceRef"}  # shared building blocks, also shipped standalone
    assert set(schema_names()) - nested_only == set(records.TOP_LEVEL)
    for name in nested_only:
        _check_record(schema_json(name), getattr(records, name), {})


@pytest.mark.parametrize("name", sorted(records.TOP_LEVEL))
def test_round_trip_through_fastavro(name: str) -> None:
    cls = records.TOP_LEVEL[name]
    for variant in range(variants_needed(schema_json(name))):
        record = sample_record(cls, variant)
        buf = io.BytesIO()
        fastavro.schemaless_writer(buf, parsed_schema(name), to_avro(record))
        buf.seek(0)
        back = from_avro(cls, fastavro.schemaless_reader(buf, parsed_schema(name)))
        assert back == record, f"{name} variant {variant}"


def test_frame_ref_dict_without_stages_takes_the_record_defaults() -> None:
    """A dict from a writer older than the motion gate lacks ``stages``/``motion``: the frame is for every stage."""
    datum = to_avro(sample_record(records.FrameRef))
    del datum["stages"], datum["motion"]
    ref = from_avro(records.FrameRef, datum)
    assert ref.stages == [records.FrameStage.POSE, records.FrameStage.SCENE]
    assert ref.motion == 0.0
