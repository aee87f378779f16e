"""Deterministic sample values for any Avro schema, and sample instances of the records.

Used by the contract tests (round trips, old writer versions read by the new reader) and by benchmarks.
``variant`` walks the choices (enum symbol, union branch, array length), so a handful of variants cover
every symbol and branch; values are exact in Avro (float32-representable floats, millisecond timestamps).
"""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from schemas.catalog import schema_json
from schemas.convert import from_avro

T = TypeVar("T")

_BASE_TIME = datetime(2024, 5, 17, 8, 30, tzinfo=UTC)


def sample_datum(schema: Any, variant: int = 0, *, seed: int = 0) -> Any:
    """A value of ``schema`` (raw JSON form) as fastavro writes it; logical types as their Python values."""
    sampler = _Sampler(variant, random.Random(f"{seed}/{variant}"))
    sampler.collect(schema, "")
    return sampler.value(schema, "")


def variants_needed(schema: Any) -> int:
    """How many variants it takes to see every enum symbol and union branch of ``schema`` at least once."""
    widest = 3  # array lengths 0, 1, 2
    stack = [schema]
    while stack:
        node = stack.pop()
        if isinstance(node, list):
            widest = max(widest, len(node))
            stack.extend(node)
        elif isinstance(node, dict):
            if node.get("type") == "enum":
                widest = max(widest, len(node["symbols"]))
            stack.extend(f["type"] for f in node.get("fields", []))
            if "items" in node:
                stack.append(node["items"])
            if isinstance(node.get("type"), dict | list):
                stack.append(node["type"])
    return widest


def sample_record(cls: type[T], variant: int = 0, *, seed: int = 0) -> T:
    """An instance of the top-level record class ``cls`` built from a sample of its schema."""
    return from_avro(cls, sample_datum(schema_json(cls.__name__), variant, seed=seed))


class _Sampler:
    def __init__(self, variant: int, rng: random.Random) -> None:
        self.variant = variant
        self.rng = rng
        self.named: dict[str, Any] = {}

    def collect(self, schema: Any, namespace: str) -> None:
        """Registers every named type first: a reference may come before the definition is sampled."""
        if isinstance(schema, list):
            for branch in schema:
                self.collect(branch, namespace)
        elif isinstance(schema, dict):
            kind = schema["type"]
            if kind in ("record", "enum", "fixed"):
                ns = schema.get("namespace", namespace)
                self.named[schema["name"] if "." in schema["name"] else f"{ns}.{schema['name']}"] = schema
                self.named[schema["name"].rpartition(".")[2]] = schema
                for field in schema.get("fields", []):
                    self.collect(field["type"], ns)
            elif kind == "array":
                self.collect(schema["items"], namespace)
            elif kind == "map":
                self.collect(schema["values"], namespace)
            elif isinstance(kind, dict | list):
                self.collect(kind, namespace)

    def value(self, schema: Any, namespace: str) -> Any:
        if isinstance(schema, list):
            branch = schema[self.variant % len(schema)]
            return self.value(branch, namespace)
        if isinstance(schema, str):
            if schema in self.named or f"{namespace}.{schema}" in self.named:
                return self.value(self.named.get(schema) or self.named[f"{namespace}.{schema}"], namespace)
            return self.primitive(schema, None)
        kind = schema["type"]
        if isinstance(kind, dict | list):
            return self.value(kind, namespace)
        if kind == "record":
            ns = schema.get("namespace", namespace)
            return {f["name"]: self.value(f["type"], ns) for f in schema["fields"]}
        if kind == "enum":
            return schema["symbols"][self.variant % len(schema["symbols"])]
        if kind == "array":
            return [self.value(schema["items"], namespace) for _ in range(self.variant % 3)]
        if kind == "map":
            return {f"k{i}": self.value(schema["values"], namespace) for i in range(self.variant % 3)}
        if kind == "fixed":
            return self.rng.randbytes(schema["size"])
        return self.primitive(kind, schema.get("logicalType"))

    def primitive(self, kind: str, logical: str | None) -> Any:
        rng = self.rng
        if logical == "uuid":
            return str(uuid.UUID(int=rng.getrandbits(128), version=4))
        if logical == "timestamp-millis":
            return _BASE_TIME + timedelta(milliseconds=rng.randrange(0, 10**9))
        samples = {
            "null": lambda: None,
            "boolean": lambda: bool(self.variant % 2),
            "int": lambda: rng.randint(-(2**31), 2**31 - 1),
            "long": lambda: rng.randint(-(2**63), 2**63 - 1),
            # multiples of 1/64 below 2^16 are exact in float32, so values survive a round trip unchanged
            "float": lambda: rng.randint(-(2**22), 2**22) / 64,
            "double": lambda: rng.uniform(-1e6, 1e6),
            "bytes": lambda: rng.randbytes(rng.randint(0, 8)),
            "string": lambda: "".join(rng.choice("abcdefghij é✓") for _ in range(rng.randint(0, 12))),
        }
        if kind not in samples:
            raise ValueError(f"no sample for Avro type {kind!r}")
        return samples[kind]()
