#!/usr/bin/env bash
# Builds the Go helpers of the manifest tests into .cache/bin (modules from the Go module proxy; go build caches,
# so a second run takes seconds): crd-validator (the Kubernetes API server's CRD, schema and CEL validation)
# and manifest-render (kustomize and helm template, with the libraries kubectl and helm use).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
command -v go >/dev/null 2>&1 || export PATH="/usr/local/go/bin:$PATH"
command -v go >/dev/null 2>&1 || { echo "build-go-tools: go not found" >&2; exit 1; }
mkdir -p "$root/.cache/bin"
for tool in crd-validator manifest-render; do
  t0=$SECONDS
  (cd "$root/test/$tool" && go build -trimpath -o "$root/.cache/bin/$tool" .)
  echo "built .cache/bin/$tool ($((SECONDS - t0)) s)"
done
