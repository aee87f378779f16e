"""Which cameras are registered (the producers' ``cameras`` table), for rejecting scores of unknown cameras."""

from __future__ import annotations

import logging
import time

import psycopg

from anomaly_core.db import connect
from anomaly_core.errors import TransientError

log = logging.getLogger(__name__)


class RegisteredCameras:
    """A callable ``camera_id -> bool`` over the cameras table, re-read every ``refresh_s``.

    A camera registered after the last read is looked up once more before being called unknown, so a new
    camera's first scores are not dead-lettered for being quicker than the refresh.
    """

    def __init__(self, dsn: str, refresh_s: float = 30.0) -> None:
        self.dsn = dsn
        self.refresh_s = refresh_s
        self._known: frozenset[str] | None = None
        self._read_at = 0.0

    def __call__(self, camera_id: str) -> bool:
        if self._known is None or time.monotonic() - self._read_at > self.refresh_s:
            self._reload()
        assert self._known is not None
        if camera_id in self._known:
            return True
        if time.monotonic() - self._read_at > 1.0:
            self._reload()
        return camera_id in self._known

    def _reload(self) -> None:
        try:
            with connect(self.dsn) as conn:
                rows = conn.execute("select camera_id from cameras").fetchall()
        except (psycopg.Error, TransientError) as exc:
            if self._known is None:
                raise TransientError(f"cannot read the registered cameras: {exc}") from exc
            log.warning("keeping the previous camera list: %s", exc)
            self._read_at = time.monotonic()
            return
        self._known = frozenset(r[0] for r in rows)
        self._read_at = time.monotonic()
