#!/usr/bin/env bash
# Debian packages the project needs beyond the base image: PostgreSQL server binaries, espeak-ng
# (sample speech), Chromium (browser tests), Mosquitto (the MQTT broker of the stack). Installs only what is missing.
set -euo pipefail
# Two setups at once (`make run` and `make test` side by side) must not run apt at the same time.
LOCK_DIR=${ANOMALY_CACHE_DIR:-$HOME/.cache/anomaly}
mkdir -p "$LOCK_DIR"
exec 9>"$LOCK_DIR/.bootstrap-system.lock"
flock 9
need=()
[ -x /usr/lib/postgresql/15/bin/postgres ] || ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 || need+=(postgresql)
command -v espeak-ng >/dev/null || need+=(espeak-ng)
command -v chromium >/dev/null || need+=(chromium)
command -v java >/dev/null || need+=(openjdk-17-jre-headless)
command -v mvn >/dev/null || need+=(maven)
command -v go >/dev/null || need+=(golang-go)
[ -x /usr/sbin/mosquitto ] || command -v mosquitto >/dev/null || need+=(mosquitto)
if [ ${#need[@]} -gt 0 ]; then
  echo "==> installing Debian packages: ${need[*]}"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}"
fi
