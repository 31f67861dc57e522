#!/usr/bin/env bash
# Builds test/crd-validator (the Kubernetes API server's CRD and CEL validation, as a command) into
# .cache/bin/crd-validator. Needs Go and the Go module proxy; idempotent (go build caches).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
out="${CRD_VALIDATOR_OUT:-$root/.cache/bin/crd-validator}"
mkdir -p "$(dirname "$out")"
cd "$root/test/crd-validator"
go build -trimpath -o "$out" .
echo "built $out"
