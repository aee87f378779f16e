#!/usr/bin/env bash
# Builds the Docker Compose v2 CLI from the Go module proxy into a per-user cache, once.
# Only `docker compose config` is needed here (no engine), so the standalone binary is enough.
# Usage: infra/compose/scripts/compose-cli.sh [--print-path]
set -euo pipefail

COMPOSE_VERSION="${COMPOSE_VERSION:-v2.40.3}"
CACHE_DIR="${ANOMALY_CACHE_DIR:-$HOME/.cache/anomaly}"
BIN_DIR="$CACHE_DIR/bin"
TARGET="$BIN_DIR/docker-compose"
STAMP="$BIN_DIR/.docker-compose.version"

log() { printf '[compose-cli] %s\n' "$*" >&2; }

if [[ "${1:-}" == "--print-path" ]]; then
  [[ -x "$TARGET" ]] && echo "$TARGET" && exit 0
  exit 1
fi

if [[ -x "$TARGET" && -f "$STAMP" && "$(cat "$STAMP")" == "$COMPOSE_VERSION" ]]; then
  log "cached: $TARGET ($("$TARGET" version --short 2>/dev/null || echo "$COMPOSE_VERSION"))"
  exit 0
fi

command -v go >/dev/null || { log "go toolchain not found"; exit 1; }
mkdir -p "$BIN_DIR"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# go.mod carries exclude directives, so `go install pkg@version` refuses it: build inside the module instead.
log "downloading github.com/docker/compose/v2@$COMPOSE_VERSION from the Go module proxy"
src="$(go mod download -json "github.com/docker/compose/v2@$COMPOSE_VERSION" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')"
[[ -d "$src" ]] || { log "module download failed"; exit 1; }
mkdir -p "$work/src" && cp -r "$src/." "$work/src/"
chmod -R u+w "$work/src"
log "building docker-compose $COMPOSE_VERSION (a few minutes on 2 cores)"
start=$(date +%s)
(cd "$work/src" && CGO_ENABLED=0 GOFLAGS=-mod=mod go build -trimpath \
  -ldflags "-w -s -X github.com/docker/compose/v2/internal.Version=$COMPOSE_VERSION" \
  -o "$work/cmd" ./cmd)
install -m 0755 "$work/cmd" "$TARGET"
echo "$COMPOSE_VERSION" >"$STAMP"
log "built $TARGET in $(( $(date +%s) - start ))s: $("$TARGET" version --short)"
