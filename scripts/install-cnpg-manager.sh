#!/usr/bin/env bash
# Builds CloudNativePG's own instance manager (`manager`, the real CNPG-I client of the plugin tests) from the
# Go module proxy, as an ordinary dependency of a throwaway module (nothing of it is committed).
#
# Why not `go install github.com/cloudnative-pg/cloudnative-pg/cmd/manager@v1.30.0`: go install first reads
# the module's version list (@v/list) to report deprecations, and the proxy this machine reaches answers 403
# for version lists ("This module version is not available"), while it serves every pinned version. `go get
# <pkg>@<version>` + `go build <pkg>` in a module of our own only asks for pinned versions.
#
#   scripts/install-cnpg-manager.sh [DEST_DIR]   (CNPG_VERSION overrides v1.30.0)
# The default DEST_DIR is a cache outside the checkout, ${XDG_CACHE_HOME:-~/.cache}/pgstow/cnpg-manager-<version>,
# so a fresh clone on the same machine (CI) reuses the binary instead of building it again (~10 minutes).
# Idempotent: an existing binary of the same version is kept. Needs Go >= 1.26.4 (CloudNativePG's go.mod).
set -euo pipefail
VERSION="${CNPG_VERSION:-v1.30.0}"
DEST="${1:-${XDG_CACHE_HOME:-$HOME/.cache}/pgstow/cnpg-manager-$VERSION}"
STAMP="$DEST/manager.version"
if [[ -x "$DEST/manager" && -f "$STAMP" && "$(cat "$STAMP")" == "$VERSION" ]]; then
  echo "CloudNativePG manager $VERSION already in $DEST"
  exit 0
fi
if ! command -v go >/dev/null; then
  echo "install-cnpg-manager: Go is not installed (CloudNativePG $VERSION needs Go >= 1.26.4)" >&2
  exit 1
fi
WORK="$(mktemp -d "${TMPDIR:-/tmp}/pgstow-cnpg-manager.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT
mkdir -p "$DEST"
export CGO_ENABLED=0 GOFLAGS="-buildvcs=false" GOTOOLCHAIN="${GOTOOLCHAIN:-local}"
cd "$WORK"
go mod init pgstow.test/cnpg-manager >/dev/null 2>&1
echo "building CloudNativePG manager $VERSION with $(go version) (several minutes on 2 cores)"
go get "github.com/cloudnative-pg/cloudnative-pg/cmd/manager@$VERSION"
nice go build -o "$DEST/manager" github.com/cloudnative-pg/cloudnative-pg/cmd/manager
echo "$VERSION" > "$STAMP"
"$DEST/manager" --help >/dev/null
echo "CloudNativePG manager $VERSION installed in $DEST"
