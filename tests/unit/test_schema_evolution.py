"""BACKWARD_TRANSITIVE offline: the current .avsc reads data written by every committed version of it.

Golden records are generated from each old version (every enum symbol, union branch, array shape), written
with that old schema and read with the current one through fastavro's schema resolution. The checker itself
is tested on deliberately incompatible edits.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from schemas.catalog import AVSC_DIR, schema_json, schema_names
from schemas.compat import backward_problems, is_backward_compatible

REPO = AVSC_DIR.parents[1]


def _git(*args: str) -> str:
    return subprocess.run(["git", "-C", str(REPO), *args], check=True, capture_output=True, text=True).stdout


def _has_history() -> bool:
    if shutil.which("git") is None or not (REPO / ".git").exists():
        return False
    try:
        _git("rev-parse", "HEAD")
    except subprocess.CalledProcessError:
        return False
    return True


def committed_versions(name: str) -> list[tuple[str, dict[str, Any]]]:
    """(commit, schema) for every commit that changed ``schemas/avsc/<name>.avsc``, following renames."""
    path = (AVSC_DIR / f"{name}.avsc").relative_to(REPO).as_posix()
    log = _git("log", "--follow", "--format=@%H", "--name-only", "--", path)
    versions: list[tuple[str, dict[str, Any]]] = []
    commit = ""
    for line in log.splitlines():
        if line.startswith("@"):
            commit = line[1:]
        elif line.strip():
            try:
                text = _git("show", f"{commit}:{line.strip()}")
            except subprocess.CalledProcessError:
                continue  # deleted in that commit
            versions.append((commit[:10], json.loads(text)))
    return versions


@pytest.mark.skipif(not _has_history(), reason="needs the git history of schemas/avsc")
@pytest.mark.parametrize("name", schema_names())
def test_current_schema_reads_every_committed_version(name: str) -> None:
    current = schema_json(name)
    for commit, old in committed_versions(name):
        problems = backward_problems(old, current)
        assert not problems, f"{name}.avsc cannot read data written by {commit}: {problems}"


@pytest.mark.parametrize("name", schema_names())
def test_current_schema_reads_itself(name: str) -> None:
    assert is_backward_compatible(schema_json(name), schema_json(name))


# --- the checker itself ------------------------------------------------------------------------------------------


def _frame_ref() -> dict[str, Any]:
    return copy.deepcopy(schema_json("FrameRef"))


def _field(schema: dict[str, Any], name: str) -> dict[str, Any]:
    return next(f for f in schema["fields"] if f["name"] == name)


def test_checker_accepts_an_added_field_with_default() -> None:
    new = _frame_ref()
    new["fields"].append({"name": "exposure_ms", "type": ["null", "int"], "default": None})
    new["fields"].append({"name": "codec", "type": "string", "default": "jpeg"})
    assert backward_problems(_frame_ref(), new) == []


def test_checker_accepts_a_removed_field_and_a_promoted_type() -> None:
    new = _frame_ref()
    new["fields"] = [f for f in new["fields"] if f["name"] != "media_offset_ms"]
    _field(new, "width")["type"] = "long"  # int -> long is a legal promotion
    assert backward_problems(_frame_ref(), new) == []


def test_checker_refuses_a_new_field_without_default() -> None:
    new = _frame_ref()
    new["fields"].append({"name": "exposure_ms", "type": "int"})
    problems = backward_problems(_frame_ref(), new)
    assert problems and "exposure_ms" in " ".join(problems)


def test_checker_refuses_a_changed_type() -> None:
    new = _frame_ref()
    _field(new, "width")["type"] = "string"
    assert not is_backward_compatible(_frame_ref(), new)


def test_checker_refuses_a_removed_enum_symbol_without_default() -> None:
    new = _frame_ref()
    kind = _field(new, "source_kind")["type"]
    kind["symbols"] = ["FILE", "STREAM"]
    del kind["default"]
    assert not is_backward_compatible(_frame_ref(), new)


def test_checker_refuses_nullable_made_required() -> None:
    old = copy.deepcopy(schema_json("AudioScore"))
    new = copy.deepcopy(old)
    _field(new, "language")["type"] = "string"
    del _field(new, "language")["default"]
    assert not is_backward_compatible(old, new)


def test_checker_refuses_a_schema_that_does_not_parse() -> None:
    new = _frame_ref()
    _field(new, "width")["type"] = "integer"
    assert backward_problems(_frame_ref(), new)


def test_history_lookup_finds_the_first_commit(tmp_path: Path) -> None:
    if not _has_history():
        pytest.skip("no git history")
    versions = committed_versions("FrameRef")
    assert versions, "FrameRef.avsc has at least one committed version"
    assert all(v["name"] == "FrameRef" for _, v in versions)


# --- FrameRef before the motion gate -------------------------------------------------------------------------------


def test_frame_ref_written_before_stages_reads_as_for_every_stage() -> None:
    """A FrameRef written without ``stages``/``motion`` (before the producer's motion gate) is for every stage."""
    import io

    import fastavro

    from schemas.convert import from_avro
    from schemas.records import FrameRef, FrameStage
    from schemas.samples import sample_datum

    old = _frame_ref()
    old["fields"] = [f for f in old["fields"] if f["name"] not in ("stages", "motion")]
    assert backward_problems(old, schema_json("FrameRef")) == []
    datum = sample_datum(old)
    buf = io.BytesIO()
    fastavro.schemaless_writer(buf, fastavro.parse_schema(old), datum)
    buf.seek(0)
    read = fastavro.schemaless_reader(buf, fastavro.parse_schema(old), fastavro.parse_schema(_frame_ref()))
    ref = from_avro(FrameRef, read)
    assert ref.stages == [FrameStage.POSE, FrameStage.SCENE]
    assert ref.is_for(FrameStage.POSE) and ref.is_for(FrameStage.SCENE)
    assert ref.motion == 0.0
    assert ref.event_id == str(datum["event_id"]) and ref.seq == datum["seq"]


def test_frame_ref_stages_round_trip() -> None:
    import io

    import fastavro

    from schemas.catalog import parsed_schema
    from schemas.convert import from_avro, to_avro
    from schemas.records import FrameRef, FrameStage
    from schemas.samples import sample_record

    base = sample_record(FrameRef)
    for stages in ([FrameStage.POSE], [FrameStage.POSE, FrameStage.SCENE], []):
        ref = dataclasses.replace(base, stages=stages, motion=0.25)
        buf = io.BytesIO()
        fastavro.schemaless_writer(buf, parsed_schema("FrameRef"), to_avro(ref))
        buf.seek(0)
        back = from_avro(FrameRef, fastavro.schemaless_reader(buf, parsed_schema("FrameRef")))
        assert back == ref
        assert back.is_for(FrameStage.SCENE) is (FrameStage.SCENE in stages)


def test_audio_score_written_before_intents_reads_with_no_intent() -> None:
    import fastavro

    if not _has_history():
        pytest.skip("no git history")
    before = [s for _, s in committed_versions("AudioScore") if "intent" not in {f["name"] for f in s["fields"]}]
    old = before[0] if before else None
    if old is None:
        pytest.skip("every committed AudioScore has intents")
    import io

    current = schema_json("AudioScore")
    assert backward_problems(old, current) == []
    buf = io.BytesIO()
    fastavro.schemaless_writer(buf, fastavro.parse_schema(copy.deepcopy(old)), _example(old))
    buf.seek(0)
    read = fastavro.schemaless_reader(
        buf, fastavro.parse_schema(copy.deepcopy(old)), fastavro.parse_schema(copy.deepcopy(current))
    )
    assert isinstance(read, dict) and read["intent"] is None and read["transcript"] == ""


def _example(schema: dict[str, Any]) -> dict[str, Any]:
    """A minimal valid AudioScore value of an old schema (nested refs filled in)."""
    ref = {"bucket": "b", "key": "k", "sha256": "0" * 64, "size_bytes": 1, "content_type": "audio/wav"}
    return {
        "event_id": "00000000-0000-0000-0000-000000000001", "camera_id": "c",
        "source": {"event_id": "00000000-0000-0000-0000-000000000002", "topic": "t", "partition": 0, "offset": 0},
        "event_time": 0, "model": {"name": "m", "version": "v"}, "processed_at": 0, "latency_ms": 1.0,
        "audio": ref, "duration_ms": 2000, "transcript": "", "language": None, "language_probability": 0.0,
        "matched_phrases": [], "loudness_dbfs": -40.0, "peak_dbfs": -30.0, "sudden_loudness": False,
        "speech_ratio": 0.0, "vad_skipped": True,
    }  # fmt: skip
