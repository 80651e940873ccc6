#!/usr/bin/env bash
# Builds the `tool` binaries of e2e/go.mod (kube-apiserver, kubectl, etcd) and,
# with OPERATORS=1, of every sibling module e2e/*/go.mod into
# target/e2e/cache/<module>-<key>/, where
# <key> is the sha256 of that module's go.mod and go.sum: a second run with
# the same files only relinks target/e2e/bin/<name> to the cached binaries.
# Go's own caches stay where `go env` puts them (GOCACHE, GOMODCACHE), so
# worktrees and other Go builds share them. See docs/e2e.md.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out=${E2E_DIR:-$root/target/e2e}
mkdir -p "$out/cache" "$out/bin"

command -v go >/dev/null || { echo "e2e/build.sh: no 'go' on PATH (Go >= 1.26 is needed, see docs/e2e.md)" >&2; exit 3; }

# The version stamps Kubernetes' own build (hack/lib/version.sh) writes, so
# /version and `kubectl version` tell the release, not v0.0.0-master.
k8s_ldflags() {
  local v=$1 major minor
  major=${v#v}; major=${major%%.*}
  minor=${v#v*.}; minor=${minor%%.*}
  local flags="-s -w" pkg
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    flags+=" -X $pkg.gitVersion=$v -X $pkg.gitMajor=$major -X $pkg.gitMinor=$minor"
    flags+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z"
  done
  echo "$flags"
}

build_module() {
  local dir=$1 key cache ldflags="-s -w" k8s
  key=$(cat "$dir/go.mod" "$dir/go.sum" | sha256sum | cut -c1-16)
  cache="$out/cache/$(basename "$dir")-$key"
  if [ ! -f "$cache/.done" ]; then
    k8s=$(cd "$dir" && go list -m -f '{{.Version}}' k8s.io/kubernetes 2>/dev/null || true)
    [ -z "$k8s" ] || ldflags=$(k8s_ldflags "$k8s")
    echo "e2e/build.sh: building the tools of $dir (cold: tens of minutes, see docs/e2e.md)" >&2
    rm -rf "$cache.tmp" && mkdir -p "$cache.tmp"
    local start=$SECONDS
    (cd "$dir" && go build -trimpath -ldflags "$ldflags" -o "$cache.tmp/" tool)
    # Go names a binary after its package path without the major version:
    # etcd's main package (go.etcd.io/etcd/server/v3) would be "server".
    [ ! -f "$cache.tmp/server" ] || mv "$cache.tmp/server" "$cache.tmp/etcd"
    echo "e2e/build.sh: built $dir in $((SECONDS - start)) s" >&2
    rm -rf "$cache" && mv "$cache.tmp" "$cache" && touch "$cache/.done"
  fi
  local bin
  for bin in "$cache"/*; do
    ln -sfn "$bin" "$out/bin/$(basename "$bin")"
  done
}

build_module "$root/e2e"
# Sibling modules with `tool` directives (the operators, e2e/kueue and
# e2e/kuberay) only with OPERATORS=1; e2e/assets holds only data.
[ "${OPERATORS:-}" = 1 ] || exit 0
for mod in "$root"/e2e/*/go.mod; do
  if [ -f "$mod" ] && grep -q '^tool' "$mod"; then build_module "$(dirname "$mod")"; fi
done
