#!/usr/bin/env bash
# Prepares a filesystem mirror of the hashicorp/aws provider plus a CLI config that uses only it.
#
#   infra/terraform/scripts/provider-mirror.sh            # link an existing mirror or build, then print the config path
#   infra/terraform/scripts/provider-mirror.sh --check    # exit 0 only when the mirror is ready (never downloads)
#   infra/terraform/scripts/provider-mirror.sh --build    # ignore existing mirrors, build from the Go module proxy
#   infra/terraform/scripts/provider-mirror.sh --no-build # link an existing mirror or fail (no 30-minute build)
#
# Order: the cache -> a mirror already on the machine (image, ~/.terraform.d, /usr/share) -> a source build.
# The public Terraform registry is not reachable from the build machines, so nothing is fetched from it.
set -euo pipefail

# Version looked for in existing mirrors (the machine image ships 5.100.0 under /opt/tf-plugins).
VERSION="${TF_AWS_PROVIDER_VERSION:-5.100.0}"
# v5/v6 release tags are not valid Go module versions (no /vN suffix), so the proxy serves commits as
# pseudo-versions only. This one is main at 2026-06-02 (commit 5f2286d6d836); its version/VERSION says
# 6.47.1, which becomes the mirror's version. Building it took 85 min on 2 cores (niced), ~1 GiB binary.
GO_REF="${TF_AWS_PROVIDER_GO_REF:-v1.60.1-0.20260602190131-5f2286d6d836}"
CACHE_DIR="${ANOMALY_CACHE_DIR:-$HOME/.cache/anomaly}"
MIRROR="$CACHE_DIR/terraform-providers"
CLI_CONFIG="$CACHE_DIR/terraform.rc"
PLATFORM="linux_amd64"
PROVIDER_DIR="registry.terraform.io/hashicorp/aws"
# Extra places to look, space-separated, searched first.
read -r -a EXTRA_DIRS <<<"${TF_PROVIDER_SEARCH_DIRS:-}"
SEARCH_DIRS=(
  "${EXTRA_DIRS[@]}"
  "$HOME/.terraform.d/plugins"
  "$HOME/.local/share/terraform/plugins"
  /usr/local/share/terraform/plugins
  /usr/share/terraform/plugins
  /opt/tf-plugins
)

log() { printf '[provider-mirror] %s\n' "$*" >&2; }

write_cli_config() {
  cat >"$CLI_CONFIG" <<RC
# Written by infra/terraform/scripts/provider-mirror.sh; point TF_CLI_CONFIG_FILE here.
provider_installation {
  filesystem_mirror {
    path    = "$MIRROR"
    include = ["registry.terraform.io/hashicorp/*"]
  }
}
RC
  log "CLI config: $CLI_CONFIG (export TF_CLI_CONFIG_FILE=$CLI_CONFIG)"
  echo "$CLI_CONFIG"
}

cached_binary() {
  compgen -G "$MIRROR/$PROVIDER_DIR/*/$PLATFORM/terraform-provider-aws_v*" | head -n1
}

link_existing() {
  local dir bin
  for dir in "${SEARCH_DIRS[@]}"; do
    bin="$(compgen -G "$dir/$PROVIDER_DIR/$VERSION/$PLATFORM/terraform-provider-aws_v${VERSION}*" | head -n1 || true)"
    [[ -n "$bin" && -x "$bin" ]] || continue
    mkdir -p "$MIRROR/$PROVIDER_DIR/$VERSION/$PLATFORM"
    ln -sfn "$bin" "$MIRROR/$PROVIDER_DIR/$VERSION/$PLATFORM/terraform-provider-aws_v$VERSION"
    log "linked existing mirror $bin"
    return 0
  done
  return 1
}

build_from_source() {
  command -v go >/dev/null || { log "go toolchain not found"; return 1; }
  local src work version start
  log "downloading github.com/hashicorp/terraform-provider-aws@$GO_REF from the Go module proxy"
  src="$(go mod download -json "github.com/hashicorp/terraform-provider-aws@$GO_REF" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')"
  [[ -d "$src" ]] || { log "module download failed"; return 1; }
  version="$(tr -d '[:space:]v' <"$src/version/VERSION" 2>/dev/null || echo "$VERSION")"
  work="$(mktemp -d)"
  cp -r "$src/." "$work/" && chmod -R u+w "$work"
  log "building provider $version ($GO_REF) - over an hour on 2 cores, up to ~3 GiB per compile job"
  start=$(date +%s)
  (cd "$work" && CGO_ENABLED=0 GOFLAGS=-mod=mod go build -p "${BUILD_JOBS:-2}" -trimpath \
    -ldflags "-s -w -X github.com/hashicorp/terraform-provider-aws/version.ProviderVersion=$version" \
    -o "$work/terraform-provider-aws" .)
  mkdir -p "$MIRROR/$PROVIDER_DIR/$version/$PLATFORM"
  install -m 0755 "$work/terraform-provider-aws" "$MIRROR/$PROVIDER_DIR/$version/$PLATFORM/terraform-provider-aws_v$version"
  rm -rf "$work"
  log "built provider $version in $(( $(date +%s) - start ))s"
}

mode="${1:-}"
if [[ "$mode" == "--check" ]]; then
  bin="$(cached_binary || true)"
  [[ -n "$bin" && -x "$bin" ]] || { log "no provider in $MIRROR"; exit 1; }
  write_cli_config >/dev/null
  log "ready: $bin"
  exit 0
fi

mkdir -p "$MIRROR"
if [[ "$mode" != "--build" && -n "$(cached_binary || true)" ]]; then
  log "cached: $(cached_binary)"
elif [[ "$mode" != "--build" ]] && link_existing; then
  :
elif [[ "$mode" == "--no-build" ]]; then
  log "no provider mirror found in: ${SEARCH_DIRS[*]} (run without --no-build to build one)"
  exit 1
else
  build_from_source
fi
write_cli_config
