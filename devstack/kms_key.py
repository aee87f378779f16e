"""The embedded MinIO's master key: MinIO's built-in single-node KMS (``MINIO_KMS_SECRET_KEY``).

One key per stack, generated on first start and kept in the stack folder, readable by its owner only. MinIO
derives a data key per object from it, so the media buckets are encrypted at rest with a key that exists nowhere
else: losing the file loses every encrypted object, and a copy of the stack's data folder without it is noise.
"""

from __future__ import annotations

import base64
import binascii
import os
import re
import secrets
from pathlib import Path

from devstack.errors import StackError

#: The key's name: what bucket SSE-KMS rules refer to and what objects report as their KMS key id.
KEY_NAME = "anomaly-stack-key"
KEY_BYTES = 32
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


def new_key(name: str = KEY_NAME) -> str:
    """``<name>:<base64 of 32 random bytes>``, the form MINIO_KMS_SECRET_KEY takes."""
    return f"{name}:{base64.b64encode(secrets.token_bytes(KEY_BYTES)).decode()}"


def parse_key(text: str) -> tuple[str, bytes]:
    """The key's name and its bytes; ValueError saying what is wrong with ``text``."""
    name, sep, encoded = text.strip().partition(":")
    if not sep or not _NAME.fullmatch(name):
        raise ValueError("not '<name>:<base64 key>'")
    try:
        raw = base64.b64decode(encoded, validate=True)
    except binascii.Error as exc:
        raise ValueError("the key part is not base64") from exc
    if len(raw) != KEY_BYTES:
        raise ValueError(f"the key is {len(raw)} bytes, not {KEY_BYTES}")
    return name, raw


def ensure_key(path: Path) -> str:
    """The stack's key, generated (mode 0600, never overwritten) when ``path`` does not exist yet."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return read_key(path)
    with os.fdopen(fd, "w") as fh:
        fh.write(new_key() + "\n")
    return read_key(path)


def read_key(path: Path) -> str:
    try:
        text = path.read_text().strip()
        mode = path.stat().st_mode & 0o777
    except OSError as exc:
        raise StackError(f"cannot read the MinIO KMS key {path}: {exc}", "check the stack folder's owner") from exc
    try:
        parse_key(text)
    except ValueError as exc:
        raise StackError(
            f"the MinIO KMS key {path} is unusable ({exc})",
            "restore it from a backup: objects written with it cannot be read without it",
        ) from exc
    if mode & 0o077:
        raise StackError(f"the MinIO KMS key {path} is readable by others (mode {mode:o})", f"chmod 600 {path}")
    return text
