"""Unpacks one Kubernetes release's JSON schemas from the kubernetes-validate wheel for kubeconform.

The wheel's strict schemas refer to ``/api/_definitions.json`` under an ``https://kubernetes.io/...`` ``$id``,
which only kubernetes-validate's own resolver knows. Without the ``$id`` and with a relative reference, any
JSON-schema loader resolves the definitions next to the file, so kubeconform reads them offline.

    python k8s_schemas.py kubernetes_validate-1.37.0-py3-none-any.whl 1.33.0 OUT_DIR
"""

from __future__ import annotations

import json
import sys
import zipfile
from pathlib import Path

_PREFIX = "kubernetes_validate/kubernetes-json-schema/v{version}-local-strict/"
_SHARED_REF = '"/api/_definitions.json#'


def unpack(wheel: Path, version: str, out: Path) -> int:
    """Writes ``<kind>-<group>-<version>.json`` files (kubeconform's naming) into ``out``; returns their count."""
    prefix = _PREFIX.format(version=version)
    out.mkdir(parents=True, exist_ok=True)
    count = 0
    with zipfile.ZipFile(wheel) as archive:
        for name in archive.namelist():
            if not name.startswith(prefix) or not name.endswith(".json"):
                continue
            text = archive.read(name).decode().replace(_SHARED_REF, '"_definitions.json#')
            schema = json.loads(text)
            schema.pop("$id", None)
            (out / name.removeprefix(prefix)).write_text(json.dumps(schema))
            count += 1
    if count == 0:
        raise SystemExit(f"{wheel.name} has no schemas for Kubernetes {version}")
    return count


if __name__ == "__main__":
    if len(sys.argv) != 4:
        raise SystemExit(__doc__)
    written = unpack(Path(sys.argv[1]), sys.argv[2], Path(sys.argv[3]))
    print(f"{written} schemas for Kubernetes {sys.argv[2]} in {sys.argv[3]}", file=sys.stderr)
