#!/usr/bin/env bash
# Builds WAL-G (PostgreSQL flavour) from its published Go module, for the benchmarks' peer rows.
# Usage: scripts/install-wal-g.sh DIR   → DIR/bin/wal-g (module and build caches under DIR too)
#
# Which version: the newest WAL-G the Go module proxy serves. WAL-G's own releases are tagged v3.x while its
# go.mod still says `module github.com/wal-g/wal-g` (no /v3), so Go cannot use those tags; the proxy only serves
# the module's valid semver tags, the newest being v1.1.3-rc-with-build (2021-12), and refuses the pseudo-
# versions of later commits ("403 This module version is not available"). `go install pkg@version` also fails
# here because it asks the proxy for the module's version list (refused), so the script downloads the module
# with `go mod download` and runs `go build` in it: the published module with its own go.sum, nothing vendored.
# Default build tags (lz4, lzma, zstd via cgo; no brotli/lzo/libsodium).
set -euo pipefail
WALG_MODULE=github.com/wal-g/wal-g
WALG_VERSION=${WALG_VERSION:-v1.1.3-rc-with-build}
dir=$(realpath -m "${1:?usage: $0 DIR}")
mkdir -p "$dir/bin"

go=$(command -v go || true)
[ -n "$go" ] || { [ -x /usr/local/go/bin/go ] && go=/usr/local/go/bin/go; }
if [ -z "$go" ]; then
  echo "[wal-g] no Go toolchain: apt-get install golang-go" >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-upgrade golang-go >/dev/null
  go=$(command -v go)
fi

export GOMODCACHE="$dir/mod" GOCACHE="$dir/cache" GOFLAGS=-modcacherw GOTOOLCHAIN=local CGO_ENABLED=1 GOPATH="$dir/gopath"
echo "[wal-g] $("$go" version); go mod download $WALG_MODULE@$WALG_VERSION" >&2
src=$("$go" mod download -json "$WALG_MODULE@$WALG_VERSION" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p')
[ -d "$src" ] || { echo "[wal-g] go mod download gave no source directory" >&2; exit 1; }
echo "[wal-g] go build ./main/pg (several minutes on 2 cores)" >&2
(cd "$src" && "$go" build -trimpath -ldflags "-X github.com/wal-g/wal-g/cmd/pg.walgVersion=$WALG_VERSION" -o "$dir/bin/wal-g.tmp" ./main/pg)
mv "$dir/bin/wal-g.tmp" "$dir/bin/wal-g"
# The build cache is only needed to rebuild; drop it (hundreds of MB).
rm -rf "$dir/cache"
"$dir/bin/wal-g" --version >&2
