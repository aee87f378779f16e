#!/usr/bin/env bash
# Runs checkov from its own virtualenv (installed once into the per-user cache).
#
#   infra/terraform/scripts/checkov.sh --install-only   # install if absent, run nothing
#   infra/terraform/scripts/checkov.sh --check          # exit 0 only when installed (never downloads)
#   infra/terraform/scripts/checkov.sh [checkov args]   # scans infra/terraform with .checkov.yaml unless -d/-f is given
set -euo pipefail

CHECKOV_VERSION="${CHECKOV_VERSION:-3.3.30}"
CACHE_DIR="${ANOMALY_CACHE_DIR:-$HOME/.cache/anomaly}"
VENV="$CACHE_DIR/tools/checkov"
BIN="$VENV/bin/checkov"
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

log() { printf '[checkov] %s\n' "$*" >&2; }

installed() {
  [[ -x "$BIN" ]] || return 1
  [[ "$("$VENV/bin/python" -c 'import importlib.metadata as m; print(m.version("checkov"))' 2>/dev/null)" == "$CHECKOV_VERSION" ]]
}

case "${1:-}" in
  --check)
    installed && { log "ready: $BIN"; exit 0; }
    log "checkov $CHECKOV_VERSION not installed in $VENV"; exit 1 ;;
esac

if ! installed; then
  log "installing checkov==$CHECKOV_VERSION into $VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/python" -m pip install --quiet --upgrade pip
  "$VENV/bin/python" -m pip install --quiet "checkov==$CHECKOV_VERSION"
fi
[[ "${1:-}" == "--install-only" ]] && { log "installed: $("$BIN" --version)"; exit 0; }

# Scan this module with its config unless the caller names a directory or file.
if [[ " $* " != *" -d "* && " $* " != *" --directory "* && " $* " != *" -f "* && " $* " != *" --file "* ]]; then
  set -- --directory "$HERE" --config-file "$HERE/.checkov.yaml" "$@"
fi
log "$BIN $*"
exec "$BIN" "$@"
