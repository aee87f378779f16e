"""Where things live: the per-checkout stack folder and the per-user cache."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from anomaly_core.settings import StackSettings

# devstack/ sits at the top of the checkout; a relative STACK_DIR is resolved from there so that
# `anomaly stack status` run from a sub-folder still finds this checkout's stack.
CHECKOUT_ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class StackPaths:
    root: Path
    cache: Path

    @classmethod
    def from_settings(cls, settings: StackSettings) -> StackPaths:
        root = settings.dir.expanduser()
        if not root.is_absolute():
            root = CHECKOUT_ROOT / root
        return cls(root=root, cache=settings.cache_dir.expanduser().resolve())

    def data(self, service: str) -> Path:
        return self.root / service

    def log(self, service: str) -> Path:
        return self.root / "logs" / f"{service}.log"

    def pidfile(self, service: str) -> Path:
        return self.root / "run" / f"{service}.json"

    @property
    def lock(self) -> Path:
        return self.root / ".lock"
